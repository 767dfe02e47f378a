"""Settings of a project that installed bitstore but skipped README's Celery app (step 4):
nothing in it creates a Celery app, so bitstore's tasks bind to Celery's fallback app. Its
broker comes from CELERY_BROKER_URL; the database from DATABASE_URL; BITSTORE from
BITSTORE_TEST_CONFIG (JSON). It must not import `project`, whose package creates the app."""

import json
import os

import dj_database_url

SECRET_KEY = "a-project-without-a-celery-app"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "bitstore_app"]
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
BITSTORE = json.loads(os.environ.get("BITSTORE_TEST_CONFIG", "{}"))
