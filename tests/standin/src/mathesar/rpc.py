"""A small JSON-RPC 2.0 endpoint at /api/rpc/v0/ (the real app uses
django-modern-rpc). Errors are always HTTP 200 with an `error` member,
except Django's own 403 when a session request fails CSRF checks.
Methods named standin.* exist only in the test double.
"""
import json

from cryptography.fernet import InvalidToken
from django.db import connection, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mathesar import __version__
from mathesar.auth import AuthFailed, api_user
from mathesar.models import ConfiguredRole, Database, Record, Server, UserDatabaseRoleMap

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
AUTH_ERROR, SERVER_ERROR = -32603, -32000


class RPCError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def databases_configured_list(user):
    return [d.to_dict() for d in Database.objects.order_by("id")]


def databases_setup_connect_existing(user, host, port, database, role, password=None, **_):
    with transaction.atomic():
        server, _created = Server.objects.get_or_create(host=host, port=int(port))
        db, _created = Database.objects.get_or_create(name=database, server=server)
        crole, _created = ConfiguredRole.objects.update_or_create(
            name=role, server=server, defaults={"password": password or ""})
        UserDatabaseRoleMap.objects.update_or_create(
            user=user, database=db, defaults={"configured_role": crole, "server": server})
    return db.to_dict()


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


METHODS = {
    "databases.configured.list": databases_configured_list,
    "databases.setup.connect_existing": databases_setup_connect_existing,
    "standin.roles.check_passwords": standin_roles_check_passwords,
    "standin.records.add": standin_records_add,
    "standin.records.list": standin_records_list,
    "standin.info": standin_info,
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
            result = method(user, *params) if isinstance(params, list) else method(user, **params)
        except TypeError as exc:
            raise RPCError(INVALID_PARAMS, f"Invalid parameters: {exc}")
        return _response(req_id, result=result)
    except RPCError as exc:
        return _response(req_id, error=exc)
    except Exception as exc:  # mirror modern-rpc: internal errors are RPC errors too
        return _response(req_id, error=RPCError(SERVER_ERROR, f"{type(exc).__name__}: {exc}"))
