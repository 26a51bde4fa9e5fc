"""A small JSON-RPC 2.0 endpoint at /api/rpc/v0/ (the real app uses
django-modern-rpc). Errors are always HTTP 200 with an `error` member,
except Django's own 403 when a session request fails CSRF checks.
The methods that real Mathesar has take its parameter names (keyword
arguments) and answer in its shapes; schemas/tables/records work on the
real PostgreSQL databases (mathesar/userdb.py). Methods named standin.*
exist only in the test double.
"""
import json
import socket

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import connection, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mathesar import __version__, userdb
from mathesar.auth import AuthFailed, api_user
from mathesar.models import ConfiguredRole, DataFile, Database, Record, Server, UserDatabaseRoleMap

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
AUTH_ERROR, SERVER_ERROR = -32603, -32000


class RPCError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def _require_superuser(user):
    if not user.is_superuser:
        raise RPCError(AUTH_ERROR, "This method is for Mathesar admins (superusers) only.")


def _connection_result(mapping):
    """Like real Mathesar's DatabaseConnectionResult."""
    return {"server": mapping.server.to_dict(), "database": mapping.database.to_dict(),
            "configured_role": mapping.configured_role.to_dict()}


def _set_up(user, host, port, database, role, password, nickname=None):
    with transaction.atomic():
        server, _created = Server.objects.get_or_create(host=host, port=int(port))
        db, created = Database.objects.get_or_create(name=database, server=server,
                                                     defaults={"nickname": nickname})
        if not created and nickname is not None and db.nickname != nickname:
            db.nickname = nickname
            db.save(update_fields=["nickname"])
        crole, _created = ConfiguredRole.objects.update_or_create(
            name=role, server=server, defaults={"password": password or ""})
        mapping, _created = UserDatabaseRoleMap.objects.update_or_create(
            user=user, database=db, defaults={"configured_role": crole, "server": server})
    return _connection_result(mapping)


def _no_sample_data(sample_data):
    if sample_data:
        raise RPCError(SERVER_ERROR, "The test double ships no sample data sets; "
                                     f"pass sample_data: [] (got {list(sample_data)}).")


def databases_configured_list(user, server_id=None):
    databases = Database.objects.order_by("id")
    if server_id is not None:
        databases = databases.filter(server_id=server_id)
    if not user.is_superuser:
        databases = databases.filter(userdatabaserolemap__user=user)
    return [d.to_dict() for d in databases]


def servers_configured_list(user):
    return [s.to_dict() for s in Server.objects.order_by("id")]


def databases_setup_create_new(user, database, sample_data=(), nickname=None):
    """A new database on the internal server (Django's), owned by Django's role (it needs CREATEDB)."""
    _require_superuser(user)
    _no_sample_data(sample_data)
    userdb.create_database(database)
    internal = userdb.internal_server()
    return _set_up(user, internal["host"], internal["port"], database, internal["role"],
                   internal["password"], nickname)


def databases_setup_connect_existing(user, host, port, database, role, password, sample_data=(), nickname=None):
    """Stores the server, database and role (its password encrypted); does not connect."""
    _require_superuser(user)
    _no_sample_data(sample_data)
    return _set_up(user, host, port, database, role, password, nickname)


def _userdb_call(database_id, user, func, *args, **kwargs):
    try:
        with userdb.connect(database_id, user) as conn:
            return func(conn, *args, **kwargs)
    except userdb.NoConnectionAvailable as exc:
        raise RPCError(SERVER_ERROR, str(exc))


def schemas_list(user, database_id):
    return _userdb_call(database_id, user, userdb.list_schemas)


def tables_list(user, schema_oid, database_id):
    return _userdb_call(database_id, user, userdb.list_tables, schema_oid)


def tables_get(user, table_oid, database_id):
    return _userdb_call(database_id, user, userdb.get_table, table_oid)


def tables_import(user, data_file_id, schema_oid, database_id, table_name=None, comment=None):
    """Like real Mathesar: the data file must be the caller's; the table name defaults to the file's."""
    try:
        data_file = DataFile.objects.get(id=data_file_id, user=user)
    except DataFile.DoesNotExist:
        raise RPCError(SERVER_ERROR, f"DataFile matching query does not exist (id {data_file_id}).")
    return _userdb_call(database_id, user, userdb.import_csv, data_file.file.path,
                        table_name or data_file.base_name, schema_oid, comment)


def records_list(user, table_oid, database_id, limit=None, offset=None, order=None, filter=None,
                 grouping=None, return_record_summaries=False):
    if order or filter or grouping:
        raise RPCError(SERVER_ERROR, "The test double does not implement order, filter or grouping.")
    return _userdb_call(database_id, user, userdb.list_records, table_oid, limit=limit, offset=offset)


