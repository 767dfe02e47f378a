"""Settings of the Celery workers (and commands) that the warming tests start: the project's,
plus what the test passes in BITSTORE_TEST_WORKER (JSON):

- "bitstore": the BITSTORE setting;
- "broker_dir": use kombu's filesystem broker in this folder (else the Redis broker of
  CELERY_BROKER_URL);
- "queue": the queue the worker reads and sends its tasks to;
- "visibility_timeout": seconds after which Redis hands a task that was never acknowledged
  (its worker was killed) to another worker.
"""

import json
import os
from pathlib import Path

from project.settings import *  # noqa: F403

_TEST = json.loads(os.environ.get("BITSTORE_TEST_WORKER", "{}"))

BITSTORE = _TEST.get("bitstore", {})
if _TEST.get("queue"):
    CELERY_TASK_DEFAULT_QUEUE = _TEST["queue"]

if _TEST.get("broker_dir"):
    _queue = Path(_TEST["broker_dir"]) / "queue"
    _control = Path(_TEST["broker_dir"]) / "control"
    for _folder in (_queue, _control):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "control_folder": str(_control),
        "polling_interval": 0.1,
    }
elif "visibility_timeout" in _TEST:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": _TEST["visibility_timeout"],
        # Look for such tasks every second rather than every 100 seconds.
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
