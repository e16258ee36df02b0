"""Backups that restore: a consistent copy of the database and a manifest that proves a restore.

A backup is two files side by side in one directory:

- the copy: on PostgreSQL a `pg_dump` archive in the custom format (`*.dump`), on SQLite a
  database file written by SQLite's online backup API (`*.sqlite3`);
- the manifest (`*.json`): the format version, the vendor, when it was made, the latest applied
  migration per app, the rows in every table, the latest history id per historical table and
  overall, and the SHA-256 of the copy.

The manifest is read from the same snapshot as the copy (PostgreSQL: pg_dump joins the
transaction that counts, through an exported snapshot; SQLite: the counts are read from the copy
itself), so a restore that matches it is the database as it was at that moment. `restore()`
checks the checksum before it writes anything and the manifest after; the commands `backup` and
`restore` are the doors.
"""

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from django.apps import apps
from django.db import connections
from django.db.backends.postgresql.client import DatabaseClient

FORMAT = "diplomacy-backup"
FORMAT_VERSION = 1
VENDORS = {
    "django.db.backends.postgresql": "postgresql",
    "django.db.backends.sqlite3": "sqlite",
}
SUFFIXES = {"postgresql": ".dump", "sqlite": ".sqlite3"}
VENDOR_NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
# libpq settings Django accepts in OPTIONS that pg_dump and pg_restore must use too.
LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "passfile", "service")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


class ManifestMismatch(BackupError):
    """The restored database is not the one the manifest describes."""

    def __init__(self, message, differences):
        super().__init__(message)
        self.differences = differences


def vendor_of(settings_dict):
    engine = settings_dict.get("ENGINE", "")
    if engine not in VENDORS:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {engine or 'no engine'}.")
    return VENDORS[engine]


# The state a manifest records, read the same way from the source and from the restored copy.


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def _historical_tables():
    """django-simple-history's tables: their primary key is `history_id`."""
    return {
        model._meta.db_table for model in apps.get_models() if model._meta.pk.name == "history_id"
    }


def _table_names(cursor, vendor):
    if vendor == "postgresql":
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(current_schemas(false))"
        )
    else:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    return sorted(row[0] for row in cursor.fetchall())


def _scalar(cursor, sql):
    cursor.execute(sql)
    return cursor.fetchone()[0]


def database_state(cursor, vendor):
    """Rows per table, latest history ids and latest migrations, as a manifest records them."""
    tables = {
        table: _scalar(cursor, f"SELECT COUNT(*) FROM {_quote(table)}")
        for table in _table_names(cursor, vendor)
    }
    history = {
        table: _scalar(cursor, f"SELECT MAX(history_id) FROM {_quote(table)}")
        for table in sorted(_historical_tables() & set(tables))
    }
    migrations = {}
    if "django_migrations" in tables:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
        for app, name in cursor.fetchall():
            migrations[app] = name
    latest = max((value for value in history.values() if value is not None), default=None)
    return {
        "migrations": dict(sorted(migrations.items())),
        "tables": tables,
        "history": {"tables": history, "latest": latest},
    }


def differences(manifest, state):
    """One line per table (or app) where the restored state differs from the manifest."""
    lines = []
    expected, actual = manifest["tables"], state["tables"]
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            lines.append(
                f"{table}: in the backup ({expected[table]:,} rows), missing after restore"
            )
        elif table not in expected:
            lines.append(f"{table}: not in the backup, present after restore")
        elif expected[table] != actual[table]:
            lines.append(
                f"{table}: {expected[table]:,} rows in the manifest, {actual[table]:,} restored"
            )
    expected, actual = manifest["history"]["tables"], state["history"]["tables"]
    for table in sorted(set(expected) | set(actual)):
        if expected.get(table) != actual.get(table):
            lines.append(
                f"{table}: latest history id {expected.get(table)} in the manifest, "
                f"{actual.get(table)} restored"
            )
    if manifest["history"]["latest"] != state["history"]["latest"]:
        lines.append(
            f"(all historical tables): latest history id {manifest['history']['latest']} "
            f"in the manifest, {state['history']['latest']} restored"
        )
    expected, actual = manifest["migrations"], state["migrations"]
    for app in sorted(set(expected) | set(actual)):
        if expected.get(app) != actual.get(app):
            lines.append(
                f"django_migrations ({app}): latest {expected.get(app)} in the manifest, "
                f"{actual.get(app)} restored"
            )
    return lines


