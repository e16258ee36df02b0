"""Faults measured, not hoped for: what a client sees when a gunicorn worker dies and when
PostgreSQL drops every connection, under load. Prints a report. See bench/README.md.

    .venv/bin/python bench/faults.py            # 60 s; faults at 20 s and 40 s
    .venv/bin/python bench/faults.py --seconds 12 --kill-at 4 --terminate-at 8

The server runs as `make serve` runs it: gunicorn diplomacy.wsgi:application, 2 × cores + 1 sync
workers, debug off, a secret key (a fresh one per run), static files collected, `check --deploy`
passed, `--max-requests 10000 --max-requests-jitter 500`, the access log kept (in a file). The
database is PostgreSQL (`--database-url`; by default `diplomacy_faults` on 127.0.0.1, created
if missing), migrated and with the fixtures loaded; Redis (`--redis-url`, database 6 by default,
emptied first) holds the cache and the throttles' counts. The response cache is off
(`RESPONSE_CACHE=0`): a cached response would be served from Redis without touching PostgreSQL
and hide the database's fault. The anonymous throttles are raised out of reach, so that no 429
comes from the run's single address.

Eight client threads (`--connections`), each with its own keep-alive HTTP connection (gunicorn's
sync workers close it after each response; the client then opens the next), request in turn
the API's list and an event of it, the HTML listing, that event's page and the home page, for
`--seconds`. Every request is recorded: its start, its end (the response read whole, or the
error) and its outcome, a status code or the kind of error (connection reset, closed without
a response, refused, timeout). A request succeeds when it is answered with a status below 400.

Two faults, at instants measured from the start of the load:

- at `--kill-at` (20 s): SIGKILL to one gunicorn worker (a child of the master);
- at `--terminate-at` (40 s): `pg_terminate_backend` of every other connection to the database,
  the workers' persistent ones (`conn_max_age`) among them.

For each fault, at the instant F (taken just before the signal or the statement is sent):

- **in flight**: the requests with start <= F < end;
- **time to recover**, R: the responses are ordered by their end. R = t* - F, where t* is the end
  of the first successful response ending at or after F that opens a run of successes at least
  1 s long: every response ending from t* up to the first one that ends at t* + 1 s or later,
  that one included, succeeded. Only responses ending before the next fault (or the end of the load)
  count; if no such run exists there, the service did not recover and R is reported as such.
  A fault without failures recovers at the first response after it (a few milliseconds);
- **errors attributable** to it: the failed requests in flight at F, and those started after
  F up to F + R (after F up to the next fault when the service did not recover);
- **target**: errors only among the requests in flight at F (none among those started after
  it) and R under 2 s: MET or MISSED. A missed target is a finding, not a failure of the
  script: it exits non-zero only when the script itself breaks.
"""

import argparse
import collections
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).parent / "gunicorn")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/diplomacy_faults"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/6"
# A run of successes this long after a fault ends its recovery; the target for recovering.
HEALTHY_SECONDS = 1.0
RECOVERY_TARGET_SECONDS = 2.0
# Per request (connect, send, each read): a request hanging longer is a "timeout".
REQUEST_TIMEOUT = 10.0
# Rates no run reaches, per second (bench/README.md says why per second rather than per hour).
UNREACHABLE_RATE = "100000000/s"


# --- The pure part: results, recovery, attribution (tests/test_faults_bench.py) ---


@dataclass(frozen=True)
class Result:
    """One request: start and end in seconds from the start of the load, and its outcome, a
    status code (int) or the kind of error (str)."""

    start: float
    end: float
    path: str
    outcome: int | str

    @property
    def ok(self):
        return isinstance(self.outcome, int) and self.outcome < 400


def error_kind(outcome):
    """The name an outcome is counted under: `HTTP 500`, or the error's kind."""
    return f"HTTP {outcome}" if isinstance(outcome, int) else outcome


def classify(error):
    """The kind of a request's exception, as the report counts it."""
    # RemoteDisconnected is a ConnectionResetError too: the server closed without answering.
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed without response"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, BrokenPipeError):
        return "broken pipe"
    if isinstance(error, TimeoutError):  # socket.timeout is an alias
        return "timeout"
    return type(error).__name__


