"""Run the benchmark: `python -m bench [--quick] [--cases 1,2,3] [--profile DIR]`.

It starts moto's S3 server and the GCS emulator on loopback, loads the data, runs each case,
prints a table (median, min, max and ratios) and writes `bench/results.json`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from pathlib import Path

from .cases import CASES
from .context import FULL, QUICK, Bench, Unavailable
from .data import S3_BUCKET, make_buckets
from .report import RESULTS, CaseResult, markdown, save, table_lines
from .servers import emulators, nginx_available, nginx_s3


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    parser.add_argument("--cases", default=",".join(map(str, CASES)), help="e.g. 1,3")
    parser.add_argument("--profile", type=Path, help="write profiles into this folder")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the JSON results file")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown table here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    numbers = [int(n) for n in options.cases.split(",") if n.strip()]
    if options.profile:
        options.profile.mkdir(parents=True, exist_ok=True)
    results: list[CaseResult] = []
    failed = False
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bitstore-bench-")))
        servers = stack.enter_context(emulators())
        make_buckets()
        sizes = QUICK if options.quick else FULL
        bench = Bench(sizes, servers, folder, options.profile)
        if nginx_available():
            bench.files = folder / "nginx-root"
            bench.nginx = stack.enter_context(nginx_s3(bench.files, S3_BUCKET))
        for number in numbers:
            module = CASES[number]
            started = time.perf_counter()
            print(f"case {number}: {module.TITLE} ...", flush=True)
            try:
                results.append(module.run(bench))
            except Unavailable as exc:
                results.append(CaseResult(number, module.TITLE, available=False, notes=[str(exc)]))
            except Exception:
                failed = True
                traceback.print_exc()
                results.append(CaseResult(number, module.TITLE, available=False, notes=["failed"]))
            print(f"case {number}: done in {time.perf_counter() - started:.1f} s", flush=True)
        stop_ledger()
    document = save(results, options.quick, options.output)
    print("\n".join(table_lines(results)))
    if options.markdown:
        options.markdown.write_text(markdown(results, document))
    print(f"results written to {options.output}")
    return 1 if failed else 0


def stop_ledger() -> None:
    """Write the ledger and stop its thread while the benchmark's database still exists."""
    ledger = sys.modules.get("bitstore_app.ledger")
    if ledger is not None:
        ledger.buffer.close()


if __name__ == "__main__":
    sys.exit(main())
