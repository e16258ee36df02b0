"""The article fixtures for tests, loaded by the real `load_fixtures` once per session and
database, then copied back row for row.

`load_fixtures` saves every object through the write path (history, involvements, tallies):
about 4,000 statements, 2 to 6 seconds. Most tests only need its result. The first call in a
session runs the command on an empty database and keeps what it changed, table by table; each
later call on an empty database inserts those rows again, with their ids, in a few statements.
Tests of the command itself call `call_command("load_fixtures")`, never this.
"""

from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction

# (vendor, database name) -> (counts before the load, {table: (columns, rows added)})
_SNAPSHOTS = {}

# Tables a load never writes and that tests may fill freely.
_IGNORED = {"django_migrations", "django_session", "sqlite_sequence"}


def _tables():
    return sorted(set(connection.introspection.table_names()) - _IGNORED)


def _quote(name):
    return connection.ops.quote_name(name)


def _generated():
    """Columns the database computes itself (the search document): never inserted."""
    return {
        (model._meta.db_table, field.column)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if getattr(field, "generated", False)
    }


def _rows(cursor, table):
    cursor.execute(f"SELECT * FROM {_quote(table)} WHERE 1 = 0")
    generated = _generated()
    columns = [c[0] for c in cursor.description if (table, c[0]) not in generated]
    cursor.execute(f"SELECT {', '.join(map(_quote, columns))} FROM {_quote(table)}")
    return columns, cursor.fetchall()


def _counts(cursor, tables):
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")
        counts[table] = cursor.fetchone()[0]
    return counts


def _snapshot():
    with connection.cursor() as cursor:
        tables = _tables()
        before = {table: {repr(row) for row in _rows(cursor, table)[1]} for table in tables}
        call_command("load_fixtures", verbosity=0)
        added, counts = {}, {}
        for table in tables:
            columns, rows = _rows(cursor, table)
            after = {repr(row) for row in rows}
            if after == before[table]:
                continue
            if not before[table] <= after:
                return None  # the load changed rows that were there: nothing to replay
            added[table] = (columns, [row for row in rows if repr(row) not in before[table]])
            counts[table] = len(before[table])
    return counts, added


def _restore(counts, added):
    # One transaction: foreign keys are checked at its end, whatever the order of the tables.
    with transaction.atomic(), connection.cursor() as cursor:
        if _counts(cursor, counts) != counts:
            return False
        for table, (columns, rows) in added.items():
            names = ", ".join(_quote(column) for column in columns)
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {_quote(table)} ({names}) VALUES ({marks})", rows)
            if connection.vendor == "postgresql" and "id" in columns:
                # Later inserts must not take the ids just written back.
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    f"GREATEST((SELECT MAX(id) FROM {_quote(table)}), "
                    "(SELECT last_value FROM pg_sequences "
                    " WHERE schemaname || '.' || sequencename = "
                    "  pg_get_serial_sequence(%s, 'id'))))",
                    [table, table],
                )
        if connection.vendor == "postgresql":
            # Check the deferred foreign keys now: a later ALTER or CREATE INDEX on these
            # tables (the synthetic generator's) refuses to run with checks still pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return True


def load_articles():
    """Leave the database as `load_fixtures` would, fast when the database starts empty."""
    key = (connection.vendor, connection.settings_dict["NAME"])
    snapshot = _SNAPSHOTS.get(key)
    if snapshot is not None and _restore(*snapshot):
        return
    if snapshot is None:
        with connection.cursor() as cursor:
            empty = not any(_counts(cursor, ["events_event", "events_country"]).values())
        if empty:
            taken = _snapshot()
            if taken is not None:
                _SNAPSHOTS[key] = taken
            return
    call_command("load_fixtures", verbosity=0)