def summary(state):
    rows = sum(state["tables"].values())
    latest = state["history"]["latest"]
    return (
        f"{len(state['tables'])} tables, {rows:,} rows, "
        f"latest history id {latest if latest is not None else '(none)'}"
    )


def sha256(path):
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


# PostgreSQL's client programs, with the connection settings Django uses.


def _pg_program(name):
    program = shutil.which(name)
    if program is None:
        raise BackupError(
            f"{name} is not on the PATH: install PostgreSQL's client programs "
            "(apt-get install postgresql-client, the server's major version or newer)."
        )
    return program


def _libpq_args(settings_dict):
    args = []
    for flag, key in (("-h", "HOST"), ("-p", "PORT"), ("-U", "USER")):
        if settings_dict.get(key):
            args += [flag, str(settings_dict[key])]
    return args + ["-d", settings_dict.get("NAME") or "postgres"]


def _libpq_env(settings_dict):
    """The environment for pg_dump/pg_restore: the password travels here, never in argv."""
    _, env = DatabaseClient.settings_to_cmd_args_env(
        {"OPTIONS": {}, **settings_dict, "NAME": settings_dict.get("NAME") or "postgres"}, []
    )
    return {**os.environ, **(env or {})}


def _pg_connect(settings_dict, dbname=None):
    import psycopg

    options = settings_dict.get("OPTIONS") or {}
    return psycopg.connect(
        dbname=dbname or settings_dict.get("NAME"),
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
        autocommit=True,
        **{key: options[key] for key in LIBPQ_OPTIONS if options.get(key)},
    )


def _pg_describe(settings_dict):
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or 5432
    return f"PostgreSQL database {settings_dict.get('NAME')!r} on {host}:{port}"


def _createdb_hint(settings_dict):
    return "createdb " + " ".join(_libpq_args(settings_dict)[:-2] + [settings_dict["NAME"]])


def _dropdb_hint(settings_dict):
    return "dropdb " + " ".join(_libpq_args(settings_dict)[:-2] + [settings_dict["NAME"]])


# Backing up.


