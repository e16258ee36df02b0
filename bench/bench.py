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
os.environ.setdefault("API_ANON_THROTTLE", "100000000/hour")
os.environ.setdefault("CSV_ANON_THROTTLE", "100000000/hour")
os.environ.setdefault("PAGES_ANON_THROTTLE", "100000000/hour")

import django  # noqa: E402

django.setup()

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


# The event's own columns that the API shows (events/shape.py), for the raw query.
RAW_COLUMNS = ", ".join(
    f"ev.{field.name}" for field in shape.FIELDS if field.lookups == (field.name,)
)
RAW_LIST = """
SELECT json_agg(e ORDER BY e.start_date DESC, e.id DESC) FROM (
  SELECT ev.id, {columns},
    json_build_object('country', c.code, 'country_name', c.name, 'place', ev.place) AS location,
    (SELECT coalesce(json_agg(json_build_object('actor', a.slug, 'actor_name', a.name,
        'actor_kind', a.kind, 'country', ac.code, 'role', p.role) ORDER BY p.position, p.id), '[]')
     FROM events_participation p JOIN events_actor a ON a.id = p.actor_id
     LEFT JOIN events_country ac ON ac.id = a.country_id WHERE p.event_id = ev.id) AS participants,
    (SELECT coalesce(json_agg(json_build_object('source', s.id, 'source_url', s.url,
        'source_title', s.title, 'source_publisher', s.publisher,
        'source_published_on', s.published_on, 'locator', ci.locator, 'note', ci.note)
        ORDER BY ci.id), '[]')
     FROM events_citation ci JOIN events_source s ON s.id = ci.source_id
     WHERE ci.event_id = ev.id) AS citations,
    (SELECT coalesce(json_agg(json_build_object('kind', l.kind, 'event', o.slug,
        'title', o.title)), '[]')
     FROM events_eventlink l JOIN events_event o ON o.id = l.to_event_id
     WHERE l.from_event_id = ev.id) AS links_out,
    (SELECT coalesce(json_agg(json_build_object('kind', l.kind, 'event', o.slug,
        'title', o.title)), '[]')
     FROM events_eventlink l JOIN events_event o ON o.id = l.from_event_id
     WHERE l.to_event_id = ev.id) AS links_in
  FROM events_event ev LEFT JOIN events_country c ON c.id = ev.location_country_id
  WHERE ev.review_state = 'published' {where}
  ORDER BY ev.start_date DESC, ev.id DESC LIMIT 50
) e
"""


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
    """Export rate and peak memory; import rate into an empty database. Yields table rows."""
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
            try:
                # The window's links name events outside it, which the empty database lacks
                # (the importer refuses such a file): the sample goes in without its links.
                sample = Path(tmp) / "sample.csv"
                without_links(out, sample)
                target = clone_reference_database(env)
                seconds, peak = run_measured(
                    [PYTHON, "manage.py", "import_events", str(sample), "--publish", "-v", "0"],
                    {**env, "DATABASE_URL": target},
                )
                yield ("import_events (CSV, new events)", exported, seconds, peak, "")
            except (RuntimeError, subprocess.CalledProcessError) as error:
                yield ("import_events (CSV, new events)", exported, None, None, str(error))
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


def without_links(source, target):
    import csv

    with source.open(newline="", encoding="utf-8") as reading:
        rows = csv.DictReader(reading)
        with target.open("w", newline="", encoding="utf-8") as writing:
            writer = csv.DictWriter(writing, rows.fieldnames)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "links": "", "linked_from": ""})


