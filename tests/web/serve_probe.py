"""Serve one blob through the blob endpoint in this process and report its memory growth.

Run by test_streaming_memory.py as `python -m tests.web.serve_probe SPEC` (SPEC is JSON:
`tier` fields, `sha1`, `size`), on a database of its own. It prints one JSON line: the
resident set before the download, the peak during it, the bytes received and their SHA1.
"""

import gc
import hashlib
import json
import sys
import time

import django


def status_kib(field):
    """Return a field of /proc/self/status (VmRSS, VmHWM) in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def reset_peak():
    """Make VmHWM start again from the current resident set; return whether the kernel let us.

    Without it, the peak would include the setup (migrations), which can only overstate the
    growth, never hide it.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def main(spec):
    django.setup()
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from bitstore_app.models import Tier

    call_command("migrate", verbosity=0)
    Tier.objects.create(**spec["tier"])
    user = User.objects.create(username="probe")
    user.user_permissions.add(Permission.objects.get(codename="view_blob"))
    client = Client()
    client.force_login(user)
    url = reverse("bitstore:blob", args=[spec["sha1"]])

    # Warm up: every import, client and connection the download will use.
    first = client.get(url, headers={"Range": "bytes=0-1023"})
    assert first.status_code == 206, first.status_code
    b"".join(first.streaming_content)

    gc.collect()
    before = status_kib("VmRSS")
    peak_was_reset = reset_peak()
    started = time.monotonic()
    response = client.get(url)
    digest, received = hashlib.sha1(), 0
    for chunk in response.streaming_content:
        digest.update(chunk)
        received += len(chunk)
    seconds = time.monotonic() - started
    report = {
        "status": response.status_code,
        "content_length": int(response["Content-Length"]),
        "received": received,
        "sha1": digest.hexdigest(),
        "rss_before_kib": before,
        "peak_kib": status_kib("VmHWM"),
        "peak_was_reset": peak_was_reset,
        "seconds": round(seconds, 2),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
