"""Profiles taken during a run with `--profile`: pyinstrument for work in this process,
py-spy (when installed) for the server and worker processes. Text reports land in a folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path


def pyinstrument(path: Path, work: Callable[[], object]) -> None:
    """Run `work` under pyinstrument and write its text report to `path`."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    try:
        work()
    finally:
        profiler.stop()
    path.write_text(profiler.output_text(unicode=True, color=False, show_all=False))


def py_spy_binary() -> str | None:
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def py_spy_start(pid: int, path: Path) -> subprocess.Popen | None:
    """Start sampling every thread of process `pid` into `path` (collapsed stacks); stop
    the sampler with `py_spy_stop`. Return None when py-spy is not installed."""
    binary = py_spy_binary()
    if binary is None:
        return None
    command = [binary, "record", "--pid", str(pid), "--format", "raw", "--output", str(path)]
    return subprocess.Popen(
        [*command, "--rate", "200", "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def py_spy_stop(sampler: subprocess.Popen | None) -> None:
    if sampler is None:
        return
    sampler.send_signal(2)  # SIGINT: py-spy writes its output and exits
    try:
        sampler.wait(30)
    except subprocess.TimeoutExpired:
        sampler.kill()


def summarize_collapsed(path: Path, top: int = 25, groups: dict[str, str] | None = None) -> str:
    """Return the functions that were on the stack most often in a collapsed-stack file
    (inclusive), and those most often at its top (self time), with their shares.

    `groups` maps a label to a piece of text: the share of samples whose stack contains it.
    """
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    grouped: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [frame.split(" (")[0] + _where(frame) for frame in stack.split(";")]
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
        for label, text in (groups or {}).items():
            grouped[label] += samples if text in stack else 0
    total = max(total, 1)
    lines = [f"{total} samples", ""]
    if groups:
        lines += ["by activity (share of the samples whose stack holds it):"]
        lines += [f"  {n / total:6.1%}  {label}" for label, n in grouped.most_common()]
        lines += [""]
    lines += ["on the stack (inclusive):"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "at the top of the stack (self):"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines) + "\n"


def py_spy(folder: Path, name: str, pid: int, work: Callable[[], object], **summary) -> None:
    """Sample process `pid` with py-spy while `work` runs; write `name.txt` (a summary, see
    `summarize_collapsed`) and `name.collapsed` into `folder`. Without py-spy, just run it."""
    raw = folder / f"{name}.collapsed"
    sampler = py_spy_start(pid, raw)
    time.sleep(0.5)  # py-spy attaches before the work starts
    try:
        work()
    finally:
        py_spy_stop(sampler)
    if raw.exists():
        (folder / f"{name}.txt").write_text(summarize_collapsed(raw, **summary))


def _where(frame: str) -> str:
    """Return ' (module file)' from a py-spy frame 'function (path/file.py:line)'."""
    if " (" not in frame:
        return ""
    location = frame.split(" (", 1)[1].rstrip(")")
    parts = location.rsplit(":", 1)[0].split("/")
    return f" ({'/'.join(parts[-2:])})"