def recovery_time(results, fault, until=float("inf"), healthy=HEALTHY_SECONDS):
    """Seconds from the fault instant until the first moment after which every response
    succeeds for at least `healthy` seconds (the module's docstring defines it); None when no
    such run of successes starts before `until` and ends before it."""
    responses = sorted((r for r in results if fault <= r.end < until), key=lambda r: r.end)
    for index, first in enumerate(responses):
        if not first.ok:
            continue
        for later in responses[index:]:
            if not later.ok:
                break
            if later.end >= first.end + healthy:
                return first.end - fault
    return None


def attributable(results, fault, recovery, until=float("inf")):
    """(the requests in flight at the fault, the failed ones among them, the failed requests
    started after the fault, up to fault + recovery; without a recovery, before `until`)."""
    in_flight = [r for r in results if r.start <= fault < r.end]
    horizon = until if recovery is None else fault + recovery
    after = [r for r in results if fault < r.start <= horizon and r.start < until and not r.ok]
    return in_flight, [r for r in in_flight if not r.ok], after


def verdict(failed_after, recovery):
    """MET when only requests in flight failed and the service recovered within the target."""
    met = not failed_after and recovery is not None and recovery < RECOVERY_TARGET_SECONDS
    return "MET" if met else "MISSED"


def count_kinds(results):
    return collections.Counter(error_kind(r.outcome) for r in results if not r.ok)


def format_kinds(counter):
    return "; ".join(f"{kind}: {count:,}" for kind, count in sorted(counter.items())) or "none"


# --- The run ---


class Client(threading.Thread):
    """One connection's requests in turn until `stop` is set, each recorded in `results`."""

    def __init__(self, port, paths, offset, origin, stop, results):
        super().__init__(daemon=True)
        self.port, self.paths, self.offset = port, paths, offset
        self.origin, self.stop, self.results = origin, stop, results

    def run(self):
        connection = None
        turn = self.offset
        while not self.stop.is_set():
            path = self.paths[turn % len(self.paths)]
            turn += 1
            if connection is None:
                connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT
                )
            start = time.monotonic()
            try:
                connection.request("GET", path, headers={"Connection": "keep-alive"})
                response = connection.getresponse()
                response.read()
                outcome = response.status
                if response.will_close:
                    connection.close()
                    connection = None
            except Exception as error:  # every kind of failure is an outcome to count
                outcome = classify(error)
                connection.close()
                connection = None
            end = time.monotonic()
            self.results.append(Result(start - self.origin, end - self.origin, path, outcome))
        if connection is not None:
            connection.close()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_env(args, port):
    """`make serve`'s environment, with the run's database, Redis, cache and throttles."""
    return {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "RESPONSE_CACHE": "0",
        "API_ANON_THROTTLE": UNREACHABLE_RATE,
        "CSV_ANON_THROTTLE": UNREACHABLE_RATE,
        "PAGES_ANON_THROTTLE": UNREACHABLE_RATE,
    }


def database_params(url):
    import dj_database_url

    parsed = dj_database_url.parse(url)
    if parsed["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit(f"--database-url must name a PostgreSQL database, not {url}")
    return {
        "host": parsed["HOST"] or "127.0.0.1",
        "port": parsed["PORT"] or 5432,
        "user": parsed["USER"] or None,
        "password": parsed["PASSWORD"] or None,
        "dbname": parsed["NAME"],
    }


def prepare(args, env):
    """Creates the database if missing, migrates it, loads the fixtures, collects the static
    files and runs `check --deploy`, as `make serve` does before it starts gunicorn; returns
    the check's outcome."""
    import psycopg
    from psycopg import sql

    params = database_params(args.database_url)
    if not args.no_prepare:
        with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [params["dbname"]]
            ).fetchone()
            if not exists:
                progress(f"creating the database {params['dbname']}")
                create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(params["dbname"]))
                admin.execute(create)
        progress("migrating and loading the fixtures")
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "load_fixtures", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    import redis

    redis.Redis.from_url(args.redis_url, socket_connect_timeout=2).flushdb()
    # `make serve` stops here when the check fails; the run goes on and says so in its report
    # (a warning the check raises says nothing of how the server takes a fault).
    try:
        manage(env, "check", "--deploy", "--fail-level", "WARNING")
    except RuntimeError as error:
        progress(str(error))
        return "FAILED (`make serve` would not start; see above)"
    return "passed"


