"""Django settings for the bitstore project.

Everything a deployment changes comes from the environment; the defaults suit development
and tests on one machine (SQLite and a filesystem Celery broker under var/).
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded defaults: SQLite database, filesystem broker, demo tiers.
VAR_DIR = Path(os.environ.get("BITSTORE_VAR_DIR") or BASE_DIR / "var").absolute()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name, default=False):
    """Return the environment variable `name` read as a yes/no flag."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    """Return the comma-separated environment variable `name` as a list."""
    value = os.environ.get(name, default)
    return [item.strip() for item in value.split(",") if item.strip()]


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-bitstore-development-only")
# Off unless asked for: `make run` turns it on for the local demo (project/runner.py).
DEBUG = env_bool("DJANGO_DEBUG", default=False)
# Error reports (the DEBUG page, mailed reports) hide the credentials tiers reference.
DEFAULT_EXCEPTION_REPORTER_FILTER = "bitstore_app.error_reports.CredentialsFilter"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "adminsortable2",
    "bitstore_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "bitstore_app.middleware.RequesterMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=60,
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes write (web, worker, their ledgers): a transaction takes the write lock
    # when it begins and waits for it, instead of failing at once with "database is locked"
    # when a read inside it turns into a write.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    # Tests on SQLite use a file (one per test run) instead of an in-memory database, so that
    # the processes a test starts (a second web process, a Celery worker) see the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# Celery. Without CELERY_BROKER_URL, an embedded broker: kombu's filesystem transport under
# var/broker, so a worker runs with no server at all.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL")
if not CELERY_BROKER_URL:
    _broker_queue = VAR_DIR / "broker" / "queue"
    _broker_control = VAR_DIR / "broker" / "control"
    for _folder in (_broker_queue, _broker_control):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_queue),
        "data_folder_out": str(_broker_queue),
        "control_folder": str(_broker_control),
        "polling_interval": 0.1,
    }
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("BITSTORE_CELERY_EAGER", default=False)

# Overrides for bitstore_app; its defaults (and their documentation) live in
# bitstore_app/conf.py. CREDENTIALS entries name environment variables, never secrets.
BITSTORE = {}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "filters": {
        "redact_secrets": {"()": "bitstore_app.error_reports.RedactSecrets"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
    },
    "loggers": {
        "bitstore_app": {
            "handlers": ["console"],
            "level": os.environ.get("BITSTORE_LOG_LEVEL", "INFO").upper(),
        },
    },
}
