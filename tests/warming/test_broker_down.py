"""A Celery broker that does not answer: `bitstore_warm` and `POST /bitstore/warm` say so
(an error naming the broker, a JSON 503), instead of a traceback and an HTML 500. The broker
is a closed port on loopback, in the processes the test starts."""

import json
import subprocess
import sys

import pytest

from bitstore_app.models import WarmJob
from tests.helpers import free_port
from tests.warming.conftest import REPO, make_blobs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

#: POST /bitstore/warm through Django's test client, as a user with the warm permission.
POST_WARM = """
import json, sys
import django
django.setup()
from django.contrib.auth.models import Permission, User
from django.test import Client
user = User.objects.create(username="warmer")
user.user_permissions.add(Permission.objects.get(codename="warm"))
client = Client()
client.force_login(user)
answer = client.post("/bitstore/warm", json.dumps(sys.argv[1:]), "application/json")
print(json.dumps({"status": answer.status_code, "type": answer["Content-Type"],
                  "body": answer.content.decode()}))
"""


@pytest.fixture
def no_broker(worker_env):
    """The environment of a process whose Celery broker is a closed port."""
    return worker_env(f"redis://127.0.0.1:{free_port()}/0")


def test_the_command_names_the_broker_it_cannot_reach(tiers, tmp_path, no_broker):
    file = tmp_path / "hashes.txt"
    file.write_text("\n".join(make_blobs(3, seed=50)))
    done = subprocess.run(
        [sys.executable, "manage.py", "bitstore_warm", str(file)],
        cwd=REPO,
        env=no_broker,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    job = WarmJob.objects.get()
    assert f"cannot send warm job {job.pk} to the Celery broker" in done.stderr, done.stderr
    assert "is it running" in done.stderr


def test_the_endpoint_answers_503_in_json(tiers, no_broker):
    done = subprocess.run(
        [sys.executable, "-c", POST_WARM, *make_blobs(2, seed=51)],
        cwd=REPO,
        env=no_broker,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert (answer["status"], answer["type"]) == (503, "application/json"), answer
    assert "Celery broker" in json.loads(answer["body"])["error"]
