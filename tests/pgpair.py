"""A PostgreSQL 15 primary and its streaming hot standby, started for the tests and removed after.

Both servers run from PostgreSQL's own tools (`initdb`, `pg_ctl`, `pg_basebackup`) as the
`postgres` OS user when the tests run as root, in temporary directories, on free ports, and
listen on 127.0.0.1 only. They never touch the machine's own cluster. Settings favour a quick
start over durability (`fsync=off`, small buffers): the data lives only as long as the tests.

`PG_BINDIR` names the directory of the tools (`/usr/lib/postgresql/15/bin` by default).
"""

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import dj_database_url
import psycopg
from django.conf import settings
from django.db import connections

BINDIR = Path(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"))
TOOLS = ("initdb", "pg_ctl", "pg_basebackup")
DATABASE = "replica_pair"
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "shared_buffers": "16MB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "replica",
    "max_wal_senders": "4",
    "hot_standby": "on",
    # The standby asks for WAL every 100 ms after losing the primary, not every 5 s.
    "wal_retrieve_retry_interval": "100ms",
    "max_connections": "30",
    "log_min_messages": "warning",
}


def missing_tools():
    return [name for name in TOOLS if not (BINDIR / name).is_file()]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One PostgreSQL server: its data directory, port and socket directory."""

    def __init__(self, root, name):
        self.name = name
        self.data = root / name
        self.port = free_port()
        self.socket_dir = root
        self.log = root / f"{name}.log"

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def options(self):
        settings_ = {**SERVER_SETTINGS, "port": self.port}
        settings_["unix_socket_directories"] = str(self.socket_dir)
        return " ".join(f"-c {key}={value}" for key, value in settings_.items())

    def start(self):
        run_as_postgres(
            "pg_ctl", "start", "-w", "-t", "30", "-D", self.data, "-l", self.log,
            "-o", self.options(),
        )  # fmt: skip

    def stop(self, mode="fast"):
        """Stop the server; `immediate` is a crash (no checkpoint), `fast` a clean shutdown."""
        run_as_postgres("pg_ctl", "stop", "-w", "-t", "30", "-m", mode, "-D", self.data)

    def running(self):
        result = subprocess.run(
            as_postgres("pg_ctl", "status", "-D", self.data), capture_output=True, check=False
        )
        return result.returncode == 0

    def query(self, sql, database=DATABASE):
        """One statement on a connection of its own, outside Django."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        ) as connection:
            cursor = connection.execute(sql)
            return cursor.fetchall() if cursor.description else []


def as_postgres(tool, *args):
    command = [str(BINDIR / tool), *(str(arg) for arg in args)]
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def run_as_postgres(tool, *args):
    result = subprocess.run(as_postgres(tool, *args), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr or result.stdout}")
    return result.stdout


class PostgresPair:
    """A primary and a hot standby streaming from it."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="pgpair-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.primary = Server(self.root, "primary")
        self.replica = Server(self.root, "replica")
        atexit.register(self.remove)

    def start(self):
        run_as_postgres(
            "initdb", "-D", self.primary.data, "-U", "postgres", "--auth=trust", "--no-sync",
            "--no-instructions", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        self.primary.start()
        self.primary.query(f"CREATE DATABASE {DATABASE}", database="postgres")
        run_as_postgres(
            "pg_basebackup", "-h", "127.0.0.1", "-p", self.primary.port, "-U", "postgres",
            "-D", self.replica.data, "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        self.replica.start()
        self.wait_for_replay()

    def remove(self):
        """Stop both servers (a crash stop is enough: the data is thrown away) and delete them."""
        for server in (self.replica, self.primary):
            if server.data.exists() and server.running():
                with contextlib.suppress(RuntimeError):
                    server.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def wait_for_replay(self, timeout=20):
        """Wait until the standby has replayed everything the primary has written."""
        target = self.primary.query("SELECT pg_current_wal_lsn()")[0][0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.replica.query(f"SELECT pg_last_wal_replay_lsn() >= '{target}'")[0][0]:
                return
            time.sleep(0.05)
        raise TimeoutError(f"the standby did not replay up to {target} in {timeout} s")

    def pause_replay(self):
        self.replica.query("SELECT pg_wal_replay_pause()")

    def resume_replay(self):
        self.replica.query("SELECT pg_wal_replay_resume()")


REPLICA_ALIAS = "replica1"


def _alias_settings(url):
    """Settings for one alias, as diplomacy/settings.py builds them from a URL."""
    options = dict(settings.DATABASES["default"].get("OPTIONS", {}))
    return {
        **dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True),
        "OPTIONS": options,
    }


def _forget(alias):
    if hasattr(connections._connections, alias):
        connections[alias].close()
        del connections[alias]


@contextlib.contextmanager
def django_on(pair):
    """Point Django's `default` alias at the pair's primary and `replica1` at its standby.

    The pair is a server of its own, outside pytest-django's test database: the aliases are
    swapped in `connections` for the duration and the previous ones put back afterwards.
    """
    aliases = ("default", REPLICA_ALIAS)
    saved = {alias: connections.settings.get(alias) for alias in aliases}
    for alias in aliases:
        _forget(alias)
    connections.settings["default"] = _alias_settings(pair.primary.url)
    connections.settings[REPLICA_ALIAS] = _alias_settings(pair.replica.url)
    connections.configure_settings(connections.settings)
    try:
        yield
    finally:
        for alias in aliases:
            _forget(alias)
            if saved[alias] is None:
                del connections.settings[alias]
            else:
                connections.settings[alias] = saved[alias]
