"""Settings of the Mathesar TEST DOUBLE.

Everything comes from the process environment (like real Mathesar):
POSTGRES_DB, POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_HOST, POSTGRES_PORT,
POSTGRES_SSLMODE, SECRET_KEY, ALLOWED_HOSTS, DEBUG, MEDIA_ROOT,
DJANGO_SETTINGS_MODULE, and the SSO and storage variables read by
config/settings/integrations.py (which ones depends on the release line the
archive imitates, 0.10 or 0.11). Deployers may add config/settings/local.py
(imported last) for CSRF_TRUSTED_ORIGINS, secure cookies, CONN_MAX_AGE, ...
"""
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from .integrations import read as _read_integrations

# The install dir (the folder that holds manage.py).
BASE_DIR = Path(__file__).resolve().parent.parent.parent


def _secret_key():
    """SECRET_KEY from the environment, else a generated one kept on disk."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = BASE_DIR / ".secrets" / "secret_key.txt"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(get_random_secret_key() + "\n")
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# django-fernet-encrypted-fields derives its key from SECRET_KEY salted with
# SALT_KEY; real Mathesar sets them equal.
SALT_KEY = SECRET_KEY

DEBUG = os.environ.get("DEBUG") in ("t", "true", "True")
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", ".localhost, 127.0.0.1, [::1]").split(",")
    if h.strip()
]

# Behind a TLS-terminating reverse proxy (Caddy) that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "mathesar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
POSTGRES_SSLMODE = os.environ.get("POSTGRES_SSLMODE", "prefer")
if POSTGRES_SSLMODE not in _SSLMODES:
    raise ImproperlyConfigured(f"POSTGRES_SSLMODE must be one of {', '.join(_SSLMODES)}")

DATABASES = {
    "default": {
        # Django 4.2's postgresql backend uses psycopg 3 when it is installed.
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("POSTGRES_DB", "mathesar_django"),
        "USER": os.environ.get("POSTGRES_USER", "mathesar"),
        "PASSWORD": os.environ.get("POSTGRES_PASSWORD", ""),
        "HOST": os.environ.get("POSTGRES_HOST", "localhost"),
        "PORT": os.environ.get("POSTGRES_PORT", "5432"),
        "OPTIONS": {
            "sslmode": POSTGRES_SSLMODE,
            "application_name": "Mathesar Django (test double)",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(BASE_DIR, "static")
MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", os.path.join(BASE_DIR, ".media/"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "/auth/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = LOGIN_URL

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# SSO and storage (see integrations.py): read and checked; only what is not
# secret is kept, for the RPC method standin.settings. The stand-in does not
# act on them (no SSO login, data files always in MEDIA_ROOT).
_integrations = _read_integrations(BASE_DIR)
STANDIN_VARIANT = _integrations["STANDIN_VARIANT"]
STANDIN_FILE_STORAGE_CONFIGURED = _integrations["FILE_STORAGE_CONFIGURED"]
STANDIN_FILE_STORAGE_PROTOCOL = _integrations["FILE_STORAGE_PROTOCOL"]
STANDIN_SSO_CONFIG_SOURCE = _integrations["SSO_CONFIG_SOURCE"]
STANDIN_SSO_PROVIDERS = _integrations["SSO_PROVIDERS"]
STANDIN_REQUIRE_SSO_LOGIN = _integrations["REQUIRE_SSO_LOGIN"]
STANDIN_DATA_FILES_STORAGE_BACKEND = _integrations["DATA_FILES_STORAGE_BACKEND"]
STANDIN_DATA_FILES_AZURE_CONTAINER = _integrations["DATA_FILES_AZURE_CONTAINER"]
STANDIN_PER_USER_DATABASES_ENABLED = _integrations["PER_USER_DATABASES_ENABLED"]
del _integrations

try:
    from .local import *  # noqa
except ImportError:
    pass
