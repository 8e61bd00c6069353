"""Django settings, derived entirely from the PACKYARD_* environment (see packyard.config)."""
from __future__ import annotations

from datetime import timedelta

import dj_database_url

from packyard import auth_settings as _auth_settings
from packyard import config as _config

CONFIG = _config.load()
PACKYARD_HOME = CONFIG.home
PACKYARD_HOME.mkdir(parents=True, exist_ok=True)
(PACKYARD_HOME / "tmp").mkdir(exist_ok=True)

SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
ALLOWED_HOSTS = ["*"]
APPEND_SLASH = False  # client protocols must never be redirected to a slash URL

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "artifacts",
    "repositories",
    "accounts",
    "formats",
    "formats.pypi",
    "formats.npm",
    "formats.maven",
    "formats.docker",
    "frontend",
]

MIDDLEWARE = [
    # Reads the shared stamp that says whether this process's copies of repositories, members,
    # roles and users are still current (repositories.hotcache).
    "repositories.hotcache.HotCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the API docs page's Swagger UI, the admin's CSS) straight from the installed
    # apps: no collectstatic step and no CDN, so the console works on a machine without internet.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "packyard.urls"
WSGI_APPLICATION = "packyard.wsgi.application"

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

_db = dj_database_url.parse(CONFIG.database_url, conn_max_age=60)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions let the web workers and the task worker share one file
    # without "database is locked" errors under concurrent writes.
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if CONFIG.redis_url:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CONFIG.redis_url}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(PACKYARD_HOME / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = str(PACKYARD_HOME / "static")
(PACKYARD_HOME / "static").mkdir(exist_ok=True)  # WhiteNoise warns about a missing STATIC_ROOT
WHITENOISE_USE_FINDERS = True

# Uploads: stream everything larger than 1 MiB to disk; never hold a package in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_TEMP_DIR = str(PACKYARD_HOME / "tmp")
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000
PACKYARD_MAX_UPLOAD_BYTES = CONFIG.max_upload_bytes
PACKYARD_BASE_URL = CONFIG.base_url
PACKYARD_STORAGE_URL = CONFIG.storage_url
PACKYARD_S3_ENDPOINT_URL = CONFIG.s3_endpoint_url
PACKYARD_REDIS_URL = CONFIG.redis_url
PACKYARD_ADMIN_PASSWORD = CONFIG.admin_password
# Blobs younger than this are never garbage-collected: an upload may still be linking them.
PACKYARD_GC_GRACE_SECONDS = 3600
PACKYARD_UPLOAD_SESSION_TTL_SECONDS = 24 * 3600
PACKYARD_UPSTREAM_TIMEOUT = 30

# Logins: LDAP (PACKYARD_LDAP_*) and throttling (PACKYARD_LOGIN_*); see packyard.auth_settings, docs/ldap.md.
globals().update(_auth_settings.from_env())
# Console logins go through accounts.auth too: local accounts first, then the directory, throttled.
AUTHENTICATION_BACKENDS = ["accounts.backends.PackyardBackend"]

REST_FRAMEWORK = {
    # Basic/Bearer like every client URL, and the console's session login (accounts.drf).
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.drf.PackyardAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "repositories.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Packyard API",
    "DESCRIPTION": "Manage repositories, permissions, users, teams and tokens.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: Redis when configured, else a broker in the data folder that needs no server.
if CONFIG.redis_url:
    CELERY_BROKER_URL = CONFIG.redis_url
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
else:
    _broker = PACKYARD_HOME / "broker"
    for _sub in ("queue", "processed"):
        (_broker / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker / "queue"),
        "data_folder_out": str(_broker / "queue"),
        "processed_folder": str(_broker / "processed"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "gc": {"task": "artifacts.tasks.collect_garbage", "schedule": timedelta(hours=1)},
    "expire-uploads": {"task": "artifacts.tasks.expire_upload_sessions", "schedule": timedelta(minutes=15)},
    "maven-snapshot-cleanup": {"task": "formats.maven.tasks.cleanup_snapshots", "schedule": timedelta(hours=1)},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.request": {"level": "ERROR"}},
}
