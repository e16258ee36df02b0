"""Benchmark: latency, query counts and plans of every list, page and admin screen; import
and export rates; throughput under gunicorn. Prints markdown tables. See bench/README.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/bench.py

The database should hold synthetic data (`manage.py generate_synthetic`). Requests run
in-process through Django's test client (no network), so a latency is the server's own time.
"""

import argparse
import base64
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "diplomacy.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-secret")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
# Rates no run reaches, per second: DRF's throttle keeps a list of the client's requests in the
# window and reads and writes it whole on every request. Per hour, every request of the run
# (all from one address) would stay in it, tens of thousands, a cost no real client's list
# reaches (the API's 1,000/hour caps it at 1,000); per second it holds about a second's worth.
os.environ.setdefault("API_ANON_THROTTLE", "100000000/s")
os.environ.setdefault("CSV_ANON_THROTTLE", "100000000/s")
os.environ.setdefault("PAGES_ANON_THROTTLE", "100000000/s")

import django  # noqa: E402

django.setup()

# The baseline's SQL, shared with the bare app (bench/, beside this script, is on sys.path).
from bare_app import RAW_LIST  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from events import shape  # noqa: E402
from events.models import Actor, Event  # noqa: E402

PYTHON = sys.executable
settings.ALLOWED_HOSTS = ["*"]
settings.DEBUG = False


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Bench:
    def __init__(self, repeat):
        self.repeat = repeat
        self.rows = []
        self.plans = []
        self.anonymous = Client(HTTP_HOST="localhost")
        self.staff = Client(HTTP_HOST="localhost")
        user, _ = get_user_model().objects.get_or_create(
            username="bench", defaults={"is_staff": True, "is_superuser": True}
        )
        self.staff.force_login(user)

    def measure(self, name, fn, target_ms=None, explain=False):
        """Median and p95 of `repeat` warm runs; a failure is a row of the table, not a stop."""
        try:
            start = time.perf_counter()
            fn()  # warm up caches and connections
            # A screen that takes seconds is measured 3 times, not `repeat` times: its figure
            # is a miss either way, and 20 runs of it would take minutes.
            runs = self.repeat if time.perf_counter() - start < 2 else min(3, self.repeat)
            timings, queries = [], 0
            for _ in range(runs):
                with CaptureQueriesContext(connection) as captured:
                    start = time.perf_counter()
                    fn()
                    timings.append((time.perf_counter() - start) * 1000)
                queries = len(captured)
        except Exception as error:  # reported as a row of the table
            self.rows.append((name, None, None, None, target_ms, f"ERROR {error}"[:120]))
            print(f"  {name}: ERROR {error}", file=sys.stderr, flush=True)
            return None
        median, p95 = statistics.median(timings), percentile(timings, 0.95)
        verdict = "" if target_ms is None else ("ok" if p95 <= target_ms else "MISSED")
        seq = self.explain(name, captured.captured_queries) if explain else False
        if seq:
            verdict = (verdict + " SEQ SCAN").strip()
        if runs < self.repeat:
            verdict = f"{verdict} ({runs} runs)".strip()
        self.rows.append((name, median, p95, queries, target_ms, verdict))
        print(
            f"  {name}: median {median:.1f} ms, p95 {p95:.1f} ms, {queries} queries {verdict}",
            file=sys.stderr,
            flush=True,
        )
        return median

    def get(self, client, url, status=200):
        def fetch():
            response = client.get(url)
            if response.status_code != status:
                raise RuntimeError(f"{url}: {response.status_code} {response.content[:200]!r}")
            if hasattr(response, "streaming_content"):
                for _ in response.streaming_content:
                    pass
            else:
                assert response.content

        return fetch

    def explain(self, name, queries):
        """Record the plan of the request's main events query; True if it scans events_event."""
        if connection.vendor != "postgresql":
            return False
        for query in queries:
            sql = query["sql"]
            if "events_event" not in sql or not sql.lstrip().upper().startswith("SELECT"):
                continue
            if "LIMIT" not in sql.upper() and "COUNT" not in sql.upper():
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            seq = "Seq Scan on events_event " in plan + " "
            self.plans.append((name, seq, plan))
            return seq
        return False

    def table(self):
        lines = [
            "| measurement | median ms | p95 ms | queries | target p95 ms | |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for name, median, p95, queries, target, verdict in self.rows:
            if median is None:
                lines.append(f"| {name} | | | | {'' if target is None else target} | {verdict} |")
                continue
            lines.append(
                f"| {name} | {median:.1f} | {p95:.1f} | {queries} | "
                f"{'' if target is None else target} | {verdict} |"
            )
        return "\n".join(lines)


# The event's own columns that the API shows (events/shape.py), for the raw query (RAW_LIST,
# in bare_app.py).
RAW_COLUMNS = ", ".join(
    f"ev.{field.name}" for field in shape.FIELDS if field.lookups == (field.name,)
)


def raw_list(where="", params=()):
    import psycopg

    dsn = settings.DATABASES["default"]
    conn = psycopg.connect(
        host=dsn["HOST"],
        port=dsn["PORT"] or 5432,
        user=dsn["USER"],
        dbname=dsn["NAME"],
        password=dsn["PASSWORD"] or None,
    )

    def run():
        with conn.cursor() as cursor:
            cursor.execute(RAW_LIST.format(columns=RAW_COLUMNS, where=where), params)
            payload = cursor.fetchone()[0]
            json.dumps(payload)  # the raw path also hands out serialised JSON

    return run


def cursor_at(offset):
    """A cursor for the events list `offset` published rows deep (found once, untimed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT start_date, id FROM events_event WHERE review_state = 'published' "
            "ORDER BY start_date DESC, id DESC OFFSET %s LIMIT 1",
            [offset],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    payload = {"o": "-date", "p": [row[0].isoformat(), row[1]], "b": False}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FILTERS = [
    ("kind=expulsion", "kind"),
    ("kind=expulsion,phone_call", "kind (two)"),
    ("status=planned", "status"),
    ("date_after=2018-03-01&date_before=2018-03-31", "date range (a month)"),
    ("date_after=2010-01-01", "date after"),
    ("country=JP", "country"),
    ("initiator=US", "initiator"),
    ("target=RU", "target"),
    ("cameo=041", "cameo"),
    ("plover=SANCTION", "plover"),
    ("q=treaty", "text search"),
    ("ordering=date", "ordering=date"),
    ("ordering=title", "ordering=title"),
    ("kind=expulsion&initiator=US&target=RU", "kind × initiator × target"),
    (
        "kind=meeting&country=JP&date_after=2015-01-01&date_before=2019-12-31",
        "kind × country × dates",
    ),
    ("q=trade&kind=sanction&date_after=2000-01-01", "text × kind × dates"),
    ("q=nuclear&initiator=US&ordering=title", "text × initiator × title order"),
]


def run_measured(command, env):
    """Run a command; (seconds, peak RSS in MB of that process alone, stderr tail)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    error = process.stderr.read()[-800:]
    if process.returncode:
        raise RuntimeError(f"{' '.join(command[1:4])} failed ({process.returncode}): {error}")
    return seconds, usage.ru_maxrss / 1024  # kilobytes on Linux


def date_after_for(rows_wanted):
    """The start date of the `rows_wanted`-th newest event: a window of about that many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT start_date FROM events_event ORDER BY start_date DESC, id DESC "
            "OFFSET %s LIMIT 1",
            [rows_wanted],
        )
        row = cursor.fetchone()
    return row[0].isoformat() if row else "1900-01-01"


def export_and_import(rows_wanted, export_all=False):
    """Export rate and peak memory; import rates into this database, measured and rolled
    back (bench/import_probe.py), beside the COPY of the same file as a baseline. Yields
    (name, events, seconds, peak RSS MB, note)."""
    env = {**os.environ}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export.csv"
        after = date_after_for(rows_wanted)
        try:
            seconds, peak = run_measured(
                [PYTHON, "manage.py", "export_events", "--date-after", after, "-o", str(out)], env
            )
        except RuntimeError as error:
            yield ("export_events (CSV)", None, None, None, str(error))
            return
        exported = count_csv_rows(out)
        yield ("export_events (CSV)", exported, seconds, peak, "")
        if connection.vendor == "postgresql":
            yield from imports_into_this_database(out, Path(tmp), env)
        if export_all:
            out.unlink()
            everything = Path(tmp) / "all.csv"
            try:
                seconds, peak = run_measured(
                    [PYTHON, "manage.py", "export_events", "-o", str(everything)], env
                )
                yield ("export_events, all events", count_csv_rows(everything), seconds, peak, "")
            except RuntimeError as error:
                yield ("export_events, all events", None, None, None, str(error))


# Issue 13's import targets (events per second, into the 5,000,000-event database).
IMPORT_TARGETS = {"new": 25_000, "updated": 5_000}


def imports_into_this_database(export, tmp, env):
    """The exported events imported into the database they came from, each run rolled back:
    under new slugs (new events, each one a duplicate of its original, without links, which
    would name the originals), and as they are with a changed title (updates of existing
    events); beside them the COPY of the same file into a table of text columns."""
    copies, revised = tmp / "copies.csv", tmp / "revised.csv"
    rewrite(export, copies, lambda row: {**row, "slug": f"bench-copy-{row['slug']}",
                                         "links": "", "linked_from": ""})  # fmt: skip
    rewrite(export, revised, lambda row: {**row, "title": f"{row['title']} (revised)"})
    probe = [PYTHON, str(ROOT / "bench" / "import_probe.py")]
    try:
        seconds, peak, report = run_probe([*probe, str(copies), "--baseline"], env)
        baseline = report["rows"] / seconds
        yield ("baseline: COPY of the file into a text table", report["rows"], seconds, peak, "")
    except RuntimeError as error:
        yield ("baseline: COPY of the file into a text table", None, None, None, str(error))
        return
    for name, path, what in (
        ("import_events, new events (new slugs), rolled back", copies, "created"),
        ("import_events, updates (title changed), rolled back", revised, "updated"),
    ):
        try:
            seconds, peak, report = run_probe([*probe, str(path)], env)
        except RuntimeError as error:
            yield (name, None, None, None, str(error))
            continue
        if report["problems"] or not report["counts"]:
            yield (name, None, None, None, "; ".join(report["problems"]))
            continue
        count = report["counts"][what]
        rate = count / seconds
        target = IMPORT_TARGETS["new" if what == "created" else "updated"]
        verdict = "ok" if rate >= target else "MISSED"
        note = (
            f"{rate / baseline:.3f}× of the baseline; target {target:,}/s: {verdict}; "
            f"{report['counts']['duplicates']:,} duplicates found"
        )
        yield (name, count, seconds, peak, note)


def run_probe(command, env):
    """bench/import_probe.py in its own process: (seconds it reports, peak RSS MB, report)."""
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    output, error = process.stdout.read(), process.stderr.read()[-800:]
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(command[1:3])} failed: {error}")
    report = json.loads(output.strip().splitlines()[-1])
    return report["seconds"], usage.ru_maxrss / 1024, report


def rewrite(source, target, change):
    import csv

    with source.open(newline="", encoding="utf-8") as reading:
        rows = csv.DictReader(reading)
        with target.open("w", newline="", encoding="utf-8") as writing:
            writer = csv.DictWriter(writing, rows.fieldnames)
            writer.writeheader()
            for row in rows:
                writer.writerow(change(row))


def count_csv_rows(path):
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


# Issue 13's targets: requests/s of anonymous pages under gunicorn, against the bare app's
# (bench/bare_app.py) in the same run under the same gunicorn, and a p99 under 100 ms.
API_PAGE = "/api/events/?page_size=50"
LISTING_PAGE = "HTML listing /events/"
THROUGHPUT_PAGES = [
    # The API's default page size is 50 (events/pagination.py): what an anonymous reader gets.
    ("API events list, page 1", API_PAGE),
    (LISTING_PAGE, "/events/"),
]
RATIO_TARGETS = {"uncached": 0.5, "cached": 1.0}
CACHED_AIM = 3
P99_TARGET_MS = 100
PORT = 8399
WARM_UP_SECONDS = 3
# wrk's timeout per request, seconds (its default is 2).
WRK_TIMEOUT = 10


def gunicorn(app, env, workers, extra=()):
    """A gunicorn as `make serve` runs one (sync workers), without the access log."""
    command = [str(Path(PYTHON).parent / "gunicorn"), app, "--bind", f"127.0.0.1:{PORT}"]
    command += ["--workers", str(workers), "--worker-class", "sync", "--log-level", "warning"]
    return subprocess.Popen([*command, *extra], cwd=ROOT, env=env)


def stop(server):
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def fetch(url):
    """(status, header bytes, body) of one GET; status 0 when nothing answers."""
    with tempfile.NamedTemporaryFile() as body:
        result = subprocess.run(
            ["curl", "-s", "-o", body.name, "-w", "%{http_code} %{size_header}", url],
            capture_output=True,
            text=True,
        )
        status, header = (result.stdout.split() + ["0", "0"])[:2]
        return int(status), int(header), Path(body.name).read_bytes()


def wait_until_up(server, url):
    for _ in range(120):
        time.sleep(0.5)
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode})")
        if fetch(url)[0]:
            return
    raise RuntimeError(f"gunicorn did not answer on {url}")


WRK_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}
WRK_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def wrk_ms(text):
    number = text.rstrip("usm")
    return float(number) * WRK_UNITS[text[len(number) :]]


def parse_wrk(output):
    """Requests/s, p50 and p99 (ms), requests, bytes read and failures from `wrk --latency`."""
    result = {"non_2xx": 0, "socket_errors": 0}
    for line in output.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(words[1])
        elif words[:1] == ["50%"]:
            result["p50"] = wrk_ms(words[1])
        elif words[:1] == ["99%"]:
            result["p99"] = wrk_ms(words[1])
        elif "requests in" in line:
            result["requests"] = int(words[0])
            size = words[4].rstrip(",")
            number = size.rstrip("BKMGT")
            result["bytes"] = float(number) * WRK_BYTES[size[len(number) :]]
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            result["non_2xx"] = int(words[-1])
        elif line.strip().startswith("Socket errors:"):
            # "Socket errors: connect 0, read 0, write 0, timeout 0"
            result["socket_errors"] = sum(int(word.rstrip(",")) for word in words[3::2])
    if "rps" not in result or "p99" not in result:
        raise RuntimeError(f"cannot read wrk's output: {output[-300:]!r}")
    return result


def wrk(url, seconds, connections, latency=True):
    # wrk leaves out of its latencies a response slower than its timeout (2 s by default),
    # counting it as a socket error: a longer one keeps slow responses in the p99.
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--timeout", f"{WRK_TIMEOUT}s", url]
    result = subprocess.run(
        [*command, "--latency"] if latency else command,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    return result.stdout + result.stderr


def load(url, expected, seconds, connections):
    """Checks one response (200; the `expected` body, if given), warms up, then runs wrk.

    Returns wrk's figures with `body` (bytes) and `failure` (None, or why the row fails: a
    response that is not a 2xx or 3xx, a socket error or timeout, or responses whose average
    size on the wire is not the checked one's, which a short error page served 200 would show).
    """
    status, header, body = fetch(url)
    if status != 200:
        raise RuntimeError(f"{url}: status {status} {body[:200]!r}")
    if expected is not None and body != expected:
        raise RuntimeError(
            f"{url}: {len(body):,} bytes, not the {len(expected):,} bytes served uncached"
        )
    wrk(url, WARM_UP_SECONDS, connections, latency=False)  # every worker, and the cache
    result = parse_wrk(wrk(url, seconds, connections))
    result["body"] = len(body)
    failures = []
    if result["non_2xx"]:
        failures.append(f"{result['non_2xx']:,} non-2xx/3xx")
    if result["socket_errors"]:
        failures.append(f"{result['socket_errors']:,} socket errors or timeouts (>{WRK_TIMEOUT} s)")
    wire, average = header + len(body), result["bytes"] / max(result["requests"], 1)
    if abs(average - wire) > 0.02 * wire + 64:  # wrk prints the total to 2 decimals
        failures.append(f"{average:,.0f} bytes/response, not {wire:,}")
    result["failure"] = "; ".join(failures) or None
    return result


def response_cache_flush(redis_url):
    """Empties the bench's Redis database; False if Redis does not answer."""
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).flushdb()
    except redis.RedisError:
        return False
    return True


