"""`make run`: one command that brings up a working bitstore on this machine.

It migrates the database, creates demo tiers and an admin user on first run, then runs the
web server, one Celery worker and the demo API in the foreground until Ctrl-C. A process
that dies is started again (one that keeps dying is left down, with a message); the others
keep running. With no
CELERY_BROKER_URL and DATABASE_URL it needs no server at all (SQLite and a filesystem broker);
with them set, the same command runs on PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import django
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = os.environ.get("BITSTORE_HOST", "127.0.0.1")
WEB_PORT = int(os.environ.get("BITSTORE_WEB_PORT", "8000"))
API_PORT = int(os.environ.get("BITSTORE_DEMO_API_PORT", "8765"))


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def create_demo_tiers() -> bool:
    """Create demo tiers that need no cloud account, unless tiers exist; return if created."""
    from bitstore_app.core import sha1_of
    from bitstore_app.models import Tier

    if Tier.objects.exists():
        return False
    demo = settings.VAR_DIR / "demo"
    cache, source = demo / "cache", demo / "source"
    for folder in (cache, source):
        folder.mkdir(parents=True, exist_ok=True)
    for n in range(10):
        data = f"bitstore demo file {n}\n".encode()
        (source / sha1_of(data)).write_bytes(data)
    Tier.objects.create(
        name="local-cache", kind="filesystem", location=str(cache), role="cache", position=0
    )
    Tier.objects.create(name="local-files", kind="filesystem", location=str(source), position=1)
    Tier.objects.create(
        name="demo-api",
        kind="http_api",
        location=f"http://127.0.0.1:{API_PORT}/blobs",
        position=2,
        write_back=True,
        verify=True,
    )
    return True


def ensure_admin() -> tuple[str, str]:
    """Return the admin login, creating the user on first run."""
    from django.contrib.auth import get_user_model

    login_file = settings.VAR_DIR / "admin-login.txt"
    username = os.environ.get("BITSTORE_ADMIN_USER", "admin")
    password = os.environ.get("BITSTORE_ADMIN_PASSWORD")
    users = get_user_model()
    user = users.objects.filter(username=username).first()
    if user is None:
        password = password or secrets.token_urlsafe(12)
        users.objects.create_superuser(username, f"{username}@localhost", password)
        login_file.write_text(f"{username}\n{password}\n")
        login_file.chmod(0o600)
    elif password:
        user.set_password(password)
        user.save()
    elif login_file.exists():
        password = login_file.read_text().split("\n")[1]
    return username, password or "(set on first run; see BITSTORE_ADMIN_PASSWORD)"


def sample_blob_url() -> str:
    """Return a signed URL that fetches the demo API's first blob without a session."""
    from bitstore_app.signed_urls import signed_blob_url
    from project.demo_api import BLOBS

    return f"http://{HOST}:{WEB_PORT}{signed_blob_url(next(iter(BLOBS)))}"


def warm_sample() -> list[str]:
    """Return demo API blobs for the tour's warming step: not the one the curl line fetches,
    so that the warm job has something to fetch."""
    from project.demo_api import BLOBS

    return list(BLOBS)[1:4]


def start(name: str, command: list[str]) -> subprocess.Popen:
    child = subprocess.Popen(command, cwd=BASE_DIR, start_new_session=True)
    print(f"started {name} (pid {child.pid}): {' '.join(command)}", flush=True)
    return child


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered on {HOST}:{port} within {timeout:g} s")


def stop(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for name, child in children.items():
        try:
            child.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it", flush=True)
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


#: A process that dies this many times within RESTART_WINDOW seconds is left down.
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0


def restart(name: str, child: subprocess.Popen, deaths: list[float]) -> bool:
    """Say that `name` died; return whether to start it again (the others keep running)."""
    now = time.monotonic()
    deaths[:] = [moment for moment in deaths if now - moment < RESTART_WINDOW] + [now]
    if len(deaths) > MAX_RESTARTS:
        print(
            f"{name} exited with code {child.returncode} {len(deaths)} times within "
            f"{RESTART_WINDOW:g} s; leaving it down (the other processes keep running)",
            flush=True,
        )
        return False
    print(f"{name} exited with code {child.returncode}; restarting it", flush=True)
    return True


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # the local demo; the project's default is off
    django.setup()
    migrate()
    created = create_demo_tiers()
    username, password = ensure_admin()
    from django.db import connections

    connections.close_all()
    python = sys.executable
    commands = {
        "demo API": [python, "-m", "project.demo_api", "--port", str(API_PORT)],
        "web": [python, "manage.py", "runserver", f"{HOST}:{WEB_PORT}", "--noreload"],
        "worker": [python, "-m", "celery", "-A", "project", "worker", "--pool", "threads"]
        + ["-c", "4", "-l", "info"],
    }
    children = {name: start(name, command) for name, command in commands.items()}
    deaths: dict[str, list[float]] = {name: [] for name in commands}
    stopping, failed = False, False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        wait_for_port(WEB_PORT)
        blob_url = sample_blob_url()
        to_warm = " ".join(warm_sample())
        print(
            "\nbitstore is running"
            + (" (demo tiers created)" if created else "")
            + f"\n  admin:      http://{HOST}:{WEB_PORT}/admin/  user {username}"
            + f" password {password}"
            + f"\n  a blob:     {blob_url}"
            + f"\n  try:        curl -fsS '{blob_url}'"
            + f"\n  warm cache: printf '%s\\n' {to_warm} | {python} manage.py bitstore_warm -"
            + "\nPress Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping:
            for name, child in list(children.items()):
                if child.poll() is not None and not stopping:
                    if restart(name, child, deaths[name]):
                        children[name] = start(name, commands[name])
                    else:
                        del children[name]
                        failed = True
            time.sleep(0.2)
    finally:
        stop(children)
    print("stopped", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
