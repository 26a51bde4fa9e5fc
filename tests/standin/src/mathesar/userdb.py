"""The users' databases (TEST DOUBLE): connections with the stored credentials, and the few catalog queries and
writes behind the RPC methods schemas.*, tables.* and records.*. Everything runs against the real PostgreSQL
server, so oids, names and row counts are PostgreSQL's own.
"""
import codecs
import csv
import io

import psycopg
from django.conf import settings
from psycopg import sql

from mathesar.models import UserDatabaseRoleMap

# Schemas that real Mathesar leaves out of schemas.list.
INTERNAL_SCHEMAS = {"information_schema", "msar", "__msar", "mathesar_types"}
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
SCHEMA_PRIVILEGES = ("USAGE", "CREATE")
# The identity column every imported table gets, as in real Mathesar.
DEFAULT_PK = "id"
COLUMN_NAME_TEMPLATE = "Column "


class NoConnectionAvailable(Exception):
    pass


def internal_server():
    """Host, port, role, password and sslmode of Django's own database server ("the internal server")."""
    db = settings.DATABASES["default"]
    return {
        "host": db["HOST"] or "localhost",
        "port": int(db["PORT"] or 5432),
        "role": db["USER"],
        "password": db["PASSWORD"],
        "dbname": db["NAME"],
        "sslmode": db.get("OPTIONS", {}).get("sslmode", "prefer"),
    }


def _connect(host, port, dbname, role, password, autocommit=False):
    kwargs = {"host": host, "port": port, "dbname": dbname, "user": role, "password": password,
              "application_name": "Mathesar (test double)", "connect_timeout": 10, "autocommit": autocommit}
    internal = internal_server()
    if (host, int(port)) == (internal["host"], internal["port"]):
        # The internal server is reached the way Django reaches it (POSTGRES_SSLMODE).
        kwargs["sslmode"] = internal["sslmode"]
    return psycopg.connect(**kwargs)


