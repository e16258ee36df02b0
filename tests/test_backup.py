"""`backup` and `restore`: a backup of the suite's database restores into a new, empty database
with every table equal row for row; a non-empty target, a damaged file and a restore that does
not match its manifest are refused with a message naming the problem.

pg_dump sees committed rows only, so these tests commit (transaction=True). The PostgreSQL run
restores into a database of its own, `<test database>_restore`, made and dropped here; the
SQLite run restores into a file under tmp_path.
"""

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from events.models import Event
from tests.articles import load_articles
from tests.factories import make_actor, make_country, make_event

pytestmark = pytest.mark.django_db(transaction=True)


def postgres_url(name):
    params = connection.settings_dict
    login = quote(params["USER"] or "", safe="")
    if params["PASSWORD"]:
        login += ":" + quote(params["PASSWORD"], safe="")
    host = params["HOST"] or "localhost"
    port = params["PORT"] or 5432
    return f"postgres://{login}@{host}:{port}/{name}"


def pg_connect(name):
    params = connection.settings_dict
    return psycopg.connect(
        dbname=name,
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        autocommit=True,
    )


class Target:
    """An empty database to restore into, and a way to read it back."""

    def __init__(self, url, open_connection, is_empty):
        self.url = url
        self.open = open_connection
        self.is_empty = is_empty


