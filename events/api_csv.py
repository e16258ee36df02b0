"""Events as CSV: one row per event, streamed in chunks; the columns are in docs/csv.md.

The columns are the ones a later import reads back: every field a curator writes, with
participants, citations and links flattened so that nothing is lost.
"""

import csv
import json

from rest_framework import renderers

from .representation import CHUNK_SIZE, represent_in_chunks

CSV_COLUMNS = [
    "slug",
    "kind",
    "mode",
    "title",
    "summary",
    "start_date",
    "end_date",
    "date_precision",
    "status",
    "location_country",
    "place",
    "expelled_count",
    "expelled_count_qualifier",
    "quoted_words",
    "review_state",
    "participants",
    "citations",
    "links",
    "linked_from",
    "version",
    "cameo_code",
    "plover_type",
    "plover_mode",
]


def event_row(event):
    """One CSV row from an event's representation (representation.represent)."""
    location = event["location"]
    citations = [
        {name: value for name, value in citation.items() if name != "source"}
        for citation in event["citations"]
    ]
    return [
        event["slug"],
        event["kind"],
        event["mode"],
        event["title"],
        event["summary"],
        event["start_date"],
        event["end_date"] or "",
        event["date_precision"],
        event["status"],
        location["country"] or "",
        location["place"],
        "" if event["expelled_count"] is None else event["expelled_count"],
        event["expelled_count_qualifier"] or "",
        event["quoted_words"],
        event["review_state"],
        ";".join(f"{p['role']}:{p['actor']}" for p in event["participants"]),
        json.dumps(citations, ensure_ascii=False) if citations else "",
        ";".join(
            f"{link['kind']}:{link['event']}"
            for link in event["links"]
            if link["direction"] == "outgoing"
        ),
        ";".join(
            f"{link['kind']}:{link['event']}"
            for link in event["links"]
            if link["direction"] == "incoming"
        ),
        event["version"],
        event["cameo_code"],
        event["plover_type"],
        event["plover_mode"],
    ]


class _Lines:
    """A file-like object whose write() returns the line, for csv.writer to stream."""

    def write(self, value):
        return value


def stream_events(queryset, shows_drafts, chunk_size=CHUNK_SIZE):
    """The CSV text of `queryset`, a header then one piece per chunk of events.

    The events come in chunks of rows (`represent_in_chunks`: four queries per chunk), so
    memory holds one chunk, not the table. Links to drafts are left out unless `shows_drafts`.
    """
    writer = csv.writer(_Lines())
    yield writer.writerow(CSV_COLUMNS)
    for events in represent_in_chunks(queryset, shows_drafts, chunk_size=chunk_size):
        yield "".join([writer.writerow(event_row(event)) for event in events])


class CSVRenderer(renderers.BaseRenderer):
    """Selects `?format=csv`; the events list streams its own rows, so this only renders
    errors (a 400 naming a bad parameter) as `parameter,message` lines."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        writer_lines = _Lines()
        writer = csv.writer(writer_lines)
        text = writer.writerow(["parameter", "message"])
        items = data.items() if isinstance(data, dict) else [("detail", data)]
        for name, messages in items:
            for message in messages if isinstance(messages, list) else [messages]:
                text += writer.writerow([name, str(message)])
        return text.encode(self.charset)
