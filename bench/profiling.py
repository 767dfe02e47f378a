"""Profiles taken during a run with `--profile`: pyinstrument for work in this process,
py-spy (when installed) for the server and worker processes. Text reports land in a folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
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


def summarize_collapsed(path: Path, top: int = 25) -> str:
    """Return the functions that were on the stack most often in a collapsed-stack file
    (inclusive), and those most often at its top (self time), with their shares."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
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
    lines = [f"{total} samples", "", "on the stack (inclusive):"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "at the top of the stack (self):"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines) + "\n"


def _where(frame: str) -> str:
    """Return ' (module file)' from a py-spy frame 'function (path/file.py:line)'."""
    if " (" not in frame:
        return ""
    location = frame.split(" (", 1)[1].rstrip(")")
    parts = location.rsplit(":", 1)[0].split("/")
    return f" ({'/'.join(parts[-2:])})"