def stored_responses(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
    return sum(1 for _ in client.scan_iter(match="*:response:*"))


def throughput(seconds, redis_url, connections=8, gc_tuning=True):
    """Requests/s and latency of the API's page 1 and the HTML listing under gunicorn, for the
    bare app (the baseline), the project with the response cache off, and with it on, each
    under `wrk -t 2 -c 8` for `seconds` after a warm-up. A markdown table.

    Workers as `make serve` sets them (2 × cores + 1, sync); debug off, as in production. The
    project runs with Redis (`redis_url`, emptied before each run) holding the throttles' counts,
    and in the cached run the responses; without Redis, the cached rows are errors.
    """
    if not shutil.which("wrk"):
        return "wrk not found: `apt-get install -y wrk` to measure throughput"
    if fetch(f"http://127.0.0.1:{PORT}/")[0]:
        return f"port {PORT} is taken: stop what listens there"
    workers = 2 * os.cpu_count() + 1
    project = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_GC_TUNING": "1" if gc_tuning else "0",
    }
    redis_up = response_cache_flush(redis_url)
    if redis_up:
        project["REDIS_URL"] = redis_url
    results, expected = {}, {}

    def run(name, app, env, extra=()):
        """Serves `app` and loads each page; a failure is an error in the row, not a stop."""
        server = gunicorn(app, env, workers, extra)
        try:
            wait_until_up(server, f"http://127.0.0.1:{PORT}{THROUGHPUT_PAGES[0][1]}")
            for page, path in THROUGHPUT_PAGES:
                url = f"http://127.0.0.1:{PORT}{path}"
                if name == "uncached":  # what every other run must serve (but the bare
                    expected[page] = fetch(url)[2]  # app's API page, its own JSON)
                check = None if (name, path) == ("baseline", API_PAGE) else expected.get(page)
                try:
                    if check is None and name != "baseline":
                        raise RuntimeError("nothing to compare with: the uncached run failed")
                    results[page, name] = load(url, check, seconds, connections)
                except Exception as error:  # reported as a row of the table
                    results[page, name] = {"error": str(error)}
                report(page, name, results[page, name])
        except RuntimeError as error:
            for page, _ in THROUGHPUT_PAGES:
                results[page, name] = {"error": str(error)}
        finally:
            stop(server)

    run("uncached", "diplomacy.wsgi:application", {**project, "RESPONSE_CACHE": "0"})
    if redis_up:
        response_cache_flush(redis_url)
        run("cached", "diplomacy.wsgi:application", {**project, "RESPONSE_CACHE": "1"})
        stored = stored_responses(redis_url)
        print(f"  responses stored in Redis: {stored}", file=sys.stderr, flush=True)
    else:
        for page, _ in THROUGHPUT_PAGES:
            results[page, "cached"] = {"error": f"Redis does not answer at {redis_url}"}
    if connection.vendor != "postgresql":
        for page, _ in THROUGHPUT_PAGES:
            results[page, "baseline"] = {"error": "the bare app reads PostgreSQL only"}
        return heading(workers, connections, seconds, redis_url, redis_up) + throughput_table(
            results
        )
    with tempfile.NamedTemporaryFile(suffix=".html") as listing:
        # The listing's bytes as the project served them, for the bare app to serve.
        listing.write(expected.get(LISTING_PAGE, b""))
        listing.flush()
        bare = {
            **os.environ,
            "BARE_APP_COLUMNS": RAW_COLUMNS,
            "BARE_APP_LISTING": listing.name if LISTING_PAGE in expected else "",
            "DATABASE_URL": database_url(),
        }
        run("baseline", "bare_app:application", bare, ["--pythonpath", str(ROOT / "bench")])
    return heading(workers, connections, seconds, redis_url, redis_up) + throughput_table(results)


