"""The benchmark's results: a table on the terminal, `bench/results.json`, and the Markdown
table for the README's performance section."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .timing import Stats, ratio

RESULTS = Path(__file__).resolve().parent / "results.json"


@dataclass
class Row:
    """One measured quantity; `ratio` compares its median to the row named `baseline`."""

    label: str
    stats: Stats
    baseline: str | None = None
    ratio: float | None = None


@dataclass
class Target:
    """A target of the issue, the value measured for it, and whether it was met."""

    text: str
    value: float | None
    met: bool | None
    note: str = ""


@dataclass
class CaseResult:
    number: int
    title: str
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    available: bool = True

    def add(self, label: str, stats: Stats, baseline: Row | None = None) -> Row:
        """Add a row, compared with `baseline` when given (see `timing.ratio`)."""
        row = Row(label, stats)
        if baseline is not None:
            row.baseline = baseline.label
            row.ratio = ratio(stats, baseline.stats)
        self.rows.append(row)
        return row

    def target(self, text: str, value: float | None, met: bool | None, note: str = "") -> None:
        self.targets.append(Target(text, value, met, note))


def machine() -> dict:
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "arch": platform.machine(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def _cpu_model() -> str:
    """The processor's name (runs on different machines differ by their CPU most)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor()


def _verdict(target: Target) -> str:
    if target.met is None:
        return "reported"
    return "met" if target.met else "NOT met"


def _number(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def table_lines(results: list[CaseResult]) -> list[str]:
    """Return the plain-text table printed at the end of a run."""
    width = max([len(row.label) for case in results for row in case.rows] + [20]) + 2
    lines = [
        f"{'case':<5}{'measurement':<{width}}{'median':>10}{'min':>10}{'max':>10}  unit    ratio"
    ]
    for case in results:
        lines.append(f"{case.number:<5}{case.title}")
        if not case.available:
            lines.append(f"{'':<5}not available yet: {'; '.join(case.notes)}")
            continue
        for row in case.rows:
            s = row.stats
            ratio = f"{row.ratio:.3f}x {row.baseline}" if row.ratio is not None else ""
            lines.append(
                f"{'':<5}{row.label:<{width}}{_number(s.median):>10}{_number(s.min):>10}"
                f"{_number(s.max):>10}  {s.unit:<7} {ratio}"
            )
        for target in case.targets:
            value = "" if target.value is None else f" (measured {target.value:.3f})"
            note = f": {target.note}" if target.note else ""
            lines.append(f"{'':<5}target {target.text}{value}: {_verdict(target)}{note}")
        lines += [f"{'':<5}note: {note}" for note in case.notes]
    return lines


def markdown(results: list[CaseResult], meta: dict) -> str:
    """Return the Markdown table (and targets) for the README's performance section."""
    m = meta["machine"]
    lines = [
        f"Measured {meta['date']} on {m['nproc']} cores"
        f"{' (' + m['cpu'] + ')' if m.get('cpu') else ''}, {m['arch']}, Python {m['python']}"
        f" ({m['system']}){' — quick run' if meta['quick'] else ''}.",
        "",
        "| case | measurement | median | min | max | unit | ratio |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for case in results:
        if not case.available:
            lines.append(f"| {case.number} | {case.title}: not available yet | | | | | |")
            continue
        for row in case.rows:
            s = row.stats
            ratio = f"{row.ratio:.3f}x {row.baseline}" if row.ratio is not None else ""
            lines.append(
                f"| {case.number} | {row.label} | {_number(s.median)} | {_number(s.min)}"
                f" | {_number(s.max)} | {s.unit} | {ratio} |"
            )
    lines += ["", "| case | target | measured | verdict |", "| --- | --- | ---: | --- |"]
    for case in results:
        for target in case.targets:
            value = "" if target.value is None else f"{target.value:.3f}"
            note = f" ({target.note})" if target.note else ""
            lines.append(f"| {case.number} | {target.text} | {value} | {_verdict(target)}{note} |")
    notes = [f"- case {case.number}: {note}" for case in results for note in case.notes]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def save(results: list[CaseResult], quick: bool, path: Path = RESULTS) -> dict:
    """Write the results as JSON and return what was written."""
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "quick": quick,
        "argv": sys.argv[1:],
    }
    document = {**meta, "cases": [asdict(case) for case in results]}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return document


def load(path: Path = RESULTS) -> tuple[list[CaseResult], dict]:
    """Return the results a run saved (`save`), and its date and machine."""
    document = json.loads(path.read_text())
    results = []
    for case in document.pop("cases"):
        rows = [Row(**(row | {"stats": Stats(**row["stats"])})) for row in case.pop("rows")]
        targets = [Target(**target) for target in case.pop("targets")]
        results.append(CaseResult(**case, rows=rows, targets=targets))
    return results, document


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description="Print a results file as README's Markdown."
    )
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS)
    source = parser.parse_args().results
    if not source.is_file():
        parser.error(f"no results file at {source}")
    print(markdown(*load(source)), end="")