def count_csv_rows(path):
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def clone_reference_database(env):
    """An empty database with the countries, actors and sources of the benchmark database."""
    import psycopg

    dsn = settings.DATABASES["default"]
    name = f"{dsn['NAME']}_import"
    admin = psycopg.connect(
        host=dsn["HOST"],
        port=dsn["PORT"] or 5432,
        user=dsn["USER"],
        dbname="postgres",
        autocommit=True,
    )
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgres://{dsn['USER']}@{dsn['HOST']}:{dsn['PORT'] or 5432}/{name}"
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": url},
        check=True,
    )
    # Reference data: pg_dump | psql of the three tables, data only.
    for table in ("events_country", "events_actor", "events_source"):
        dump = subprocess.run(
            [
                "pg_dump",
                "-h",
                dsn["HOST"],
                "-U",
                dsn["USER"],
                "--data-only",
                "-t",
                table,
                dsn["NAME"],
            ],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(
            ["psql", "-q", "-h", dsn["HOST"], "-U", dsn["USER"], name],
            input=dump,
            check=True,
            capture_output=True,
        )
    return url


def throughput(seconds, connections=8):
    """Requests per second and latency of the events list under gunicorn, wrk at 8 connections.

    Workers as `make serve` sets them (2 × cores + 1); debug off, as in production.
    """
    if not shutil.which("wrk"):
        return "wrk not found: `apt-get install -y wrk` to measure throughput"
    port = "8399"
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    workers = str(2 * os.cpu_count() + 1)
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "diplomacy.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            workers,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/api/events/?page_size=50"
    try:
        for _ in range(60):  # wait until it answers
            time.sleep(0.5)
            probe = subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url],
                capture_output=True,
                text=True,
            )
            if probe.stdout == "200":
                break
        else:
            return f"gunicorn did not answer 200 on {url} (last: {probe.stdout!r})"
        # Warm every worker, then measure.
        subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", "3s", url],
            capture_output=True,
            timeout=60,
        )
        result = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        return f"gunicorn, {workers} workers, wrk -t 2 -c {connections} -d {seconds}s {url}\n\n" + (
            result.stdout or result.stderr
        )
    finally:
        server.terminate()
        server.wait(timeout=20)


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
            bench.measure(
                label, bench.get(anon, f"/api/aggregates/events/?group_by={name}&{query}"), 150
            )
    bench.measure(
        "aggregates group_by=month,kind (whole table)",
        bench.get(anon, "/api/aggregates/events/?group_by=month,kind"),
        300,
    )
    bench.measure("API dyad JP-RU", bench.get(anon, "/api/dyads/JP/RU/"), 100)
    bench.measure("HTML dyad page JP-RU", bench.get(anon, "/dyads/JP/RU/"), 100)
    # What keeping the rollups in step costs a write: the same edit of a published event
    # through the write path, with the tallies and cells left alone (baseline), then kept.
    bench.measure("edit of a published event, rollups left alone (baseline)", edit_event(False))
    bench.measure("edit of a published event, rollups kept in step", edit_event(True))


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
        "--skip", nargs="*", default=[], choices=["io", "wrk", "plans", "aggregates"]
    )
    parser.add_argument(
        "--no-gc-tuning",
        action="store_true",
        help="Measure without the serving processes' collector tuning (diplomacy/serving.py).",
    )
    args = parser.parse_args()

    from events.models import Participation, Source

    events = Event.objects.count()
    published = Event.objects.published().count()
    print(f"# Benchmark on {connection.vendor}, {os.cpu_count()} cores")
    print(
        f"{events:,} events ({published:,} published), {Participation.objects.count():,} "
        f"participations, {Actor.objects.count():,} actors; {args.repeat} runs each\n",
        flush=True,
    )
    # Debug is off, as in production: pages need the collected static files' manifest.
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, check=True
    )
    bench = Bench(args.repeat)
    anon, staff = bench.anonymous, bench.staff
    if not args.no_gc_tuning:
        # What each gunicorn worker does after loading the application (diplomacy/wsgi.py), so
        # that the in-process figures are those of a serving process.
        from diplomacy.serving import tune_gc

        tune_gc()
    print(f"Collector tuning: {'off' if args.no_gc_tuning else 'on (diplomacy/serving.py)'}\n")

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
    if "io" not in args.skip:
        print("\n## Import and export\n")
        print(
            "| operation | events | seconds | events/s | peak RSS MB | |\n"
            "|---|---:|---:|---:|---:|---|",
            flush=True,
        )
        for name, count, seconds, peak, error in export_and_import(
            args.export_rows, args.export_all
        ):
            if seconds is None:
                print(f"| {name} | {count or ''} | | | | ERROR {error[:300]} |", flush=True)
                continue
            print(
                f"| {name} | {count:,} | {seconds:.1f} | {count / seconds:,.0f} | {peak:.0f} | |",
                flush=True,
            )
    if "wrk" not in args.skip:
        print("\n## Throughput\n")
        print("```\n" + throughput(args.wrk_seconds) + "\n```", flush=True)


if __name__ == "__main__":
    random.seed(1)
    main()
