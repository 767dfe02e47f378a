"""Settings of the servers the deployment tests start: the project's, with the `BITSTORE`
setting given as JSON in BITSTORE_TEST_CONFIG."""

import json
import os

from project.settings import *  # noqa: F403

BITSTORE = json.loads(os.environ.get("BITSTORE_TEST_CONFIG", "{}"))
