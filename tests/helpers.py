"""Small helpers shared by the test suite: ports, external services, and polling."""

import os
import socket
import time

import pytest


def free_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(host, port, timeout=10.0):
    """Wait until `host:port` accepts a TCP connection; raise TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{host}:{port} did not accept connections") from exc
            time.sleep(0.05)


def require_service(name, check):
    """Skip the test (or fail it, with BITSTORE_REQUIRE_SERVICES=1) unless `check()` works.

    `check` is a callable that raises, or returns False, when the service is unreachable.
    """
    try:
        ok = check() is not False
        reason = "" if ok else "check returned False"
    except Exception as exc:  # any failure to reach the service counts as unreachable
        ok, reason = False, f"{type(exc).__name__}: {exc}"
    if ok:
        return
    message = f"{name} is not reachable ({reason})"
    if os.environ.get("BITSTORE_REQUIRE_SERVICES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def wait_until(condition, timeout=10.0, message="timed out"):
    """Wait for `condition()` to be true, polling every 20 ms; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.02)
