"""Save one big file through BitstoreStorage in this process and report its memory growth.

Run by test_storage.py as `python -m tests.app.storage_probe SPEC` (SPEC is JSON: `tier`
fields and `path`), on a database of its own. It prints one JSON line: the resident set
before the save, the peak during it, and the name the storage answered.
"""

import gc
import json
import sys
import time

import django

from tests.web.serve_probe import reset_peak, status_kib


def main(spec):
    django.setup()
    from django.core.files import File
    from django.core.management import call_command

    from bitstore_app.models import Tier
    from bitstore_app.storage import BitstoreStorage

    call_command("migrate", verbosity=0)
    Tier.objects.create(**spec["tier"])
    storage = BitstoreStorage()
    storage.exists("0" * 40)  # builds the tiers before the measurement starts
    gc.collect()
    peak_reset = reset_peak()
    before = status_kib("VmRSS")
    started = time.perf_counter()
    with open(spec["path"], "rb") as handle:
        name = storage.save("big.bin", File(handle, "big.bin"))
    seconds = time.perf_counter() - started
    report = {
        "name": name,
        "size": storage.size(name),
        "rss_before_kib": before,
        "peak_kib": status_kib("VmHWM"),
        "peak_reset": peak_reset,
        "seconds": round(seconds, 2),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