def heading(workers, connections, seconds, redis_url, redis_up):
    return (
        f"gunicorn, {workers} sync workers; wrk -t 2 -c {connections} -d {seconds}s after "
        f"{WARM_UP_SECONDS} s of warm-up; baseline: bench/bare_app.py under the same gunicorn; "
        f"Redis {redis_url if redis_up else 'not reachable'}\n\n"
    )


def report(page, name, result):
    if "error" in result:
        line = f"ERROR {result['error']}"
    else:
        line = (
            f"{result['rps']:.0f} req/s, p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms"
            + (f", FAILED: {result['failure']}" if result["failure"] else "")
        )
    print(f"  {page}, {name}: {line}", file=sys.stderr, flush=True)


def database_url():
    """The benchmark database as a URL, for a process without Django's settings."""
    dsn = settings.DATABASES["default"]
    password = f":{dsn['PASSWORD']}" if dsn["PASSWORD"] else ""
    return f"postgresql://{dsn['USER']}{password}@{dsn['HOST']}:{dsn['PORT'] or 5432}/{dsn['NAME']}"


def throughput_table(results):
    lines = [
        "| target | req/s | p50 ms | p99 ms | baseline req/s | ratio | target | | body bytes |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    labels = {
        "baseline": "bare app, one raw query (baseline)",
        "uncached": "project, response cache off",
        "cached": "project, response cache on",
    }
    for page, _ in THROUGHPUT_PAGES:
        base = results.get((page, "baseline"), {})
        for name in ("baseline", "uncached", "cached"):
            result = results.get((page, name), {"error": "not run"})
            label = f"{page}: {labels[name]}"
            goal = ""
            if name != "baseline":
                aim = f" (aim {CACHED_AIM:.0f}×)" if name == "cached" else ""
                goal = f"≥{RATIO_TARGETS[name]:.1f}×{aim}, p99 <{P99_TARGET_MS} ms"
            if "error" in result:
                lines.append(f"| {label} | | | | | | {goal} | ERROR {result['error'][:200]} | |")
                continue
            ratio = result["rps"] / base["rps"] if base.get("rps") else None
            verdict = ""
            if name != "baseline":
                missed = [
                    what
                    for what, met in (
                        ("ratio", ratio is not None and ratio >= RATIO_TARGETS[name]),
                        ("p99", result["p99"] < P99_TARGET_MS),
                    )
                    if not met
                ]
                verdict = f"MISSED ({', '.join(missed)})" if missed else "ok"
            if result["failure"]:
                verdict = f"FAILED: {result['failure']}"
            against = f"{base['rps']:,.0f} | {ratio:.2f}×" if ratio is not None else " | "
            lines.append(
                f"| {label} | {result['rps']:,.0f} | {result['p50']:.1f} | {result['p99']:.1f} "
                f"| {against} | {goal} | {verdict} | {result['body']:,} |"
            )
    return "\n".join(lines)