def back_up(output_dir, alias="default"):
    """Write a backup and its manifest into output_dir; return (copy, manifest path, manifest)."""
    connection = connections[alias]
    vendor = vendor_of(connection.settings_dict)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    created = datetime.datetime.now(datetime.UTC)
    stem = f"diplomacy-{vendor}-{created:%Y%m%dT%H%M%S}Z"
    path = output_dir / (stem + SUFFIXES[vendor])
    manifest_path = output_dir / (stem + ".json")
    if path.exists() or manifest_path.exists():
        raise BackupError(f"{path} already exists: wait a second and run the backup again.")
    # Written under a temporary name, renamed when whole: a failed backup leaves nothing that
    # looks like a backup.
    partial = output_dir / (stem + SUFFIXES[vendor] + ".partial")
    try:
        if vendor == "postgresql":
            state, tool = _dump_postgresql(connection, partial)
        else:
            state, tool = _copy_sqlite(connection, partial)
        if "django_migrations" not in state["tables"]:
            # A cron job that backs up the wrong, empty database must fail, not report success.
            raise BackupError(
                f"{VENDOR_NAMES[vendor]} database {connection.settings_dict.get('NAME')} has "
                "no tables: is DATABASE_URL right? (`make setup` migrates a new database.)"
            )
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "vendor": vendor,
            "database": str(connection.settings_dict.get("NAME")),
            "created_at": created.isoformat(timespec="seconds"),
            "file": path.name,
            "tool": tool,
            "size_bytes": partial.stat().st_size,
            "sha256": sha256(partial),
            **state,
        }
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        partial.rename(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        manifest_path.unlink(missing_ok=True)
        raise
    return path, manifest_path, manifest


def _dump_postgresql(connection, path):
    """pg_dump -Fc, run inside the snapshot that the manifest's counts are read from."""
    pg_dump = _pg_program("pg_dump")
    if connection.in_atomic_block:
        raise BackupError("A backup cannot run inside a transaction: it needs its own snapshot.")
    connection.ensure_connection()
    connection.set_autocommit(False)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = _scalar(cursor, "SELECT pg_export_snapshot()")
            state = database_state(cursor, "postgresql")
            command = [pg_dump, "--format=custom", f"--snapshot={snapshot}", "--file", str(path)]
            result = subprocess.run(
                command + _libpq_args(connection.settings_dict),
                env=_libpq_env(connection.settings_dict),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
            version = subprocess.run(
                [pg_dump, "--version"], capture_output=True, text=True, check=False
            ).stdout.strip()
    finally:
        connection.rollback()
        connection.set_autocommit(True)
    return state, version


def _copy_sqlite(connection, path):
    """SQLite's online backup API: one step, so the copy is the database at one moment."""
    connection.ensure_connection()
    target = sqlite3.connect(path)
    try:
        connection.connection.backup(target)
        # One self-contained file, with no -wal beside it, that opens read-only.
        target.execute("PRAGMA journal_mode=DELETE")
        state = database_state(target.cursor(), "sqlite")
    finally:
        target.close()
    return state, f"sqlite3 online backup API (SQLite {sqlite3.sqlite_version})"


# Restoring.


def read_backup(file):
    """The backup and its manifest from either file's path; the manifest checked for shape."""
    file = Path(file)
    if not file.exists():
        raise BackupError(f"No backup at {file}.")
    if file.suffix == ".json":
        manifest_path = file
    else:
        manifest_path = file.with_suffix(".json")
        if not manifest_path.exists():
            raise BackupError(
                f"No manifest beside {file} (expected {manifest_path}): without it the backup "
                "cannot be checked, so it is not restored."
            )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"The manifest {manifest_path} is not readable JSON: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{manifest_path} is not a backup manifest of this project.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"{manifest_path} has format version {manifest.get('format_version')}; this "
            f"version of the project reads version {FORMAT_VERSION}."
        )
    missing = [
        key
        for key in ("vendor", "file", "sha256", "tables", "history", "migrations")
        if key not in manifest
    ]
    if missing or manifest["vendor"] not in SUFFIXES:
        raise BackupError(f"The manifest {manifest_path} is incomplete ({', '.join(missing)}).")
    path = manifest_path.parent / manifest["file"]
    if not path.exists():
        raise BackupError(f"The manifest {manifest_path} names {path}, which does not exist.")
    return path, manifest


def verify_checksum(path, manifest):
    actual = sha256(path)
    if actual != manifest["sha256"]:
        raise BackupError(
            f"Checksum mismatch: {path} has SHA-256 {actual}, the manifest says "
            f"{manifest['sha256']}. The file is damaged or not this backup; nothing was restored."
        )
    return actual


def restore(file, settings_dict):
    """Restore the backup at `file` into the empty database `settings_dict` describes.

    Returns (backup path, manifest, what was restored into, state after restoring). Raises
    BackupError before writing anything when the backup or the target is not right, and
    ManifestMismatch when the restored database differs from the manifest.
    """
    path, manifest = read_backup(file)
    vendor = vendor_of(settings_dict)
    if manifest["vendor"] != vendor:
        raise BackupError(
            f"This is a {VENDOR_NAMES[manifest['vendor']]} backup; the target database is "
            f"{VENDOR_NAMES[vendor]}. Restore it into a {VENDOR_NAMES[manifest['vendor']]} "
            "database (DATABASE_URL)."
        )
    if vendor == "postgresql":
        return (path, manifest, *_restore_postgresql(path, manifest, settings_dict))
    return (path, manifest, *_restore_sqlite(path, manifest, settings_dict))


def _restore_postgresql(path, manifest, settings_dict):
    import psycopg

    pg_restore = _pg_program("pg_restore")
    target = _pg_describe(settings_dict)
    try:
        with _pg_connect(settings_dict) as connection:
            tables = _table_names(connection.cursor(), "postgresql")
    except psycopg.OperationalError as error:
        raise BackupError(
            f"Cannot connect to the target {target}: {str(error).strip()}\n"
            f"Create an empty database to restore into with: {_createdb_hint(settings_dict)}"
        ) from None
    if tables:
        raise BackupError(
            f"The target {target} is not empty ({len(tables)} tables); a restore goes into an "
            "empty database only. Create a new one, e.g. "
            f"{_createdb_hint({**settings_dict, 'NAME': settings_dict['NAME'] + '_restored'})}, "
            "and restore with DATABASE_URL pointing at it."
        )
    verify_checksum(path, manifest)
    # One transaction: a restore that fails leaves the database as empty as it was.
    result = subprocess.run(
        [pg_restore, "--no-owner", "--exit-on-error", "--single-transaction"]
        + _libpq_args(settings_dict)
        + [str(path)],
        env=_libpq_env(settings_dict),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(
            f"pg_restore failed: {result.stderr.strip()}\n"
            f"It ran in one transaction, so {target} should still be empty; to start again "
            f"from scratch: {_dropdb_hint(settings_dict)} && {_createdb_hint(settings_dict)}"
        )
    with _pg_connect(settings_dict) as connection:
        # pg_restore brings no planner statistics: without them the first queries plan blind.
        connection.execute("ANALYZE")
        state = database_state(connection.cursor(), "postgresql")
    lines = differences(manifest, state)
    if lines:
        raise ManifestMismatch(
            f"The restored {target} differs from the manifest. Do not use it: drop it with "
            f"{_dropdb_hint(settings_dict)}",
            lines,
        )
    return target, state


def _restore_sqlite(path, manifest, settings_dict):
    name = str(settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or "mode=memory" in name:
        raise BackupError("The target is an in-memory SQLite database; give a file path.")
    target = Path(name)
    if not target.parent.is_dir():
        raise BackupError(f"The directory {target.parent} does not exist; create it first.")
    described = f"SQLite database {target}"
    if target.exists():
        try:
            with contextlib.closing(sqlite3.connect(target)) as existing:
                tables = _table_names(existing.cursor(), "sqlite")
        except sqlite3.DatabaseError as error:
            raise BackupError(f"{target} exists and is not a SQLite database ({error}).") from None
        if tables:
            raise BackupError(
                f"The target {described} is not empty ({len(tables)} tables); a restore goes "
                "into an empty database only. Restore to a new path (DATABASE_URL="
                "sqlite:////path/to/new.sqlite3) or move this file away first."
            )
    verify_checksum(path, manifest)
    # Copied beside the target and checked there, then renamed over it: the target is never
    # half written, and a copy that does not match the manifest never takes its place.
    handle, partial = tempfile.mkstemp(
        prefix=target.name + ".", suffix=".restoring", dir=target.parent
    )
    os.close(handle)
    try:
        source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
            state = database_state(copy.cursor(), "sqlite")
        except sqlite3.DatabaseError as error:
            raise BackupError(
                f"{path} could not be read as a SQLite database ({error}); {target} was left "
                "as it was."
            ) from None
        finally:
            source.close()
            copy.close()
        lines = differences(manifest, state)
        if lines:
            raise ManifestMismatch(
                f"The restored copy differs from the manifest, so {target} was left as it was.",
                lines,
            )
        # The empty target's own journal files must not be replayed over the restored pages.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return described, state
