"""Settings of the servers the deployment tests start: the project's, with the `BITSTORE`
setting given as JSON in BITSTORE_TEST_CONFIG."""

import json
import os

from project.settings import *  # noqa: F403

BITSTORE = json.loads(os.environ.get("BITSTORE_TEST_CONFIG", "{}"))

# A 500 shows its traceback in the server's log (the project logs only bitstore_app's).
LOGGING["loggers"]["django.request"] = {"handlers": ["console"], "level": "ERROR"}  # noqa: F405