def manage(env, *command):
    result = subprocess.run(
        [PYTHON, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {command[0]} failed: {result.stderr[-1500:]}")


def start_gunicorn(env, port, workers, log):
    """gunicorn with `make serve`'s options, in its own session (a Ctrl-C reaches the script,
    which then stops gunicorn itself)."""
    command = [GUNICORN, "diplomacy.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--access-logfile", str(log.with_suffix(".access"))]
    command += ["--max-requests", "10000", "--max-requests-jitter", "500"]
    # gunicorn 27's control socket defaults to one path per user: another gunicorn on the
    # machine (`make serve`, bench.py) would share it. Serving does not use it.
    command += ["--no-control-socket"]
    with log.open("w") as errors:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=errors, stderr=errors, start_new_session=True
        )


def stop_gunicorn(server):
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def workers_of(master):
    """The pids of the gunicorn master's children, its workers."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: the command name may hold spaces, so split after ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            children.append(int(entry.name))
    return sorted(children)


def get(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_up(server, port, workers):
    """Until the API answers and every worker is up; (status, body) of the API's first page."""
    for _ in range(240):
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode})")
        try:
            status, body = get(port, "/api/events/?page_size=1")
            if status == 200 and len(workers_of(server.pid)) == workers:
                return body
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer")


def paths_to_request(body):
    """The API's list and an event of it, the HTML listing, the event's page and the home page."""
    import json

    events = json.loads(body)["results"]
    if not events:
        raise RuntimeError("the database has no published event: load the fixtures")
    slug = events[0]["slug"]
    return ["/api/events/", f"/api/events/{slug}/", "/events/", f"/events/{slug}/", "/"]


def terminate_connections(params):
    """Terminates every other connection to the database; (instant, how many were ended)."""
    import psycopg

    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as admin:
        instant = time.monotonic()
        ended = admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [params["dbname"]],
        ).fetchone()[0]
    return instant, ended


def load(port, paths, connections, seconds, warm_up=2.0):
    """Starts the clients after `warm_up` seconds of unrecorded requests (every worker opens its
    database connection); returns (origin, stop event, results, threads)."""
    warm = threading.Event()
    for offset in range(connections):
        Client(port, paths, offset, time.monotonic(), warm, []).start()
    time.sleep(warm_up)
    warm.set()
    origin, stop, results = time.monotonic(), threading.Event(), []
    threads = [Client(port, paths, n, origin, stop, results) for n in range(connections)]
    for thread in threads:
        thread.start()
    return origin, stop, results, threads


def sleep_until(instant):
    while (left := instant - time.monotonic()) > 0:
        time.sleep(min(left, 0.05))


def run(args):
    port = args.port or free_port()
    env = serve_env(args, port)
    params = database_params(args.database_url)
    checked = prepare(args, env)
    workers = args.workers or 2 * len(os.sched_getaffinity(0)) + 1
    log = Path(tempfile.mkdtemp(prefix="faults-")) / "gunicorn.log"
    progress(f"starting gunicorn on 127.0.0.1:{port}, {workers} workers (log {log})")
    server = start_gunicorn(env, port, workers, log)
    stop = threading.Event()
    threads = []
    try:
        paths = paths_to_request(wait_until_up(server, port, workers))
        progress(f"load: {args.connections} connections for {args.seconds} s")
        before = os.getloadavg()[0]
        origin, stop, results, threads = load(port, paths, args.connections, args.seconds)
        faults = []
        for at, fault in sorted(
            [(args.kill_at, "kill"), (args.terminate_at, "terminate")], key=lambda pair: pair[0]
        ):
            if not 0 < at < args.seconds:
                continue
            sleep_until(origin + at)
            if fault == "kill":
                victim = workers_of(server.pid)[0]
                instant = time.monotonic()
                os.kill(victim, signal.SIGKILL)
                what = f"SIGKILL to worker {victim}"
            else:
                instant, ended = terminate_connections(params)
                what = f"pg_terminate_backend ({ended} connections)"
            faults.append((instant - origin, what))
            progress(f"{what} at {instant - origin:.2f} s")
        sleep_until(origin + args.seconds)
        stop.set()
        for thread in threads:
            thread.join(REQUEST_TIMEOUT + 5)
        # Only what started before the end of the load counts (a thread may start one more).
        done = [r for r in results if r.start < args.seconds]
        report(args, workers, paths, done, faults, log, checked, (before, os.getloadavg()[0]))
    finally:
        stop.set()
        for thread in threads:
            thread.join(REQUEST_TIMEOUT + 5)
        stop_gunicorn(server)