@pytest.fixture
def empty_target(tmp_path):
    if connection.vendor == "postgresql":
        name = connection.settings_dict["NAME"] + "_restore"
        with pg_connect("postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')

        def is_empty():
            with pg_connect(name) as target:
                return not table_names(target)

        yield Target(postgres_url(name), lambda: pg_connect(name), is_empty)
        with pg_connect("postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_path / "restored.sqlite3"
        yield Target(f"sqlite:///{path}", lambda: sqlite3.connect(path), lambda: not path.exists())


def table_names(dbapi_connection):
    cursor = dbapi_connection.cursor()
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return sorted(row[0] for row in cursor.fetchall())


def every_row(dbapi_connection):
    """{table: (columns, rows in a stable order)} for every table, SQLite's own included."""
    cursor = dbapi_connection.cursor()
    contents = {}
    for table in table_names(dbapi_connection):
        cursor.execute(f'SELECT * FROM "{table}"')
        columns = [column[0] for column in cursor.description]
        contents[table] = (columns, sorted(cursor.fetchall(), key=repr))
    if not isinstance(dbapi_connection, sqlite3.Connection):
        cursor.execute("SELECT sequencename, last_value FROM pg_sequences ORDER BY 1")
        contents["(sequences)"] = (["sequencename", "last_value"], cursor.fetchall())
    return contents


def source_rows():
    if connection.vendor == "postgresql":
        with pg_connect(connection.settings_dict["NAME"]) as source:
            return every_row(source)
    # A plain connection, like the restored side's (Django's converts dates): the in-memory
    # test database is shared while Django's connection holds it open.
    connection.ensure_connection()
    source = sqlite3.connect(connection.settings_dict["NAME"], uri=True)
    try:
        return every_row(source)
    finally:
        source.close()


def fill_database():
    """The article fixtures, plus rows written since: a new country, event and actor, and an
    edit, each with its history."""
    load_articles()
    make_country("ZZ", "ZZZ", "Testland")
    make_actor(name="Backup test actor")
    make_event(title="Backed up meeting")
    event = Event.objects.order_by("pk").first()
    event.title = event.title + " (edited)"
    event.save()


def back_up(tmp_path):
    out = io.StringIO()
    call_command("backup", output_dir=str(tmp_path / "backups"), stdout=out)
    lines = out.getvalue().splitlines()
    backup = Path(lines[0].removeprefix("Backup:").strip())
    manifest = Path(lines[1].removeprefix("Manifest:").strip())
    return backup, manifest, lines[2]


def restore(file, target, stderr=None):
    out = io.StringIO()
    call_command("restore", str(file), database_url=target.url, stdout=out, stderr=stderr)
    return out.getvalue()


def test_backup_restores_every_table_row_for_row(tmp_path, empty_target):
    fill_database()
    backup, manifest_path, summary = back_up(tmp_path)
    manifest = json.loads(manifest_path.read_text())

    assert backup.exists() and backup.parent == manifest_path.parent
    assert manifest["file"] == backup.name
    assert manifest["vendor"] == connection.vendor
    assert manifest["migrations"]["events"] == max(
        path.stem for path in (Path(settings.BASE_DIR) / "events" / "migrations").glob("0*.py")
    )
    assert manifest["tables"]["events_event"] == Event.objects.count()
    assert manifest["tables"]["django_migrations"] > 0
    latest = Event.history.order_by("-history_id").first().history_id
    assert manifest["history"]["tables"][Event.history.model._meta.db_table] == latest
    assert manifest["history"]["latest"] >= latest
    assert f"{sum(manifest['tables'].values()):,} rows" in summary

    output = restore(backup, empty_target)

    assert "Checksum OK" in output
    assert f"{len(manifest['tables'])} tables" in output
    with empty_target.open() as restored:
        restored_rows = every_row(restored)
    original_rows = source_rows()
    assert sorted(restored_rows) == sorted(original_rows)
    for table, contents in original_rows.items():
        assert restored_rows[table] == contents, f"{table} differs after the restore"


def test_restore_refuses_a_database_that_is_not_empty(tmp_path, empty_target):
    load_articles()
    backup, _, _ = back_up(tmp_path)
    restore(backup, empty_target)

    with pytest.raises(CommandError) as refused:
        restore(backup, empty_target)

    message = str(refused.value)
    assert "is not empty" in message
    assert "createdb" in message if connection.vendor == "postgresql" else "new path" in message
    # The restored database is still there, whole.
    with empty_target.open() as target:
        count = target.cursor().execute("SELECT COUNT(*) FROM events_event").fetchone()[0]
    assert count == Event.objects.count()


def test_a_tampered_backup_is_refused_before_anything_is_written(tmp_path, empty_target):
    load_articles()
    backup, _, _ = back_up(tmp_path)
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0xFF
    backup.write_bytes(bytes(data))

    with pytest.raises(CommandError, match="Checksum mismatch"):
        restore(backup, empty_target)

    assert empty_target.is_empty()


def test_a_restore_that_differs_from_the_manifest_names_each_table(tmp_path, empty_target):
    load_articles()
    backup, manifest_path, _ = back_up(tmp_path)
    manifest = json.loads(manifest_path.read_text())
    history_table = Event.history.model._meta.db_table
    manifest["tables"]["events_event"] += 1
    manifest["history"]["tables"][history_table] += 1
    manifest_path.write_text(json.dumps(manifest))

    stderr = io.StringIO()
    with pytest.raises(CommandError, match="differs from the manifest") as refused:
        restore(backup, empty_target, stderr=stderr)

    lines = stderr.getvalue().splitlines()
    assert any(line.startswith("events_event: ") and "rows" in line for line in lines)
    assert any(line.startswith(f"{history_table}: latest history id") for line in lines)
    assert len(lines) == 2  # only those two: the other tables restored as the manifest says
    if connection.vendor == "postgresql":
        assert "dropdb" in str(refused.value)
    else:
        assert empty_target.is_empty()  # the copy never took the target's place


def test_a_missing_or_broken_manifest_is_refused(tmp_path, empty_target):
    load_articles()
    backup, manifest_path, _ = back_up(tmp_path)

    with pytest.raises(CommandError, match="No backup at"):
        restore(tmp_path / "nothing.dump", empty_target)
    manifest_path.write_text("{not json")
    with pytest.raises(CommandError, match="not readable JSON"):
        restore(backup, empty_target)
    manifest_path.unlink()
    with pytest.raises(CommandError, match="No manifest beside"):
        restore(backup, empty_target)
    assert empty_target.is_empty()


def test_a_file_that_is_no_backup_fails_to_restore_and_leaves_the_target_empty(
    tmp_path, empty_target
):
    """The checksum matches (the manifest was made for this file) but the file is no archive:
    the restore fails as a whole, in one transaction on PostgreSQL."""
    load_articles()
    backup, manifest_path, _ = back_up(tmp_path)
    backup.write_bytes(b"not a database " * 1000)
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = hashlib.sha256(backup.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(CommandError) as failed:
        restore(backup, empty_target)

    message = str(failed.value)
    if connection.vendor == "postgresql":
        assert "pg_restore failed" in message
        assert "dropdb" in message and "createdb" in message
    else:
        assert "could not be read as a SQLite database" in message
    assert empty_target.is_empty()
    assert not list(tmp_path.glob("*.restoring"))


def run_manage(*args, database_url=None):
    env = dict(os.environ)
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_backing_up_a_database_without_tables_fails(tmp_path):
    """A scheduled backup pointed at the wrong (new, empty) database must not report success."""
    result = run_manage(
        "backup",
        "--output-dir",
        str(tmp_path / "backups"),
        database_url=f"sqlite:///{tmp_path / 'new.sqlite3'}",
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "has no tables: is DATABASE_URL right?" in result.stderr
    assert not list((tmp_path / "backups").iterdir())


def test_the_command_exits_non_zero_with_one_line_and_no_traceback(tmp_path):
    result = run_manage("restore", str(tmp_path / "missing.dump"))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"Nothing restored: No backup at {tmp_path / 'missing.dump'}." in result.stderr