# Issue 12's targets: every single group_by, with or without a filter, p95 under 150 ms;
# month and kind together over the whole table under 300 ms; dyad pages under 100 ms. Beside
# them, the baseline: a bare GROUP BY of the published events by month in raw SQL.
AGGREGATE_FILTERS = ["", "kind=expulsion", "initiator=US"]


def raw_group_by_month():
    def run():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT date_trunc('month', start_date), count(*) FROM events_event "
                "WHERE review_state = 'published' GROUP BY 1"
                if connection.vendor == "postgresql"
                else "SELECT strftime('%Y-%m', start_date), count(*) FROM events_event "
                "WHERE review_state = 'published' GROUP BY 1"
            )
            cursor.fetchall()

    return run


def measure_aggregates(bench, anon):
    from events.aggregates import GROUP_BY

    bench.measure("raw SQL: published events counted by month (baseline)", raw_group_by_month())
    for query in AGGREGATE_FILTERS:
        for name in GROUP_BY:
            label = f"aggregates group_by={name}" + (f", {query}" if query else "")
            url = f"/api/aggregates/events/?group_by={name}&{query}"
            # A grouping with more than 10,000 groups is refused (a 400): how fast is measured.
            refused = anon.get(url).status_code == 400
            label += " (refused: more than 10,000 groups)" if refused else ""
            bench.measure(label, bench.get(anon, url, status=400 if refused else 200), 150)
    bench.measure(
        "aggregates group_by=month,kind (whole table)",
        bench.get(anon, "/api/aggregates/events/?group_by=month,kind"),
        300,
    )
    # Issue 15: the counts beside the listing's filters (facets), the whole form's worth, and
    # the map's counts of countries involved (the default measure: one aggregate more).
    for query in ("", "kind=expulsion", "initiator=US"):
        bench.measure(
            "listing facets (kind, status, top countries)" + (f", {query}" if query else ""),
            listing_facets(query),
            100,
        )
        bench.measure(
            "listing facets and map (countries involved)" + (f", {query}" if query else ""),
            listing_facets(query, with_map=True),
            100,
        )
    bench.measure("API dyad JP-RU", bench.get(anon, "/api/dyads/JP/RU/"), 100)
    bench.measure("HTML dyad page JP-RU", bench.get(anon, "/dyads/JP/RU/"), 100)
    # What keeping the rollups in step costs a write: the same edit of a published event
    # through the write path, with the tallies and cells left alone (baseline), then kept.
    bench.measure("edit of a published event, rollups left alone (baseline)", edit_event(False))
    bench.measure("edit of a published event, rollups kept in step", edit_event(True))