def standin_roles_check_passwords(user):
    """Decrypt every stored role password; fail loudly if SECRET_KEY changed."""
    field = ConfiguredRole._meta.get_field("password")
    table = connection.ops.quote_name(ConfiguredRole._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"SELECT id, password FROM {table} ORDER BY id")
        rows = cur.fetchall()
    for role_id, ciphertext in rows:
        if not ciphertext:
            continue
        try:
            field.f.decrypt(ciphertext.encode("utf-8"))
        except InvalidToken:
            raise RPCError(SERVER_ERROR, f"Cannot decrypt the password of configured role {role_id}: "
                                         "SECRET_KEY differs from the one used to store it.")
    return {"count": len(rows)}


def standin_records_add(user, text):
    return Record.objects.create(text=str(text)).to_dict()


def standin_records_list(user):
    return [r.to_dict() for r in Record.objects.order_by("id")]


def standin_info(user):
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM django_migrations WHERE app = 'mathesar' ORDER BY id")
        migrations = [row[0] for row in cur.fetchall()]
    return {"version": __version__, "migrations": migrations}


def standin_settings(user):
    """The SSO and storage settings as read at start (config/settings/integrations.py),
    without any secret. On a 0.10 archive the 0.11-only ones are their defaults."""
    _require_superuser(user)
    return {
        "version": __version__,
        "sso_source": settings.STANDIN_SSO_CONFIG_SOURCE,
        "sso_providers": [{"id": p["id"], "type": p["type"]} for p in settings.STANDIN_SSO_PROVIDERS],
        "require_sso_login": settings.STANDIN_REQUIRE_SSO_LOGIN,
        "data_files_backend": settings.STANDIN_DATA_FILES_STORAGE_BACKEND,
        "data_files_azure_container": settings.STANDIN_DATA_FILES_AZURE_CONTAINER,
        "file_storage_protocol": settings.STANDIN_FILE_STORAGE_PROTOCOL,
        "per_user_databases": settings.STANDIN_PER_USER_DATABASES_ENABLED,
    }


def standin_request(request, user):
    """The request as Django saw it behind the proxy: scheme (from X-Forwarded-Proto, SECURE_PROXY_SSL_HEADER),
    the X-Forwarded-For chain, and the app host that answered."""
    return {
        "scheme": request.scheme,
        "x_forwarded_for": request.META.get("HTTP_X_FORWARDED_FOR", ""),
        "remote_addr": request.META.get("REMOTE_ADDR", ""),
        "host": request.get_host(),
        "served_by": socket.gethostname(),
    }


# Methods that take the request before the user.
WITH_REQUEST = {"standin.request"}

METHODS = {
    "databases.configured.list": databases_configured_list,
    "databases.setup.connect_existing": databases_setup_connect_existing,
    "databases.setup.create_new": databases_setup_create_new,
    "servers.configured.list": servers_configured_list,
    "schemas.list": schemas_list,
    "tables.list": tables_list,
    "tables.get": tables_get,
    "tables.import": tables_import,
    "records.list": records_list,
    "standin.roles.check_passwords": standin_roles_check_passwords,
    "standin.records.add": standin_records_add,
    "standin.records.list": standin_records_list,
    "standin.info": standin_info,
    "standin.settings": standin_settings,
    "standin.request": standin_request,
}


def _response(req_id, result=None, error=None):
    body = {"jsonrpc": "2.0", "id": req_id}
    if error is not None:
        body["error"] = {"code": error.code, "message": error.message}
    else:
        body["result"] = result
    return JsonResponse(body)


@csrf_exempt  # CSRF is checked in api_user() for session-authenticated calls
@require_POST
def rpc_view(request):
    req_id = None
    try:
        try:
            payload = json.loads(request.body)
        except ValueError:
            raise RPCError(PARSE_ERROR, "Parse error: request body is not valid JSON.")
        if not isinstance(payload, dict) or payload.get("jsonrpc") != "2.0" or "method" not in payload:
            raise RPCError(INVALID_REQUEST, "Invalid request: expected a JSON-RPC 2.0 object.")
        req_id = payload.get("id")
        try:
            user = api_user(request)
        except AuthFailed as exc:
            if exc.csrf_response is not None:
                return exc.csrf_response
            raise RPCError(AUTH_ERROR, f"Authentication failed when calling "
                                       f"\"{payload['method']}\": {exc}")
        method = METHODS.get(payload["method"])
        if method is None:
            raise RPCError(METHOD_NOT_FOUND, f"Method not found: \"{payload['method']}\"")
        params = payload.get("params") or {}
        try:
            args = (request, user) if payload["method"] in WITH_REQUEST else (user,)
            result = method(*args, *params) if isinstance(params, list) else method(*args, **params)
        except TypeError as exc:
            raise RPCError(INVALID_PARAMS, f"Invalid parameters: {exc}")
        return _response(req_id, result=result)
    except RPCError as exc:
        return _response(req_id, error=exc)
    except Exception as exc:  # mirror modern-rpc: internal errors are RPC errors too
        return _response(req_id, error=RPCError(SERVER_ERROR, f"{type(exc).__name__}: {exc}"))
