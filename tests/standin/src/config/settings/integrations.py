"""Single sign-on and storage settings of the Mathesar TEST DOUBLE.

Read from the process environment by the names real Mathesar uses, per
release line (mathesar/standin_variant.py says which line this archive
imitates; build.sh puts "0.11" there for a VERSION starting with "0.11."):

- both: FILE_STORAGE_DICT (JSON object), else `file_storage.yml` in the
  install folder if present.
- 0.10: OIDC_CONFIG_DICT (JSON object), else `sso.yml`; schema v1 only
  (`oidc_providers`), other keys (such as v2's `providers`) are ignored.
- 0.11: SSO_CONFIG_DICT, else OIDC_CONFIG_DICT, else `sso.yml`; schema v2
  (`providers`, each with `type` oidc or github) or v1 (`oidc_providers`);
  REQUIRE_SSO_LOGIN, DATA_FILES_STORAGE_BACKEND (local | azure),
  DATA_FILES_AZURE_CONTAINER, DATA_FILES_AZURE_CONNECTION_STRING,
  PER_USER_DATABASES_ENABLED.

The values are only read and checked; what is not secret is kept in
settings (STANDIN_*, see production.py) and reported by the RPC method
standin.settings. The stand-in acts on none of them: it has no SSO login,
keeps data files in MEDIA_ROOT and has no per-user databases. Errors name
the variable or file, never its value (it holds secrets).
"""
import json
import os

from django.core.exceptions import ImproperlyConfigured

from mathesar.standin_variant import VARIANT

TRUE_VALUES = ("true", "True", "1")
PROVIDER_TYPES = ("oidc", "github")
DATA_FILES_BACKENDS = ("local", "azure")


def _env(name):
    """The variable's value, or None when it is unset or blank."""
    value = os.environ.get(name)
    return value if value is not None and value.strip() else None


def _flag(name):
    return os.environ.get(name) in TRUE_VALUES


def _json_object(name, text):
    try:
        value = json.loads(text)
    except ValueError as exc:
        # The position only: the message of the error could quote the text.
        raise ImproperlyConfigured(
            f"{name} is not valid JSON (line {getattr(exc, 'lineno', '?')}, "
            f"column {getattr(exc, 'colno', '?')})") from None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object")
    return value


def _yaml_object(path):
    import yaml  # pyyaml is in requirements.txt; only needed when the file exists

    try:
        value = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ImproperlyConfigured(f"{path} is not valid YAML{where}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{path} must hold a mapping")
    return value


def _providers(source, config, variant):
    """[{"id", "type"}] sorted by id, from v2 `providers` (0.11 only) or v1 `oidc_providers`."""
    if variant == "0.11" and "providers" in config:
        key, providers = "providers", config["providers"]
    elif "oidc_providers" in config:
        key, providers = "oidc_providers", config["oidc_providers"]
    else:
        return []
    if providers is None:
        return []
    if not isinstance(providers, dict):
        raise ImproperlyConfigured(f"{source}: {key} must map provider ids to providers")
    result = []
    for provider_id, provider in providers.items():
        if not isinstance(provider, dict):
            raise ImproperlyConfigured(f"{source}: {key}.{provider_id} must be a mapping")
        if key == "providers":
            kind = provider.get("type")
            if kind not in PROVIDER_TYPES:
                raise ImproperlyConfigured(
                    f"{source}: providers.{provider_id}.type must be one of {', '.join(PROVIDER_TYPES)}")
        else:
            kind = "oidc"
        result.append({"id": str(provider_id), "type": kind})
    return sorted(result, key=lambda p: p["id"])


def read(base_dir, variant=VARIANT):
    """The settings below, as a dict (a function so that it can be tested alone).

    Only what is not secret is returned: the configurations themselves (client
    secrets, storage keys, the Azure connection string) are checked and dropped,
    so that they never show in settings dumps such as Django's debug page.
    """
    s = {"STANDIN_VARIANT": variant}

    # File columns' storage (fsspec), both versions.
    text = _env("FILE_STORAGE_DICT")
    if text is not None:
        storage = _json_object("FILE_STORAGE_DICT", text)
    elif (base_dir / "file_storage.yml").is_file():
        storage = _yaml_object(base_dir / "file_storage.yml")
    else:
        storage = None
    protocol = (storage or {}).get("protocol")
    if protocol is not None and not isinstance(protocol, str):
        raise ImproperlyConfigured("FILE_STORAGE_DICT: protocol must be a string")
    s["FILE_STORAGE_CONFIGURED"] = storage is not None
    s["FILE_STORAGE_PROTOCOL"] = protocol

    # Single sign-on.
    names = ("SSO_CONFIG_DICT", "OIDC_CONFIG_DICT") if variant == "0.11" else ("OIDC_CONFIG_DICT",)
    source, config = None, None
    for name in names:
        text = _env(name)
        if text is not None:
            source, config = name, _json_object(name, text)
            break
    else:
        if (base_dir / "sso.yml").is_file():
            source, config = "sso.yml", _yaml_object(base_dir / "sso.yml")
    s["SSO_CONFIG_SOURCE"] = source
    s["SSO_PROVIDERS"] = _providers(source, config, variant) if config is not None else []

    if variant == "0.11":
        s["REQUIRE_SSO_LOGIN"] = _flag("REQUIRE_SSO_LOGIN")
        backend = _env("DATA_FILES_STORAGE_BACKEND") or "local"
        if backend not in DATA_FILES_BACKENDS:
            raise ImproperlyConfigured(
                f"DATA_FILES_STORAGE_BACKEND must be one of {', '.join(DATA_FILES_BACKENDS)}")
        container = _env("DATA_FILES_AZURE_CONTAINER")
        if backend == "azure":
            missing = [name for name in ("DATA_FILES_AZURE_CONTAINER", "DATA_FILES_AZURE_CONNECTION_STRING")
                       if _env(name) is None]
            if missing:
                raise ImproperlyConfigured(
                    f"DATA_FILES_STORAGE_BACKEND=azure needs {' and '.join(missing)}")
        s["DATA_FILES_STORAGE_BACKEND"] = backend
        s["DATA_FILES_AZURE_CONTAINER"] = container if backend == "azure" else None
        s["PER_USER_DATABASES_ENABLED"] = _flag("PER_USER_DATABASES_ENABLED")
    else:
        # 0.10 does not read these: it behaves as with their defaults.
        s["REQUIRE_SSO_LOGIN"] = False
        s["DATA_FILES_STORAGE_BACKEND"] = "local"
        s["DATA_FILES_AZURE_CONTAINER"] = None
        s["PER_USER_DATABASES_ENABLED"] = False
    return s