def listing_facets(query, with_map=False):
    """The listing's facets (events/views.py `facets`) for the filters in `query`, and with
    `with_map` the map's counts of countries involved, as the listing reads them."""
    from django.http import QueryDict

    from events import aggregates, views
    from events.filters import EventFilter

    def run():
        params = QueryDict(query)
        filterset = EventFilter(params, queryset=Event.objects.published().listed())
        assert filterset.is_valid(), filterset.errors
        views.facets(params, filterset, views.all_countries())
        if with_map:
            aggregates.counts(filterset.qs, "country", filterset.form.cleaned_data)

    return run


def edit_event(keep_rollups):
    from unittest import mock

    from events import rollups, writes

    user = get_user_model().objects.get(username="bench")
    event_id = Event.objects.published().order_by("-start_date").values_list("id")[500][0]
    counter = iter(range(10**9))

    def run():
        event = Event.objects.get(pk=event_id)
        fields = {"summary": f"Benchmark edit {next(counter)}."}
        if keep_rollups:
            writes.update_event(user, event, fields, seen_version=event.version)
            return
        with (
            mock.patch.object(rollups, "take_out", return_value=set()),
            mock.patch.object(rollups, "put_in", return_value=set()),
        ):
            writes.update_event(user, event, fields, seen_version=event.version)

    return run


