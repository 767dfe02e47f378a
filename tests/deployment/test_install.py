"""The wheel, as a Django shop adopts it: built from this checkout, installed into a virtualenv
of its own, and set up in a new `startproject` by following README's "Install into your
project" word for word (its code blocks are read from README, so the two cannot drift apart).
Then, as the new user would: `check` with nothing to say, every admin page of the app, a blob
by `bitstore_app.get` and by URL, a warm job on the Celery worker README started, and an API
token made in the admin that reads and uploads."""

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

from tests.helpers import free_port, require_service, wait_for_port
from tests.resilience.processes import RedisProcess

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Install into your project"
#: `<!-- install: ACTION [FILE] -->` right above a fenced block says what to do with it.
BLOCK = re.compile(r"<!-- install: (\w+)(?: (\S+))? -->\n```\w*\n(.*?)```", re.DOTALL)
ADMIN = ("admin", "a-new-users-password")
SERVED_BLOB = b"served from the source folder\n"
WARMED_BLOB = b"warmed into the cache by the worker\n"


def readme_steps():
    """Return [(action, file, text)] of the install section's blocks, in order."""
    readme = (REPO / "README.md").read_text()
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return [(action, file, text) for action, file, text in BLOCK.findall(section)]


def build_wheel(folder):
    """Build the wheel as README says, with `make wheel`, into the folder."""
    dist = folder / "dist"
    run(["make", "--no-print-directory", "wheel", f"DIST={dist}"], REPO, {})
    (wheel,) = dist.glob("bitstore-*.whl")
    return wheel


def run(command, cwd, env, stdin=None, timeout=180):
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env or None,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


class NewProject:
    """A `startproject` in a virtualenv of its own, with commands run as its user runs them."""

    def __init__(self, folder, wheel, broker_url):
        self.folder = folder / "site"
        self.folder.mkdir()
        self.venv = folder / "venv"
        self.logs = folder
        self.background = []
        subprocess.run([sys.executable, "-m", "venv", self.venv], check=True)
        inherited = {
            name: value
            for name, value in os.environ.items()
            # Nothing of this checkout's own configuration reaches the new project.
            if not name.startswith(("CELERY_", "DJANGO_", "BITSTORE_", "PYTHON", "VIRTUAL_ENV"))
            and name != "DATABASE_URL"
        }
        self.env = inherited | {
            "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "VIRTUAL_ENV": str(self.venv),
            "BITSTORE_WHEEL": str(wheel),
            "CELERY_BROKER_URL": broker_url,
            "PYTHONUNBUFFERED": "1",  # the logs of background processes, as they are written
        }

    def sh(self, script, stdin=None):
        return run(["bash", "-euo", "pipefail", "-c", script], self.folder, self.env, stdin)

    def start(self, script, name, ready):
        """Start a long-running command; wait until its log shows `ready`."""
        log = self.logs / f"{name}.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {script}"],
                cwd=self.folder,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.background.append(process)
        deadline = time.monotonic() + 60
        while ready not in log.read_text(errors="replace"):
            assert process.poll() is None, f"{name} exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"{name} did not start:\n{log.read_text()}"
            time.sleep(0.1)
        return log

    def follow(self, action, file, text):
        """Do what README says with one of its blocks."""
        if action == "run":
            self.sh(text)
        elif action == "append":
            with open(self.folder / file, "a") as target:
                target.write("\n" + text)
        elif action == "write":
            (self.folder / file).write_text(text)
        elif action == "shell":
            self.sh("python manage.py shell", stdin=text)
        elif action == "worker":
            self.start(text.strip(), "worker", " ready.")
        else:
            pytest.fail(f"README asks for an unknown install action {action!r}")

    def stop(self):
        for process in self.background:
            if process.poll() is None:
                os.killpg(process.pid, 15)
            process.wait(20)


@pytest.fixture
def broker(tmp_path):
    """A Redis server of this test's own: the worker's queue is nobody else's."""
    require_service("redis-server", lambda: shutil.which("redis-server") is not None)
    server = RedisProcess(tmp_path / "redis")
    server.folder.mkdir()
    server.start()
    yield server.url
    server.kill()