def report(args, workers, paths, results, faults, log, checked, load_averages):
    seconds = args.seconds
    failed = [r for r in results if not r.ok]
    name = database_params(args.database_url)["dbname"]
    print(
        f"# Faults: gunicorn, {workers} sync workers (`make serve`'s options), PostgreSQL "
        f"`{name}`, Redis {args.redis_url}; response cache off (RESPONSE_CACHE=0), "
        f"throttles out of reach; DATABASE_CONN_MAX_AGE "
        f"{os.environ.get('DATABASE_CONN_MAX_AGE', '60')} s, conn_health_checks on\n"
    )
    before, after = load_averages
    print(
        f"`check --deploy`: {checked}. Load average (1 min) {before:.1f} before the load, "
        f"{after:.1f} after it, on {len(os.sched_getaffinity(0))} cores shared with whatever "
        "else runs\n"
    )
    print(f"{args.connections} connections for {seconds} s, in turn: {', '.join(paths)}\n")
    print(
        f"- requests: {len(results):,}, {len(results) / seconds:,.1f} req/s; "
        f"succeeded {len(results) - len(failed):,}, failed {len(failed):,}"
    )
    latencies = sorted(r.end - r.start for r in results if r.ok)
    if latencies:
        p50, p99 = (latencies[int(q * (len(latencies) - 1))] * 1000 for q in (0.5, 0.99))
        print(f"- latency of the successes: p50 {p50:,.0f} ms, p99 {p99:,.0f} ms")
    print(f"- errors by kind: {format_kinds(count_kinds(results))}")
    print(
        "\n| fault | at s | in flight | errors in flight | errors started after | "
        "errors by kind | recovery s | target | |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---|---|")
    counted = set()
    for index, (instant, what) in enumerate(faults):
        until = faults[index + 1][0] if index + 1 < len(faults) else seconds
        recovery = recovery_time(results, instant, until)
        in_flight, failed_in_flight, failed_after = attributable(results, instant, recovery, until)
        counted.update(failed_in_flight + failed_after)
        shown = "not recovered" if recovery is None else f"{recovery:.3f}"
        print(
            f"| {what} | {instant:.2f} | {len(in_flight)} | {len(failed_in_flight)} | "
            f"{len(failed_after)} | {format_kinds(count_kinds(failed_in_flight + failed_after))} "
            f"| {shown} | errors in flight only, recovery < {RECOVERY_TARGET_SECONDS:.0f} s | "
            f"{verdict(failed_after, recovery)} |"
        )
    others = [r for r in failed if r not in counted]
    print(f"\n- errors outside every fault's window: {len(others):,}")
    if failed:
        print("- failed requests (start-end s, path, outcome):")
        for r in sorted(failed, key=lambda r: r.start)[:40]:
            print(f"  - {r.start:.3f}-{r.end:.3f} {r.path} {error_kind(r.outcome)}")
    exceptions = server_exceptions(log)
    if exceptions:
        print(f"- the server's log ({log}) names: {format_kinds(exceptions)}")


# The last line of a traceback: a dotted exception name, a colon, the message.
EXCEPTION_LINE = re.compile(r"^((?:[A-Za-z_]\w*\.)*[A-Z]\w*): ")


def server_exceptions(log):
    """The exceptions named in gunicorn's log: Django logs each 500's traceback, chained
    exceptions (psycopg's under Django's) each on its own line."""
    counter = collections.Counter()
    for line in log.read_text(errors="replace").splitlines():
        if match := EXCEPTION_LINE.match(line):
            counter[match[1]] += 1
    return counter


def progress(message):
    print(message, file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--no-prepare",
        action="store_true",
        help="neither create, migrate nor load the fixtures into the database",
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="emptied before the run")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-at", type=float, default=20, help="0: no worker killed")
    parser.add_argument("--terminate-at", type=float, default=40, help="0: no connection ended")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=0, help="default 2 × cores + 1")
    parser.add_argument("--port", type=int, default=0, help="default a free one")
    args = parser.parse_args(argv)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        run(args)
    except KeyboardInterrupt:
        progress("interrupted: gunicorn stopped")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
