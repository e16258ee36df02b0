"""One import into the database DATABASE_URL names, measured, then rolled back.

    .venv/bin/python bench/import_probe.py FILE [--baseline]

Runs what `manage.py import_events FILE --publish` runs (events.importing.run_import, as an
editor on the command line), then fires the deferred foreign-key checks that a commit would
(SET CONSTRAINTS ALL IMMEDIATE) and rolls back, so that the benchmark database stays as it
was. Prints one JSON line: seconds, rows, counts, problems. With --baseline it instead COPYs the
file's bytes into a temporary table of text columns (the physical limit of getting the rows
into the database, with no validation, indexes or history), and rolls that back too.

bench.py runs it as a subprocess, to read its peak memory alone (wait4).
"""

import csv
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "diplomacy.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-secret")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from events.importing import describe_problem, run_import  # noqa: E402


def baseline(path):
    """COPY the CSV as it is into a table of text columns: no parsing in Python at all."""
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    columns = ", ".join(f'"{name}" text' for name in header)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE import_baseline ({columns})")
        with (
            open(path, "rb") as handle,
            cursor.cursor.copy(
                "COPY import_baseline FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy,
        ):
            while data := handle.read(1 << 20):
                copy.write(data)
        cursor.execute("SELECT COUNT(*) FROM import_baseline")
        return cursor.fetchone()[0]


def main():
    path = sys.argv[1]
    start = time.perf_counter()
    with transaction.atomic():
        if "--baseline" in sys.argv:
            rows, counts, problems = baseline(path), None, []
        else:
            problems, counts, _ = run_import(path, publish=True)
            rows = sum(counts.values()) if counts else None
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        seconds = time.perf_counter() - start
        transaction.set_rollback(True)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": rows,
                "counts": counts,
                "problems": [describe_problem(p) for p in problems[:5]],
            }
        )
    )


if __name__ == "__main__":
    main()