def create_database(name):
    """CREATE DATABASE on the internal server, as Django's role (which needs CREATEDB)."""
    internal = internal_server()
    with _connect(internal["host"], internal["port"], internal["dbname"], internal["role"],
                  internal["password"], autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def connect(database_id, user):
    """A connection to a configured database with the role mapped to this user."""
    try:
        mapping = UserDatabaseRoleMap.objects.select_related("database", "server", "configured_role").get(
            user=user, database__id=database_id)
    except UserDatabaseRoleMap.DoesNotExist:
        raise NoConnectionAvailable(f"No connection available for database {database_id} and this user.")
    return _connect(mapping.server.host, mapping.server.port, mapping.database.name,
                    mapping.configured_role.name, mapping.configured_role.password)


def list_schemas(conn):
    rows = conn.execute("""
        SELECT n.oid, n.nspname, obj_description(n.oid, 'pg_namespace'), n.nspowner,
               has_schema_privilege(n.oid, 'USAGE'), has_schema_privilege(n.oid, 'CREATE'),
               pg_has_role(n.nspowner, 'USAGE'),
               (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p'))
        FROM pg_namespace n
        WHERE n.nspname NOT LIKE 'pg\\_%'
        ORDER BY n.nspname
    """).fetchall()
    return [
        {"oid": oid, "name": name, "description": description, "owner_oid": owner,
         "current_role_priv": [p for p, ok in zip(SCHEMA_PRIVILEGES, (usage, create)) if ok],
         "current_role_owns": owns, "table_count": count}
        for oid, name, description, owner, usage, create, owns, count in rows
        if name not in INTERNAL_SCHEMAS
    ]


def _table_info(conn, where, param):
    privs = ", ".join(f"has_table_privilege(c.oid, '{p}')" for p in TABLE_PRIVILEGES)
    rows = conn.execute(f"""
        SELECT c.oid, c.relname, c.relnamespace, obj_description(c.oid, 'pg_class'), c.relowner,
               pg_has_role(c.relowner, 'USAGE'), {privs}
        FROM pg_class c
        WHERE c.relkind IN ('r', 'p') AND {where}
        ORDER BY c.relname
    """, (param,)).fetchall()
    return [
        {"oid": oid, "name": name, "schema": schema, "description": description, "owner_oid": owner,
         "current_role_priv": [p for p, ok in zip(TABLE_PRIVILEGES, flags) if ok], "current_role_owns": owns}
        for oid, name, schema, description, owner, owns, *flags in rows
    ]


def list_tables(conn, schema_oid):
    return _table_info(conn, "c.relnamespace = %s", schema_oid)


def get_table(conn, table_oid):
    found = _table_info(conn, "c.oid = %s", table_oid)
    if not found:
        raise ValueError(f"Table with OID {table_oid} does not exist.")
    return found[0]


def _schema_name(conn, schema_oid):
    row = conn.execute("SELECT nspname FROM pg_namespace WHERE oid = %s", (schema_oid,)).fetchone()
    if row is None:
        raise ValueError(f"Schema with OID {schema_oid} does not exist.")
    return row[0]


def _read_text(path):
    raw = open(path, "rb").read()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return codecs.decode(raw, encoding)
        except UnicodeDecodeError:
            continue


def sniff(path):
    """The CSV/TSV dialect of a data file, as real Mathesar detects it at upload (it uses clevercsv)."""
    text = _read_text(path)
    try:
        dialect = csv.Sniffer().sniff(text[:64 * 1024], delimiters=",\t;|")
        return {"delimiter": dialect.delimiter, "quotechar": dialect.quotechar or '"',
                "escapechar": dialect.escapechar or ""}
    except csv.Error:
        return {"delimiter": "\t" if path.lower().endswith(".tsv") else ",", "quotechar": '"', "escapechar": ""}


def process_column_names(names):
    """Empty names become "Column N"; names that clash with the id column or with each other get " 1", " 2"..."""
    out, renamed, taken = [], {}, {DEFAULT_PK}
    for i, name in enumerate(names, start=1):
        name = (name or "").strip() or f"{COLUMN_NAME_TEMPLATE}{i}"
        new, n = name, 0
        while new in taken:
            n += 1
            new = f"{name} {n}"
        if new != name:
            renamed[name] = new
        taken.add(new)
        out.append(new)
    return out, renamed


def import_csv(conn, path, table_name, schema_oid, comment=None):
    """Create a table with an identity `id` column and one text column per header field, then copy the rows in."""
    dialect = sniff(path)
    reader = csv.reader(io.StringIO(_read_text(path), newline=""), delimiter=dialect["delimiter"],
                        quotechar=dialect["quotechar"], escapechar=dialect["escapechar"] or None)
    rows = [row for row in reader if row]
    if not rows:
        raise ValueError("The data file is empty.")
    columns, renamed = process_column_names(rows[0])
    schema = _schema_name(conn, schema_oid)
    target = sql.Identifier(schema, table_name)
    with conn.transaction():
        conn.execute(sql.SQL("CREATE TABLE {} ({} integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, {})").format(
            target, sql.Identifier(DEFAULT_PK),
            sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)))
        if comment:
            conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(comment)))
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            target, sql.SQL(", ").join(sql.Identifier(c) for c in columns))
        with conn.cursor().copy(copy_sql) as copy:
            for row in rows[1:]:
                if len(row) > len(columns):
                    raise ValueError(f"A row has {len(row)} fields, the header {len(columns)}.")
                copy.write_row(row + [None] * (len(columns) - len(row)))
        oid = conn.execute("SELECT oid FROM pg_class WHERE relnamespace = %s AND relname = %s",
                           (schema_oid, table_name)).fetchone()[0]
    result = {"oid": oid, "name": table_name}
    if renamed:
        result["renamed_columns"] = renamed
    return result


def list_records(conn, table_oid, limit=None, offset=None):
    """{"count", "results"}: each result maps attnums (as strings, as JSON keys are) to the values."""
    row = conn.execute("""
        SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    """, (table_oid,)).fetchone()
    if row is None:
        raise ValueError(f"Table with OID {table_oid} does not exist.")
    target = sql.Identifier(*row)
    attrs = conn.execute("""
        SELECT attnum, attname FROM pg_attribute
        WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum
    """, (table_oid,)).fetchall()
    pk = [r[0] for r in conn.execute("""
        SELECT unnest(conkey) FROM pg_constraint WHERE conrelid = %s AND contype = 'p'
    """, (table_oid,)).fetchall()]
    order = [sql.Identifier(name) for attnum, name in attrs if attnum in pk] or \
        [sql.Identifier(name) for _attnum, name in attrs]
    query = sql.SQL("SELECT {} FROM {} ORDER BY {} LIMIT {} OFFSET {}").format(
        sql.SQL(", ").join(sql.SQL("to_jsonb({})").format(sql.Identifier(name)) for _attnum, name in attrs),
        target, sql.SQL(", ").join(order),
        sql.Literal(int(limit)) if limit is not None else sql.SQL("ALL"), sql.Literal(int(offset or 0)))
    results = [{str(attnum): value for (attnum, _name), value in zip(attrs, values)}
               for values in conn.execute(query).fetchall()]
    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(target)).fetchone()[0]
    return {"count": count, "results": results, "grouping": None, "linked_record_summaries": None,
            "record_summaries": None}
