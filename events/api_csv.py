"""Events as CSV: one row per event, streamed in chunks; the columns are in docs/csv.md.

The columns are the ones a later import reads back: every field a curator writes, with
participants, citations and links flattened so that nothing is lost.
"""

import csv
import json

from rest_framework import renderers

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

# Rows fetched (with their prefetches) per database round trip while streaming.
CHUNK_SIZE = 500


def event_row(event, shows_drafts):
    """One CSV row from an event loaded with `with_related()`."""
    country = event.location_country
    citations = [c.portable_data() for c in event.citations.all()]
    return [
        event.slug,
        event.kind,
        event.mode,
        event.title,
        event.summary,
        event.start_date.isoformat(),
        event.end_date.isoformat() if event.end_date else "",
        event.date_precision,
        event.status,
        country.code if country else "",
        event.place,
        "" if event.expelled_count is None else event.expelled_count,
        event.expelled_count_qualifier if event.expelled_count is not None else "",
        event.quoted_words,
        event.review_state,
        ";".join(f"{p.role}:{p.actor.slug}" for p in event.participations.all()),
        json.dumps(citations, ensure_ascii=False) if citations else "",
        ";".join(
            f"{link.kind}:{link.to_event.slug}"
            for link in event.outgoing_links.all()
            if link.to_event.is_published or shows_drafts
        ),
        ";".join(
            f"{link.kind}:{link.from_event.slug}"
            for link in event.incoming_links.all()
            if link.from_event.is_published or shows_drafts
        ),
        event.version,
        event.cameo_code,
        event.plover_type,
        event.plover_mode,
    ]


class _Lines:
    """A file-like object whose write() returns the line, for csv.writer to stream."""

    def write(self, value):
        return value


def stream_events(queryset, shows_drafts, chunk_size=CHUNK_SIZE):
    """The CSV text of `queryset`, a header then one chunk of rows per database fetch.

    `iterator(chunk_size=…)` fetches the rows in chunks and runs the prefetches once per
    chunk, so memory holds one chunk, not the table.
    """
    writer = csv.writer(_Lines())
    yield writer.writerow(CSV_COLUMNS)
    lines = []
    for event in queryset.iterator(chunk_size=chunk_size):
        lines.append(writer.writerow(event_row(event, shows_drafts)))
        if len(lines) >= chunk_size:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


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