@pytest.fixture
def project(tmp_path, broker):
    started = time.monotonic()
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "bitstore_app/templates/admin/bitstore_app/tier/statistics.html" in names
    assert "bitstore_app/static/bitstore_app/statistics.css" in names
    assert "bitstore_app/migrations/0001_initial.py" in names
    site = NewProject(tmp_path, wheel, broker)
    steps = readme_steps()
    assert [action for action, _, _ in steps].count("run") >= 3, "README lost its install steps"
    install, *rest = steps
    assert install[0] == "run" and "pip install" in install[2]
    site.follow(*install)
    site.sh("django-admin startproject mysite .")
    for step in rest:
        site.follow(*step)
    print(f"\nwheel built, installed and set up by README in {time.monotonic() - started:.1f} s")
    yield site
    site.stop()


def test_the_readme_install_gives_a_working_app(project):
    installed = project.sh("python -m pip show bitstore && python -m pip list")
    assert "Name: bitstore" in installed
    assert "psycopg" not in installed and "boto3" not in installed  # not asked for
    assert "dj-database-url" not in installed
    folder = project.folder
    assert (folder / "static" / "bitstore_app" / "statistics.css").exists()  # collectstatic
    # README's steps leave nothing for `check` to warn about (startproject's DEBUG is on).
    checked = subprocess.run(
        ["python", "manage.py", "check"], cwd=folder, env=project.env, capture_output=True
    )
    assert checked.returncode == 0 and b"no issues" in checked.stdout, checked.stderr

    # A blob in the source folder, read with bitstore_app.get (it comes through the tiers).
    sha1 = hashlib_sha1(SERVED_BLOB)
    (folder / "blobs" / sha1).write_bytes(SERVED_BLOB)
    read = f"import bitstore_app; print(bitstore_app.get('{sha1}').decode(), end='')"
    assert project.sh(f'python manage.py shell -v 0 -c "{read}"') == SERVED_BLOB.decode()

    name, password = ADMIN
    project.env |= {"DJANGO_SUPERUSER_PASSWORD": password}
    project.sh(
        f"python manage.py createsuperuser --noinput --username {name} --email admin@example.com"
    )
    port = free_port()
    log = project.start(
        f"python manage.py runserver 127.0.0.1:{port} --noreload", "web", "Quit the server"
    )
    wait_for_port("127.0.0.1", port)
    web = Browser(f"http://127.0.0.1:{port}")
    web.log_in(name, password)

    # The blob URL, for the logged-in superuser; the ledger records who asked.
    response = web.get(f"/bitstore/blobs/{sha1}")
    assert response.content == SERVED_BLOB

    # An API token made in the admin (shown once, on a page of its own), used by a program.
    web.page("/admin/bitstore_app/apitoken/add/", "Scopes")
    created = web.post(
        "/admin/bitstore_app/apitoken/add/",
        {"user": "1", "name": "a program", "scopes": ["read", "upload"]},
    )
    token = re.search(r'id="new-token"[^>]*>(bst_[^<]+)<', created.text).group(1)
    web.page("/admin/bitstore_app/apitoken/", "a program")
    program = {"Authorization": f"Bearer {token}"}
    base = web.base
    read = requests.get(f"{base}/bitstore/blobs/{sha1}", headers=program, timeout=30)
    assert (read.status_code, read.content) == (200, SERVED_BLOB)
    uploaded = requests.post(
        f"{base}/bitstore/blobs", data=b"uploaded", headers=program, timeout=30
    )
    assert uploaded.status_code == 201, uploaded.text
    assert (folder / "blob-cache" / hashlib_sha1(b"uploaded")).read_bytes() == b"uploaded"

    # README's route sends the chunks to the queue its worker reads (and the note names).
    queue = "from bitstore_app.warming.workers import chunk_queue; print(chunk_queue())"
    assert project.sh(f'python manage.py shell -v 0 -c "{queue}"') == "bitstore\n"

    # A warm job on the worker README started: the command follows it to the end.
    warmed = hashlib_sha1(WARMED_BLOB)
    (folder / "blobs" / warmed).write_bytes(WARMED_BLOB)
    (folder / "hashes.txt").write_text(f"{warmed}\n{sha1}\n")
    summary = project.sh("python manage.py bitstore_warm hashes.txt")
    assert re.search(r"warmed\s+2\n", summary), summary
    assert (folder / "blob-cache" / warmed).read_bytes() == WARMED_BLOB
    assert (folder / "blob-cache" / sha1).read_bytes() == SERVED_BLOB

    # Every admin page of the app.
    tiers = web.page("/admin/bitstore_app/tier/", "blob-cache", "Statistics")
    tier_id = re.search(r'href="/admin/bitstore_app/tier/(\d+)/change/', tiers).group(1)
    web.page(f"/admin/bitstore_app/tier/{tier_id}/change/", "Location", "Check the tier now")
    web.page("/admin/bitstore_app/tier/add/", "Kind", "Role")
    statistics = web.page("/admin/bitstore_app/tier/statistics/", "blobs", "bitstore-stats")
    css = re.search(r'href="(/static/bitstore_app/statistics\.css)"', statistics).group(1)
    assert "bitstore-chart" in web.get(css).text
    web.page("/admin/bitstore_app/fetchrecord/", sha1, warmed)
    ledger = web.page(f"/admin/bitstore_app/fetchrecord/?q={sha1}", sha1)
    record_id = re.search(r'href="/admin/bitstore_app/fetchrecord/(\d+)/change/', ledger).group(1)
    web.page(f"/admin/bitstore_app/fetchrecord/{record_id}/change/", sha1)
    jobs = web.page("/admin/bitstore_app/warmjob/", "Done")
    job_id = re.search(r'href="/admin/bitstore_app/warmjob/(\d+)/change/', jobs).group(1)
    web.page(f"/admin/bitstore_app/warmjob/{job_id}/change/", "Done", "warmed")
    web.page("/admin/", "Statistics", "API tokens", "Blob")
    web.page(f"/admin/bitstore_app/blob/?sha1={sha1}", "holds it", "Upload a file")
    web.page("/bitstore/", "OpenAPI document")  # where "View site" leads
    assert web.get("/bitstore/openapi.json").json()["openapi"].startswith("3.")

    # The middleware README adds: the ledger knows who fetched the blob URL, by session and
    # by token.
    who = (
        "from bitstore_app.models import FetchRecord; from django.contrib.auth.models import User;"
        " print(FetchRecord.objects.filter(user_id=User.objects.get(username='admin').pk).count())"
    )
    assert project.sh(f'python manage.py shell -v 0 -c "{who}"') == "2\n"  # session, token
    assert "Traceback" not in log.read_text()


def hashlib_sha1(data):
    import hashlib

    return hashlib.sha1(data).hexdigest()


class Browser:
    """A logged-in admin session over HTTP, as a browser keeps one."""

    def __init__(self, base):
        self.base = base
        self.session = requests.Session()

    def log_in(self, name, password):
        login = f"{self.base}/admin/login/"
        self.session.get(login, timeout=10)
        answer = self.session.post(
            login,
            data={
                "username": name,
                "password": password,
                "csrfmiddlewaretoken": self.session.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": login},
            timeout=10,
        )
        assert answer.status_code == 200 and "Bitstore" in answer.text, answer.text[:2000]

    def get(self, path):
        response = self.session.get(f"{self.base}{path}", timeout=30)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        return response

    def post(self, path, data):
        """Post a form as the admin's pages do (with the CSRF token); return the answer."""
        url = f"{self.base}{path}"
        data = {**data, "csrfmiddlewaretoken": self.session.cookies["csrftoken"]}
        response = self.session.post(url, data=data, headers={"Referer": url}, timeout=30)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        return response

    def page(self, path, *expected):
        """Return an admin page's HTML, which must hold each expected text."""
        text = self.get(path).text
        for part in expected:
            assert part in text, f"{path} lacks {part!r}"
        return text
