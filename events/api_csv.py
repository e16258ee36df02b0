"""Events as CSV: one row per event, streamed in chunks; the columns are in docs/csv.md.

The columns are the ones a later import reads back: every field a curator writes, with
participants, citations and links flattened so that nothing is lost.

Every CSV this project writes guards its cells against formula injection (`neutralise`), and
the import undoes the guard (`restore`): the rule is here, once, for both sides.
"""

import csv
import json
import operator
import re

from rest_framework import renderers

from . import shape
from .representation import CHUNK_SIZE, represent_in_chunks

CSV_COLUMNS = list(shape.CSV_COLUMNS)

# CSV injection (OWASP's guidance): a spreadsheet reads a cell that starts with one of these
# as a formula. A text cell that does, after any quotes, is written with one more quote in
# front, which a spreadsheet shows as text; the import removes exactly that one quote. Quotes
# already there count, so that `'=x` is written `''=x` and reads back as `'=x`: every text
# goes out and comes back unchanged (docs/csv.md, "Formulas").
FORMULA = re.compile(r"'*[=+\-@\t\r]")
GUARDED = re.compile(r"'+[=+\-@\t\r]")
# A number is not a formula, and researchers need numbers to stay numbers: a negative
# Goldstein value (-7.0) or a count is written as it is, in text cells too. ASCII digits only:
# a spreadsheet reads no other as a number.
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# The first characters that call for a look at the cell (a quick test, done for every cell).
_FORMULA_STARTS = frozenset("'=+-@\t\r")


def neutralise(cell):
    """The cell as a CSV file writes it: a text that a spreadsheet would take for a formula
    with one more `'` in front; numbers, and anything not a string, as they are."""
    if (
        cell.__class__ is str
        and cell[:1] in _FORMULA_STARTS
        and FORMULA.match(cell)
        and not NUMBER.fullmatch(cell)
    ):
        return "'" + cell
    return cell


def restore(cell):
    """The text of a CSV cell as `neutralise` received it: one leading `'` fewer on a cell
    that starts with quotes and then a formula's first character."""
    return cell[1:] if cell[:1] == "'" and GUARDED.match(cell) else cell


# The columns made by hand from the representation: the location's two and the children's.
# Every other column is its field's value as the representation shows it (None, an empty
# cell: csv writes None as "").
BUILT = frozenset(["location", "participants", "citations", "links"])
# Each column's field in the representation, read at once; a built column is then replaced.
_read = operator.itemgetter(*(field.name for field in shape.CSV_FIELDS for _ in field.columns))
_COUNTRY, _PLACE, _PARTICIPANTS, _CITATIONS, _LINKS, _LINKED_FROM = (
    CSV_COLUMNS.index(column)
    for column in (
        "location_country",
        "place",
        "participants",
        "citations",
        "links",
        "linked_from",
    )
)


def event_row(event):
    """One CSV row from an event's representation (representation.represent)."""
    row = list(_read(event))
    location = event["location"]
    row[_COUNTRY] = location["country"]
    row[_PLACE] = location["place"]
    row[_PARTICIPANTS] = ";".join(f"{p['role']}:{p['actor']}" for p in event["participants"])
    citations = [
        {name: value for name, value in citation.items() if name != "source"}
        for citation in event["citations"]
    ]
    row[_CITATIONS] = json.dumps(citations, ensure_ascii=False) if citations else ""
    links = event["links"]
    row[_LINKS] = ";".join(
        f"{link['kind']}:{link['event']}" for link in links if link["direction"] == "outgoing"
    )
    row[_LINKED_FROM] = ";".join(
        f"{link['kind']}:{link['event']}" for link in links if link["direction"] == "incoming"
    )
    return list(map(neutralise, row))


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
                # A message may quote the bad value the request gave.
                text += writer.writerow([neutralise(name), neutralise(str(message))])
        return text.encode(self.charset)