def latencies(args, published):
    """The in-process latency table (and the plans of the list queries)."""
    from events.models import Source

    bench = Bench(args.repeat)
    anon, staff = bench.anonymous, bench.staff
    page1 = bench.measure(
        "API events list, page 1, size 50",
        bench.get(anon, "/api/events/?page_size=50"),
        50,
        explain=True,
    )
    bench.measure(
        "API events list, page 1, size 500", bench.get(anon, "/api/events/?page_size=500")
    )
    deep = cursor_at(min(args.deep, max(published - 100, 0)))
    if deep:
        bench.measure(
            f"API events list, {args.deep:,} rows deep",
            bench.get(anon, f"/api/events/?page_size=50&cursor={deep}"),
            50,
            explain=True,
        )
    ratio = None
    if connection.vendor == "postgresql":
        raw = bench.measure("raw psycopg json_agg, same 50 events", raw_list())
        if raw and page1:
            ratio = page1 / raw
            print(f"API page 1 / raw query: {ratio:.1f}x (target 2x)", file=sys.stderr, flush=True)
    # Real natural keys for the actor, source and linked_to filters.
    actor = Actor.objects.filter(kind="state").order_by("id").values_list("slug", flat=True).first()
    source = Source.objects.order_by("id").values_list("id", flat=True).first()
    linked = (
        Event.objects.published()
        .filter(outgoing_links__isnull=False)
        .order_by("-start_date", "-id")
        .values_list("slug", flat=True)
        .first()
    )
    filters = [
        *FILTERS,
        (f"actor={actor}", "actor (a state)"),
        (f"source={source}", "source"),
        (f"linked_to={linked}", "linked_to"),
    ]
    for query, label in filters:
        bench.measure(
            f"API list: {label}",
            bench.get(anon, f"/api/events/?page_size=50&{query}"),
            50,
            explain=True,
        )
    if "aggregates" not in args.skip:
        measure_aggregates(bench, anon)
    sample = Event.objects.published().order_by("-start_date").values_list("slug", "id")[1000]
    bench.measure("API event detail", bench.get(anon, f"/api/events/{sample[0]}/"), 50)
    bench.measure(
        "actor autocomplete (admin)",
        bench.get(
            staff,
            "/admin/autocomplete/?app_label=events&model_name=participation"
            "&field_name=actor&term=mira",
        ),
        10,
    )
    bench.measure("HTML listing /events/", bench.get(anon, "/events/"), 100, explain=True)
    bench.measure(
        "HTML listing, expulsions by US",
        bench.get(anon, "/events/?kind=expulsion&initiator=US"),
        100,
        explain=True,
    )
    bench.measure("HTML event page", bench.get(anon, f"/events/{sample[0]}/"), 100)
    bench.measure("admin changelist", bench.get(staff, "/admin/events/event/"), 300, explain=True)
    bench.measure(
        "admin changelist, filtered",
        bench.get(staff, "/admin/events/event/?kind__exact=expulsion"),
        300,
        explain=True,
    )
    bench.measure(
        "admin changelist, searched",
        bench.get(staff, "/admin/events/event/?q=treaty"),
        300,
        explain=True,
    )
    bench.measure(
        "admin change form", bench.get(staff, f"/admin/events/event/{sample[1]}/change/"), 200
    )
    print()
    print(bench.table())
    if ratio is not None:
        print(f"\nAPI page 1 / raw psycopg json_agg: {ratio:.1f}x (target 2x)")
    scans = [name for name, seq, _ in bench.plans if seq]
    print(
        "Sequential scans of events_event: " + (", ".join(scans) if scans else "none"),
        flush=True,
    )

    if "plans" not in args.skip and bench.plans:
        print("\n## Plans of the list queries\n")
        for name, seq, plan in bench.plans:
            flag = "SEQUENTIAL SCAN of events_event" if seq else "no sequential scan"
            print(f"### {name}: {flag}\n```\n{plan}\n```")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--deep", type=int, default=4_000_000, help="Rows deep for the deep page.")
    parser.add_argument("--export-rows", type=int, default=100_000)
    parser.add_argument(
        "--export-all", action="store_true", help="Also export every event (minutes at 5M)."
    )
    parser.add_argument("--wrk-seconds", type=int, default=15)
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["latency", "io", "wrk", "plans", "aggregates"],
        help="latency: the in-process table (and so the plans and aggregates); wrk: throughput.",
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/14",
        help="A Redis database the throughput runs may empty (the cache and throttles).",
    )
    parser.add_argument(
        "--no-gc-tuning",
        action="store_true",
        help="Measure without the serving processes' collector tuning (diplomacy/serving.py).",
    )
    args = parser.parse_args()

    from events.models import Participation

    events = Event.objects.count()
    published = Event.objects.published().count()
    print(f"# Benchmark on {connection.vendor}, {os.cpu_count()} cores")
    print(
        f"{events:,} events ({published:,} published), {Participation.objects.count():,} "
        f"participations, {Actor.objects.count():,} actors"
        + ("" if "latency" in args.skip else f"; {args.repeat} runs each")
        + "\n",
        flush=True,
    )
    # Debug is off, as in production: pages need the collected static files' manifest.
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, check=True
    )
    if not args.no_gc_tuning:
        # What each gunicorn worker does after loading the application (diplomacy/wsgi.py), so
        # that the in-process figures are those of a serving process.
        from diplomacy.serving import tune_gc

        tune_gc()
    print(f"Collector tuning: {'off' if args.no_gc_tuning else 'on (diplomacy/serving.py)'}\n")
    if "latency" not in args.skip:
        latencies(args, published)
    if "io" not in args.skip:
        print("\n## Import and export\n")
        print(
            "| operation | events | seconds | events/s | peak RSS MB | |\n"
            "|---|---:|---:|---:|---:|---|",
            flush=True,
        )
        for name, count, seconds, peak, note in export_and_import(
            args.export_rows, args.export_all
        ):
            if seconds is None:
                print(f"| {name} | {count or ''} | | | | ERROR {note[:300]} |", flush=True)
                continue
            print(
                f"| {name} | {count:,} | {seconds:.1f} | {count / seconds:,.0f} | {peak:.0f} "
                f"| {note} |",
                flush=True,
            )
    if "wrk" not in args.skip:
        print("\n## Throughput\n")
        print(
            throughput(args.wrk_seconds, args.redis_url, gc_tuning=not args.no_gc_tuning),
            flush=True,
        )


if __name__ == "__main__":
    random.seed(1)
    main()
