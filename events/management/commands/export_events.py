import contextlib
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.http import QueryDict

from events.api_csv import stream_events
from events.filters import EventFilter
from events.models import Event
from events.representation import event_url_maker, represent_in_chunks

# Orderings that depend on the data only (not on database ids), so that an export imported
# into another database exports again to the same file.
EXPORT_ORDERINGS = {
    "date": ("start_date", "slug"),
    "-date": ("-start_date", "-slug"),
    "title": ("title", "slug"),
}
FILTERS = [
    "kind",
    "status",
    "date_after",
    "date_before",
    "country",
    "initiator",
    "target",
    "actor",
    "source",
    "linked_to",
    "q",
    "cameo",
    "plover",
]


class Command(BaseCommand):
    """Export events as CSV (the API's CSV columns, docs/csv.md) or JSON (the API's event
    representation, a list), filtered with the API's filters. Drafts are included unless
    --published-only is given. The output imports back with `import_events`."""

    help = "Export events as CSV or JSON, with the API's filters as options."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")
        parser.add_argument("--published-only", action="store_true")
        parser.add_argument("--ordering", choices=sorted(EXPORT_ORDERINGS), default="date")
        for name in FILTERS:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name)

    def handle(self, *args, **options):
        query = QueryDict(mutable=True)
        for name in FILTERS:
            if options.get(name):
                query[name] = options[name]
        queryset = Event.objects.published() if options["published_only"] else Event.objects
        filterset = EventFilter(query, queryset=queryset.all())
        if not filterset.is_valid():
            for name, messages in filterset.errors.items():
                self.stderr.write(f"--{name.replace('_', '-')}: {' '.join(messages)}")
            raise CommandError("Invalid filter options; nothing was exported.")
        events = filterset.qs.order_by(*EXPORT_ORDERINGS[options["ordering"]])
        target = (
            open(options["output"], "w", encoding="utf-8", newline="")  # noqa: SIM115
            if options["output"]
            else contextlib.nullcontext(sys.stdout)
        )
        # One transaction: the export is a consistent snapshot, and on PostgreSQL the rows
        # stream from a server-side cursor as they are written (outside a transaction, the
        # cursor would be WITH HOLD, materialised whole before the first row comes out).
        with target as out, transaction.atomic(using=events.db):
            connection = connections[events.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    # Plan for every row, not for the first ones as for a cursor by default
                    # (0.1): the newest 100,000 of 5M events waited 51 s for their first row
                    # while the date index was walked from 1990, 1.8 s by the period_end index.
                    cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")
            if options["format"] == "csv":
                for chunk in stream_events(events, shows_drafts=True):
                    out.write(chunk)
            else:
                out.write("[")
                event_url = event_url_maker(None)
                number = 0
                for chunk in represent_in_chunks(events, shows_drafts=True, event_url=event_url):
                    for data in chunk:
                        out.write(
                            ("," if number else "") + "\n" + json.dumps(data, ensure_ascii=False)
                        )
                        number += 1
                out.write("\n]\n")
