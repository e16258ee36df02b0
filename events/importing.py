"""Import of events from the API's CSV columns (docs/csv.md) or its JSON representation.

An import reads the file once, streamed chunk by chunk so memory stays flat, in one
transaction. For each chunk of rows it

1. validates every row (fields, constraints, countries, actors, sources, publish rules) in
   Python, with one query per chunk for its actors and one for its sources, and collects every
   problem as `row N, column C: message`;
2. sorts the rows into new, changed and unchanged events by slug, applies the write path's
   rules to the changed ones, and finds the new events that look like events stored before
   the import began (one query per chunk: the finder never sees the file's own rows, so its
   work per chunk does not grow with the file);
3. unless this is a dry run (which only reads), writes the chunk, while no row so far had a
   problem: creates unknown sources (and, if asked, unknown actors), updates the changed
   events (on PostgreSQL one UPDATE from a COPY-filled temporary table), replaces their
   participants and citations with the file's, and records history. New events, their
   children and their history are staged: on PostgreSQL COPY puts them in temporary tables,
   and at the end of the file one INSERT per table writes them, with their country
   involvements and country ids derived before the events go in; elsewhere bulk INSERTs.

Links go in last (they may name events further down the file). When any row had a problem,
the transaction is rolled back, so nothing is written.

Rows are numbered as a spreadsheet shows them: in a CSV the header is row 1; in JSON the first
object is row 1. The header's problems (an unknown column, one named twice) are row 1's. A file
that stops being readable (not UTF-8, not valid CSV or JSON) is one problem, at its line. A
file holds what the export writes and what the API accepts, no more: every column and key is
one the import reads (or knows to ignore), texts are at most TEXT_MAX_LENGTH characters as in
the API, and JSON nests at most JSON_MAX_DEPTH levels.
"""

import codecs
import csv
import datetime
import functools
import json
import operator
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    ProhibitNullCharactersValidator,
)
from django.db import connection, models, transaction
from django.utils import timezone

from . import duplicates, rollups, shape, writes
from .api_csv import CSV_COLUMNS, restore
from .codes import codes_for
from .filters import resolve_country, whole_number
from .models import (
    TEXT_MAX_LENGTH,
    Actor,
    ActorKind,
    Citation,
    Event,
    EventLink,
    LinkKind,
    Participation,
    ReviewState,
    Role,
    Source,
    SourceKind,
    build_search_text,
    period_end,
    refresh_involvements,
)
from .models.derived import DERIVED_FROM, derive_staged
from .models.events import EXPELLED

CHUNK = 2000
# The duplicates an import lists (all are counted): a file of copies would otherwise keep a
# line per row in memory, and no report of a million lines is read.
DUPLICATES_LISTED = 10_000
# The event's own columns of the export (events/shape.py), which the import reads back; the
# slug and the review state apart (they name the event and follow the publish rules).
EVENT_FIELDS = [name for name in shape.WRITTEN_CSV_COLUMNS if name not in ("slug", "review_state")]
# What an update compares and writes (attnames).
COMPARED = [name for name in shape.WRITTEN_COLUMNS if name != "slug"]
DERIVED = list(shape.DERIVED_COLUMNS)
# What COPY writes of new rows (PostgreSQL): the event's stored columns, each from the row's
# values (which hold every column: event_defaults()).
EVENT_COLUMNS = ["id", *shape.STORED_COLUMNS]
CITATION_COLUMNS = ["id", "event_id", "source_id", "locator", "note"]
# Derived in the stage of new events on PostgreSQL (models.derived.derive_staged).
STAGED_ARRAYS = ("involved_country_ids", "initiator_country_ids", "target_country_ids")


def participation_columns():
    # The event's start date is copied onto its participations (for the actor filter's order)
    # where the model has that column; refresh_involvements() keeps it in step otherwise.
    names = {f.attname for f in Participation._meta.concrete_fields}
    return ["id", "event_id", "actor_id", "role", "position"] + (
        ["start_date"] if "start_date" in names else []
    )


COPY_COLUMNS = {
    Event: lambda: EVENT_COLUMNS,
    Participation: participation_columns,
    Citation: lambda: CITATION_COLUMNS,
}


class RowError(Exception):
    """A problem of one row, in one column (None: the row as a whole)."""

    def __init__(self, column, message):
        self.column, self.message = column, message
        super().__init__(f"column {column}: {message}" if column else message)


class FileError(Exception):
    """The file cannot be read on (not UTF-8, not JSON, not CSV): a problem at a line."""

    def __init__(self, line, message):
        self.line, self.message = line, message
        super().__init__(f"line {line}: the file {message}")


class FileProblem(NamedTuple):
    """A problem of the file as a whole, which stopped its reading; `message` says what the
    file is or does ("is not valid JSON: …"), at `line` (None: nowhere in particular)."""

    line: int | None
    message: str


def describe_problem(problem):
    """A problem as one line of text: `row N, column C: message` (a row's), `row N: message`
    (a whole row's) or `line L: the file …` (the file's). The command prints these."""
    if isinstance(problem, FileProblem):
        where = f"line {problem.line}: " if problem.line else ""
        return f"{where}the file {problem.message}"
    row, column, message = problem
    return f"row {row}, column {column}: {message}" if column else f"row {row}: {message}"


@dataclass
class Record:
    """One event as the file gives it, in natural keys."""

    row: int
    slug: str
    fields: dict
    review_state: str | None
    participants: list  # [(role, actor slug)]
    actors: dict  # slug -> {"name", "kind", "country"} when the file says
    citations: list  # [{"source_url", "source_title", ..., "locator", "note"}]
    links: list  # [(kind, other slug)] outgoing
    linked_from: list  # [(kind, other slug)] incoming
    errors: list = field(default_factory=list)
    # False when the row could not be read as an event at all: only its errors are reported.
    readable: bool = True
    # The event's version the file was exported at: the version a change is based on.
    version: int | None = None
    # Whether writing it changes what refresh_involvements() derives (set for changed events).
    rederive: bool = True


# --- Reading -----------------------------------------------------------------------------

# How deep JSON may nest, counted from the event: its object is level 1, a list in it level 2,
# an object in that list level 3 (as deep as the event's shape goes: a citation). In a CSV file
# the JSON of a cell counts the same way, its outer list being level 2. Deeper nesting is a
# problem of its row, however deep it goes (Python's parser would give up, with an error that
# names nothing, at about a thousand levels).
JSON_MAX_DEPTH = 10
NESTING = f"nested deeper than {JSON_MAX_DEPTH} levels, the import's limit"

# The API's bounds for an estimate of people expelled (PostgreSQL's integer column, which
# SQLite does not enforce); below 1 the model's constraint says the rule.
EXPELLED_COUNT_MAX = 2_147_483_647

# The csv module refuses a cell over 131,072 characters (its default field_size_limit), less
# than an export writes: a citations cell holds any number of notes of TEXT_MAX_LENGTH each.
# What bounds a cell is the file's size (the admin takes 20 MB; the command reads the
# operator's own files), so the reader takes cells of any size and texts are checked by field.
CSV_FIELD_SIZE_LIMIT = 2**31 - 1
REQUIRED_COLUMNS = {"slug", "kind", "title", "start_date"}
# A CSV file's columns: the export's, and `actors` (names and kinds for --create-actors).
CSV_KNOWN_COLUMNS = frozenset([*CSV_COLUMNS, "actors"])
ACTOR_KEYS = frozenset(["slug", "name", "kind", "country"])


@functools.cache
def json_keys():
    """The keys of the API's event shape, for the event and for each object in it: what a JSON
    file may hold. The import reads some of them and ignores the derived ones (url, codes,
    names of countries, titles of linked events); `source_kind` lets it create a source."""
    # Imported on first use: the serializers import the write layer, which may import this.
    from .api.serializers import EventSerializer

    fields = EventSerializer().fields
    return {
        "event": frozenset(fields),
        "location": frozenset(fields["location"].fields),
        "participants": frozenset(fields["participants"].child.fields),
        "citations": frozenset(fields["citations"].child.fields) | {"source_kind"},
        "links": frozenset(fields["links"].child.fields),
    }


def detect_format(path, given=None):
    if given:
        return given
    return "json" if str(path).lower().endswith(".json") else "csv"


def open_text(path):
    return open(path, encoding="utf-8-sig", newline="")


def read_records(path, fmt):
    """Yield a Record per row of the file, streaming. Raises FileError where the file stops
    being CSV or JSON, and RowError (row 1) when a CSV file lacks a required column."""
    with open_text(path) as handle:
        # (record, whether its text may hold a NUL character: a quick test of the text read)
        for record, nul in read_csv(handle) if fmt == "csv" else read_json(handle):
            columns = nul and nul_columns(record)
            if columns:
                # Kept out of every query too: PostgreSQL takes no NUL, even in a parameter.
                message = str(NO_NUL.message)
                record = unreadable(
                    record.row, record.errors + [RowError(c, message) for c in columns]
                )
            yield record


def read_json(handle):
    events = JSONEvents(handle)
    for number, value in events:
        if isinstance(value, RowError):
            yield unreadable(number, [value]), False
        else:
            yield record_from_json(number, value), events.nul


def unreadable(row, errors):
    """A row that cannot be read as an event: only its problems are reported."""
    return Record(row, "", {}, None, [], {}, [], [], [], errors, readable=False)


def read_csv(handle):
    csv.field_size_limit(CSV_FIELD_SIZE_LIMIT)
    reader = csv.reader(handle)
    try:
        columns = next(reader, [])
        missing = REQUIRED_COLUMNS - set(columns)
        if missing:
            raise RowError(", ".join(sorted(missing)), "required column missing")
        header = []
        for position, name in enumerate(columns, start=1):
            if not name.strip():
                header.append(RowError(None, f"column {position} has no name"))
            elif name not in CSV_KNOWN_COLUMNS:
                header.append(
                    RowError(name, "unknown column: the import does not read it (docs/csv.md)")
                )
            elif columns.index(name) != position - 1:
                header.append(RowError(name, "appears twice in the header"))
        if header:
            # The header's problems, once, as those of its row (1): nothing is written.
            yield unreadable(1, header), False
        # Rows numbered as a spreadsheet shows them: blank ones too, though they hold nothing.
        for number, cells in enumerate(reader, start=2):
            if not cells:
                continue
            # Undo the export's guard against formulas: `'=x` reads as `=x` (docs/csv.md).
            cells = list(map(restore, cells))
            record = record_from_csv(number, dict(zip(columns, cells, strict=False)))
            if len(cells) > len(columns):
                record.errors.append(RowError(None, "more cells than the header has columns"))
            line = "\n".join(cells)
            # A NUL character as such, or escaped in a cell's JSON.
            yield record, "\x00" in line or "\\u0000" in line
    except csv.Error as error:
        raise FileError(reader.line_num, f"is not valid CSV: {error}") from error


# JSON text up to its next bracket (group 1), or up to its end (group 1 empty): runs of
# anything else, strings whole (a bracket in a string is text), a string still open at the end
# included. It matches wherever the previous match ended, so `finditer` steps from bracket to
# bracket; possessive quantifiers never backtrack, so the time is linear in the text.
BRACKET = re.compile(r'(?:[^"\[\]{}]++|"(?:[^"\\]++|\\.?)*+(?:"|\Z))*+([\[\]{}]|\Z)', re.DOTALL)
STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# A value that is neither an object nor a list: a string, or a run up to the next delimiter.
SCALAR = re.compile(r'"(?:[^"\\]++|\\.)*+"|[^\s,:\[\]{}"]++', re.DOTALL)
BLANK = re.compile(r"[ \t\n\r]*+")
KEY_BEFORE = re.compile(r'("(?:[^"\\]|\\.)*")\s*:\s*\Z', re.DOTALL)


def refuse_constant(name):
    raise ValueError(f"{name} is not a JSON value")


DECODER = json.JSONDecoder(parse_constant=refuse_constant)


def nests_deeper(value, level=1):
    """Whether a parsed value, at `level`, nests deeper than JSON_MAX_DEPTH."""
    containers = [value]
    while containers:
        if level > JSON_MAX_DEPTH:
            return True
        inner = []
        for container in containers:
            for item in container.values() if isinstance(container, dict) else container:
                if isinstance(item, (dict, list)):
                    inner.append(item)
        containers, level = inner, level + 1
    return False


class JSONEvents:
    """The events of a JSON file holding an event object or a list of them, streamed: read a
    megabyte at a time, each event parsed on its own with the json module.

    Yields (row, value): the parsed value, or a RowError when it nests deeper than
    JSON_MAX_DEPTH. Raises FileError, naming the line, where the file is not JSON. An event
    that cannot simply be parsed where it stands is delimited by counting its brackets (no
    recursion, so no depth is too deep), which also says where it goes too deep."""

    def __init__(self, handle, chunk=1 << 20):
        self.handle, self.chunk = handle, chunk
        self.text, self.at, self.eof, self.nul = "", 0, False, False
        self.counted, self.lines = 0, 1  # text[counted] is on line `lines`

    def __iter__(self):
        first = self.next_char()
        if first == "[":
            self.at += 1
            row, after = 0, self.next_char()
            while after != "]":
                if not after:
                    raise self.error(self.at, "it ends inside the list")
                row += 1
                yield row, self.value()
                after = self.next_char()
                if after == ",":
                    self.at += 1
                    after = self.next_char()
                    if after == "]":
                        raise self.error(self.at, "a comma before ']'")
                elif after and after != "]":
                    raise self.error(self.at, "expecting ',' or ']' after an event")
            self.at += 1
        elif first == "{":
            yield 1, self.value()
        elif first:
            self.value()  # a lone value: no event, if it is JSON at all
        if self.next_char():
            raise self.error(self.at, "extra data after its end")

    def line_at(self, position):
        if position >= self.counted:
            self.lines += self.text.count("\n", self.counted, position)
        else:
            self.lines -= self.text.count("\n", position, self.counted)
        self.counted = position
        return self.lines

    def error(self, position, message):
        return FileError(self.line_at(position), f"is not valid JSON: {message}")

    def more(self):
        """Read on, dropping the text before `at` (read already); False at the end."""
        piece = "" if self.eof else self.handle.read(self.chunk)
        if not piece:
            self.eof = True
            return False
        self.line_at(self.at)
        self.text = self.text[self.at :] + piece
        self.at = self.counted = 0
        return True

    def next_char(self):
        """The next character that is not blank (`at` moves to it), or "" at the end."""
        while True:
            self.at = BLANK.match(self.text, self.at).end()
            if self.at < len(self.text):
                return self.text[self.at]
            if not self.more():
                return ""

    def value(self):
        """The value at `at`, parsed (RowError if it nests too deep); `at` moves past it."""
        if self.text[self.at] in "[{":
            # Most often the value is there whole, valid and shallow: parsed where it stands.
            # Else (cut off by the end of what was read, not JSON, too deep for the parser or
            # for the limit) its brackets say where it ends and how deep it goes.
            try:
                value, end = DECODER.raw_decode(self.text, self.at)
            except (ValueError, RecursionError):
                return self.delimited()
            if nests_deeper(value):
                return self.delimited()
            self.nul = self.text.find("\\u0000", self.at, end) >= 0
            self.at = end
            return value
        # A value that is not an event, whole when what follows it has been read too.
        match = SCALAR.match(self.text, self.at)
        while (not match and self.text[self.at] == '"') or (
            match and match.end() == len(self.text)
        ):
            if not self.more():
                break
            match = SCALAR.match(self.text, self.at)
        return self.parse(match.end() - self.at if match else len(self.text) - self.at)

    def delimited(self):
        """The object or list at `at`, delimited by counting its brackets, then parsed (or a
        RowError if it nests deeper than JSON_MAX_DEPTH)."""
        # Offsets from `at`, which `more()` moves.
        end, depth, deepest = 0, 0, None
        while True:
            for match in BRACKET.finditer(self.text, self.at + end):
                bracket = match[1]
                if not bracket:  # the end of the text read so far
                    end = match.start() - self.at
                    break
                depth += STEP[bracket]
                if depth > JSON_MAX_DEPTH and deepest is None:
                    deepest = match.end() - 1 - self.at
                if not depth:
                    end = match.end() - self.at
                    break
            if not depth:
                break
            if not self.more():
                if deepest is None:
                    return self.parse(len(self.text) - self.at)  # json says what is wrong
                raise self.error(len(self.text), "it ends inside an event")
        if deepest is None:
            return self.parse(end)
        key, line = self.key_around(deepest), self.line_at(self.at + deepest)
        self.at += end
        return RowError(key, f"{NESTING} (line {line})")

    def key_around(self, position):
        """The key of the event whose value holds `position` (an offset from `at`), if the
        value at `at` is an object."""
        if self.text[self.at] != "{":
            return None
        depth, opened = 0, None
        for match in BRACKET.finditer(self.text, self.at, self.at + position):
            if not match[1]:
                break
            depth += STEP[match[1]]
            if depth == 2 and match[1] in "[{":
                opened = match.start(1)
        found = opened and KEY_BEFORE.search(self.text, self.at, opened)
        return json.loads(found[1]) if found else None

    def parse(self, length):
        text, line = self.text[self.at : self.at + length], self.line_at(self.at)
        self.at += length
        self.nul = "\\u0000" in text  # JSON holds a NUL character only as this escape
        try:
            return json.loads(text, parse_constant=refuse_constant)
        except json.JSONDecodeError as error:
            message = error.msg[:1].lower() + error.msg[1:]
            raise FileError(line + error.lineno - 1, f"is not valid JSON: {message}") from error
        except ValueError as error:  # a number too long for Python, NaN or Infinity
            raise FileError(line, f"is not valid JSON: {error}") from error


def json_cell(row, column):
    """The JSON list of a CSV cell, which nests from level 2 (its row's event is level 1)."""
    deep = RowError(column, f"{NESTING} (the cell's list is level 2)")
    try:
        value = DECODER.decode(row[column])
    except RecursionError as error:  # too deep for the parser: far beyond the limit
        raise deep from error
    except ValueError:
        value = None
    if not isinstance(value, list):
        raise RowError(column, f"not a JSON list of {column}")
    if nests_deeper(value, level=2):
        raise deep
    return value


def json_objects(items, column, errors):
    """The objects of a list from the file (a problem for anything else in it, and for each
    key the event's shape does not have)."""
    if not isinstance(items, list):
        errors.append(RowError(column, "not a JSON list"))
        return []
    objects = [item for item in items if isinstance(item, dict)]
    if len(objects) < len(items):
        errors.append(RowError(column, "each item is a JSON object"))
    known = ACTOR_KEYS if column == "actors" else json_keys()[column]
    unknown = set().union(*objects) - known
    errors += [
        RowError(column, f"unknown key {key!r}: the import does not read it")
        for key in sorted(unknown)
    ]
    return objects


def split_pairs(value, column):
    pairs = []
    for item in (value or "").split(";"):
        item = item.strip()
        if not item:
            continue
        if ":" not in item:
            raise RowError(column, f"{item!r} is not role:slug")
        left, right = item.split(":", 1)
        pairs.append((left.strip(), right.strip()))
    return pairs


def read_version(value, errors):
    """The `version` column: empty, or the whole number an export wrote."""
    if value is None or value == "":
        return None
    version = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str):
        version = whole_number(value.strip())
    if version is None or version < 1:
        errors.append(RowError("version", f"{value!r} is not a version (a whole number from 1)"))
        return None
    return version


def record_from_csv(number, row):
    record = Record(number, (row.get("slug") or "").strip(), {}, None, [], {}, [], [], [])
    record.fields = {name: row.get(name, "") or "" for name in EVENT_FIELDS if name in row}
    record.review_state = (row.get("review_state") or "").strip() or None
    record.version = read_version(row.get("version"), record.errors)
    try:
        record.participants = split_pairs(row.get("participants"), "participants")
        if row.get("actors"):
            for actor in json_objects(json_cell(row, "actors"), "actors", record.errors):
                slug = text(actor.get("slug"))
                if not slug:
                    raise RowError("actors", "an actor without a slug")
                record.actors[slug] = actor
        if row.get("citations"):
            cell = json_cell(row, "citations")
            record.citations = json_objects(cell, "citations", record.errors)
        record.links = split_pairs(row.get("links"), "links")
        record.linked_from = split_pairs(row.get("linked_from"), "linked_from")
    except RowError as error:
        record.errors.append(error)
    return record


def record_from_json(number, obj):
    record = Record(number, "", {}, None, [], {}, [], [], [])
    errors = record.errors
    if not isinstance(obj, dict):
        errors.append(RowError(None, "not an event: each event is a JSON object"))
        record.readable = False
        return record
    errors += [
        RowError(key, "unknown key: the import does not read it")
        for key in sorted(obj.keys() - json_keys()["event"])
    ]
    record.slug = text(obj.get("slug")).strip()
    record.fields = {name: obj[name] for name in EVENT_FIELDS if name in obj}
    for name, value in record.fields.items():
        if isinstance(value, dict | list):
            errors.append(RowError(name, "a single value, not a JSON object or list"))
    location = obj.get("location") or {}
    if isinstance(location, dict):
        json_objects([location], "location", errors)  # for its unknown keys
        record.fields["location_country"] = location.get("country") or ""
        record.fields["place"] = location.get("place") or ""
    else:
        errors.append(RowError("location", "not a JSON object"))
    record.review_state = text(obj.get("review_state")) or None
    record.version = read_version(obj.get("version"), errors)
    for participant in json_objects(obj.get("participants") or [], "participants", errors):
        slug = text(participant.get("actor"))
        record.participants.append((text(participant.get("role")), slug))
        if participant.get("actor_name"):
            record.actors[slug] = {
                "slug": slug,
                "name": participant.get("actor_name"),
                "kind": participant.get("actor_kind"),
                "country": participant.get("country"),
            }
    record.citations = json_objects(obj.get("citations") or [], "citations", errors)
    for link in json_objects(obj.get("links") or [], "links", errors):
        direction = link.get("direction", "outgoing")
        if direction not in ("outgoing", "incoming"):
            errors.append(RowError("links", f"unknown direction {direction!r}"))
            continue
        pairs = record.links if direction == "outgoing" else record.linked_from
        pairs.append((text(link.get("kind")), text(link.get("event"))))
    return record


def text(value):
    """A JSON value that names something, as text (a number or list fails the name checks)."""
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)


# --- Validation --------------------------------------------------------------------------


def parse_date(value, column):
    if value in (None, ""):
        return None
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError as error:
        raise RowError(column, f"{value!r} is not an ISO date (YYYY-MM-DD)") from error


# Sets of the choices, computed once (`Choices.values` builds a new list on every use).
ROLES = frozenset(Role.values)
ACTOR_KINDS = frozenset(ActorKind.values)
LINK_KINDS = frozenset(LinkKind.values)
REVIEW_STATES = frozenset(ReviewState.values)
SOURCE_KINDS = frozenset(SourceKind.values)
NO_NUL = ProhibitNullCharactersValidator()


def length_problem(value, limit):
    """The message of Django's max-length validator (the admin's and the API's) for a text
    longer than `limit`, else None."""
    try:
        MaxLengthValidator(limit)(value)
    except ValidationError as error:
        return error.messages[0]
    return None


# A citation's texts, and the fields of a source that a citation creates (by key in the file).
CITATION_TEXTS = [
    "source_url",
    "source_title",
    "source_publisher",
    "source_published_on",
    "source_kind",
    "locator",
    "note",
]
SOURCE_FIELDS = {"source_title": "title", "source_publisher": "publisher"}


def field_problems(model, name, value):
    """What the validators of `model`'s field `name` (its length, its form) say of `value`."""
    try:
        model._meta.get_field(name).run_validators(value)
    except ValidationError as error:
        return error.messages
    return []


def holds_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(item) for item in value)
    return False


def nul_columns(record):
    """The columns of a row holding a NUL character: the API refuses it (and PostgreSQL can
    store none), so the import refuses it too, with the API's message."""
    found = [name for name, value in record.fields.items() if holds_nul(value)]
    for column in ("slug", "participants", "actors", "citations", "links", "linked_from"):
        if holds_nul(getattr(record, column)):
            found.append(column)
    return found


# Event fields a row's validation skips: the slug is checked on its own, the country by code.
UNCHECKED = {"slug", "location_country"}


@functools.cache
def constraint_message(name):
    return next(str(c.violation_error_message) for c in Event._meta.constraints if c.name == name)


def expelled_estimate(column, value):
    """An estimate of people expelled (`column`: expelled_low, expelled_best or expelled_high)
    as the file gives it (text in a CSV, a number in JSON), held to the API's rule: a whole
    number from 1 to EXPELLED_COUNT_MAX, or none. Their order and "expulsions only" are the
    model's constraints, checked with the row's other fields."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise RowError(column, f"{value!r} is not a whole number")
    if isinstance(value, str):
        # ASCII digits only: int() would also take "٣" or "1_000".
        written = value.strip()
        digits = whole_number(written.removeprefix("-"))
        if digits is None:
            raise RowError(column, f"{value!r} is not a whole number")
        count = -digits if written.startswith("-") else digits
    elif isinstance(value, int | float):
        count = int(value)
    else:
        raise RowError(column, f"{value!r} is not a whole number")
    if count < 1:
        raise RowError(column, constraint_message("event_expelled_positive"))
    try:
        MaxValueValidator(EXPELLED_COUNT_MAX)(count)
    except ValidationError as error:
        raise RowError(column, error.messages[0]) from error
    return count


class EventRow:
    """An event's values as plain attributes, without a model instance (building 100,000 of
    those costs seconds): the model's own rules (`Event.clean`, `Event.constraint_problems`)
    read only attributes, so they apply to it unchanged."""

    _meta = Event._meta
    constraint_fields = Event.constraint_fields

    def __init__(self, values):
        self.__dict__.update(values)


@functools.cache
def field_checks():
    """(attname, field, allowed values or None, max_length) for each field a row's validation
    cleans: what `Model.clean_fields` checks, in a form cheap enough for every row."""
    checks = []
    for f in Event._meta.fields:
        if f.name in UNCHECKED or f.generated:
            continue
        allowed = frozenset(value for value, _ in f.flatchoices) if f.choices else None
        # max_length is checked as such; any other limit (a text's own) by its validator.
        extra = [
            v
            for v in f.validators
            if not (isinstance(v, MaxLengthValidator) and v.limit_value == f.max_length)
        ]
        checks.append((f.attname, f, allowed, f.max_length, extra))
    return checks


# Written columns that build_values reads by hand: a country code, the estimates of people
# expelled held to the API's limits. It reads the others by their model field.
READ_BY_HAND = frozenset(["location_country", *EXPELLED])


@functools.cache
def plain_fields():
    """(attname, column, field) of each written column that build_values reads by its model
    field: a date as ISO text, a text (stripped, but for a TextField's free text), any other
    value as the field's to_python() reads it."""
    fields = [Event._meta.get_field(name) for name in EVENT_FIELDS if name not in READ_BY_HAND]
    return [(f.attname, f.name, f) for f in fields]


@functools.cache
def event_defaults():
    return {
        f.attname: f.get_default()
        for f in Event._meta.concrete_fields
        if not f.generated and f.attname != "id"
    }


def fields_look_valid(values):
    """Whether `Model.clean_fields` would pass these values; False sends the row through the
    model's full_clean for the exact messages (a conservative test: it never passes a row that
    full_clean would refuse)."""
    for attname, f, allowed, max_length, extra in field_checks():
        value = values.get(attname)
        if value in f.empty_values:
            # Empty is fine where blank; a non-editable field skips Field.validate().
            if f.blank or not f.editable:
                continue
            return False
        if f.editable and allowed is not None and value not in allowed:
            return False
        if max_length is not None and (not isinstance(value, str) or len(value) > max_length):
            return False
        for validator in extra:
            try:
                validator(value)
            except (ValidationError, TypeError):
                return False
    return True


class Importer:
    """Validates and writes a file of events. See the module docstring."""

    def __init__(
        self, *, publish=False, create_actors=False, skip_duplicates=False, log=None, user=None
    ):
        self.publish = publish
        self.create_actors = create_actors
        self.skip_duplicates = skip_duplicates
        self.log = log or (lambda message: None)
        # Who imports: the admin's user, or on the command line a curator (an editor with
        # --publish); a user is named on every history record the import writes.
        self.user = user if user is not None else writes.CommandLine(editor=publish)
        self.user_id = writes.history_user(self.user).pk if user is not None else None
        self.countries = {}
        self.copy = connection.vendor == "postgresql"

    def run(self, records, dry_run=False):
        """Validate and write every record in one transaction, chunk by chunk. Returns the
        problems (row, column, message); on any, nothing is written (and after the first bad
        chunk nothing more is even tried: the rest is only validated). A dry run reads only:
        it validates, finds the duplicates and counts what would change, and writes nothing."""
        self.counts = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "duplicates": 0}
        self.dry_run = dry_run
        self.duplicates = []  # the first DUPLICATES_LISTED: (row, slug, stored slug)
        self.pending_links = []
        self.link_names = []  # (row, column, other slug) of every link in the file
        self.skipped = {}  # slug -> row of each new event left out as a duplicate
        self.written_ids = set()
        self.now = timezone.now()
        self.slugs, self.actors_in_file = set(), {}
        self.failed = self.failed_links = False
        # {kind: the longest span of a stored event}, read once; and of what the import wrote.
        self.spans, self.written_spans = None, {}
        # PostgreSQL: new events and their children wait in temporary tables until the whole
        # file is read (see _stage), so that the duplicate finder sees only what was stored
        # before the import: it examines the same rows whatever the file holds before.
        self.staged, self.new_ids = {}, []
        self.stored_up_to = None  # the highest event id stored before the import
        problems = []
        with transaction.atomic():
            if self.copy:
                with connection.cursor() as cursor:
                    # Many short queries: compiling them (JIT) would cost more than it saves.
                    cursor.execute("SET LOCAL jit = off")
            self.stored_up_to = Event.objects.aggregate(last=models.Max("id"))["last"] or 0
            chunk = []
            for count, record in enumerate(records, start=1):
                chunk.append(record)
                if len(chunk) >= CHUNK:
                    problems += self._process_chunk(chunk)
                    chunk = []
                if count % 10000 == 0:
                    self.log(f"read {count} rows")
            problems += self._process_chunk(chunk)
            problems += self._unknown_link_targets()
            if not problems:
                problems = self._links_to_skipped()
                self.failed_links = bool(problems)
            if not problems and not dry_run:
                self._write_staged()
                self._write_links()
            if problems:
                transaction.set_rollback(True)
        return problems

    def _process_chunk(self, chunk):
        if not chunk:
            return []
        actors = self._known_actors(chunk)
        sources = self._known_sources(chunk)
        problems = self._validate_chunk(chunk, actors, sources)
        for record in chunk:
            for column, pairs in (("links", record.links), ("linked_from", record.linked_from)):
                self.link_names += [(record.row, column, other) for _, other in pairs]
        if problems:
            self.failed = True
        if not self.failed:
            problems = self._write_chunk(chunk, actors, sources)
            self.failed = bool(problems)
        return problems

    def _known_actors(self, chunk):
        slugs = {slug for r in chunk for _, slug in r.participants}
        return {
            slug: (pk, name, kind, country)
            for pk, slug, name, kind, country in self._look_up(
                Actor, "slug", slugs, ["id", "slug", "name", "kind", "country_id"]
            )
        }

    def _known_sources(self, chunk):
        urls = {
            str(c.get("source_url") or "").strip()
            for r in chunk
            for c in r.citations
            if isinstance(c, dict)
        }
        return dict(self._look_up(Source, "url", urls, ["url", "id"]))

    def _look_up(self, model, key, values, columns):
        """Rows (`columns`) of `model` whose `key` is one of `values`: on PostgreSQL as one
        array parameter (`= ANY`), cheaper to send than thousands of IN parameters."""
        if not self.copy:
            return model.objects.filter(**{f"{key}__in": values}).values_list(*columns)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(columns)} FROM {model._meta.db_table} WHERE {key} = ANY(%s)",
                [list(values)],
            )
            return cursor.fetchall()

    # Validation ---------------------------------------------------------------------------

    def _validate_chunk(self, chunk, known_actors, known_sources):
        problems = []
        slugs = self.slugs
        for record in chunk:
            if not record.readable:
                problems += [(record.row, e.column, e.message) for e in record.errors]
                continue
            errors = list(record.errors)
            if not record.slug:
                errors.append(RowError("slug", "required"))
            elif record.slug in slugs:
                errors.append(RowError("slug", f"{record.slug!r} appears twice in the file"))
            errors += [RowError("slug", m) for m in field_problems(Event, "slug", record.slug)]
            slugs.add(record.slug)
            try:
                record.values = self.build_values(record)
            except RowError as error:
                errors.append(error)
                record.values = None
            if record.values is not None:
                errors += self.check_event(record.values)
                errors += self.check_texts(record.values)
            errors += self.check_participants(record, known_actors, self.actors_in_file)
            errors += self.check_citations(record, known_sources)
            for column, pairs in (("links", record.links), ("linked_from", record.linked_from)):
                for kind, _ in pairs:
                    if kind not in LINK_KINDS:
                        errors.append(RowError(column, f"unknown link kind {kind!r}"))
            if self.publish and record.review_state not in (None, *REVIEW_STATES):
                message = f"Value {record.review_state!r} is not a valid choice."
                errors.append(RowError("review_state", message))
            if self.publish and (record.review_state or "published") == "published":
                if not record.participants:
                    errors.append(RowError("participants", writes.PUBLISHED_KEEPS["participants"]))
                if not record.citations:
                    errors.append(RowError("citations", writes.PUBLISHED_KEEPS["citations"]))
            # Two checks may say the same thing (a model's validator and the import's own).
            problems += dict.fromkeys((record.row, e.column, e.message) for e in errors)
        return problems

    def check_event(self, values):
        """The event's fields, clean() and CHECK constraints, all in Python (Django would run a
        query per constraint and row). A row whose fields look wrong goes through the model's
        full_clean, whose messages are the ones reported."""
        try:
            if fields_look_valid(values):
                row = EventRow(values)
                Event.clean(row)
                problems = Event.constraint_problems(row)
            else:
                event = Event(**values)
                event.full_clean(
                    exclude=UNCHECKED, validate_unique=False, validate_constraints=False
                )
                problems = event.constraint_problems()
            if problems:
                raise ValidationError(problems)
        except ValidationError as error:
            return [
                RowError(column, message)
                for column, messages in error.message_dict.items()
                for message in messages
            ]
        return []

    @staticmethod
    def check_texts(values):
        """The free texts' limit, which the model's fields do not enforce by themselves."""
        errors = []
        for name in ("summary", "quoted_words"):
            message = length_problem(values[name], TEXT_MAX_LENGTH)
            if message:
                errors.append(RowError(name, message))
        return errors

    def build_values(self, record):
        """The event's field values (attnames) from the file's, with the defaults and the
        derived period end."""
        data = record.fields
        values = dict(event_defaults())
        values["slug"] = record.slug
        for attname, name, f in plain_fields():
            value = data.get(name)
            if isinstance(f, models.DateField):
                values[attname] = parse_date(value, name)
                if values[attname] is None and not f.null:
                    raise RowError(name, "required")
            elif value is None:
                continue  # the default stands
            elif isinstance(f, models.TextField):
                values[attname] = str(value)  # free text, as written
            elif isinstance(f, models.CharField):
                values[attname] = str(value).strip()
            elif str(value).strip():
                try:
                    values[attname] = f.to_python(str(value).strip())
                except ValidationError as error:
                    raise RowError(name, error.messages[0]) from error
        code = str(data.get("location_country") or "").strip()
        values["location_country_id"] = None
        if code:
            if code not in self.countries:
                country = resolve_country(code)
                self.countries[code] = country.pk if country else None
            if self.countries[code] is None:
                raise RowError("location_country", f"unknown country code {code!r}")
            values["location_country_id"] = self.countries[code]
        for name in EXPELLED:
            values[name] = expelled_estimate(name, data.get(name))
        values["period_end"] = period_end(
            values["start_date"], values["end_date"], values["date_precision"]
        )
        return values

    def check_participants(self, record, known, actors_in_file):
        errors, seen = [], set()
        for role, slug in record.participants:
            if role not in ROLES:
                errors.append(RowError("participants", f"unknown role {role!r}"))
            if (role, slug) in seen:
                errors.append(RowError("participants", f"{slug!r} appears twice as {role}"))
            seen.add((role, slug))
            if slug in known or slug in actors_in_file:
                continue
            given = record.actors.get(slug)
            if not self.create_actors:
                errors.append(
                    RowError(
                        "participants",
                        f"unknown actor {slug!r} (--create-actors creates it from its name "
                        "and kind)",
                    )
                )
            elif (
                not given
                or not isinstance(given.get("name"), str)
                or text(given.get("kind")) not in ACTOR_KINDS
            ):
                errors.append(
                    RowError("participants", f"unknown actor {slug!r} and no name and kind for it")
                )
            else:
                country = given.get("country")
                if country and resolve_country(str(country)) is None:
                    errors.append(RowError("actors", f"unknown country code {country!r}"))
                for name, value in (("slug", slug), ("name", given["name"])):
                    errors += [
                        RowError("actors", f"{name} of actor {slug!r}: {message}")
                        for message in field_problems(Actor, name, value)
                    ]
                actors_in_file[slug] = given
        return errors

    def check_citations(self, record, known_sources=()):
        errors, seen = [], set()
        for citation in record.citations:
            wrong = [key for key in CITATION_TEXTS if not isinstance(citation.get(key), str | None)]
            if wrong:
                errors.append(RowError("citations", f"not a text: {', '.join(wrong)}"))
                continue
            url = (citation.get("source_url") or "").strip()
            locator = (citation.get("locator") or "").strip()
            # A source the database holds was validated when it was stored.
            if url not in known_sources:
                if field_problems(Source, "url", url) or not url:
                    errors.append(RowError("citations", f"{url!r} is not a valid source address"))
                # The new source's fields, as the citation gives them.
                for key, name in SOURCE_FIELDS.items():
                    errors += [
                        RowError("citations", f"{key} of {url!r}: {message}")
                        for message in field_problems(Source, name, citation.get(key))
                    ]
                kind = citation.get("source_kind")
                if kind and kind not in SOURCE_KINDS:
                    errors.append(RowError("citations", f"unknown source_kind {kind!r}"))
            if not locator:
                errors.append(RowError("citations", f"citation of {url!r} has no locator"))
            errors += [
                RowError("citations", f"locator of {url!r}: {message}")
                for message in field_problems(Citation, "locator", locator)
            ]
            message = length_problem(citation.get("note") or "", TEXT_MAX_LENGTH)
            if message:
                errors.append(RowError("citations", f"note of {url!r} at {locator!r}: {message}"))
            if (url, locator) in seen:
                errors.append(RowError("citations", f"{url!r} is cited twice at {locator!r}"))
            seen.add((url, locator))
            try:
                parse_date(citation.get("source_published_on"), "citations")
            except RowError as error:
                errors.append(error)
        return errors

    def _unknown_link_targets(self):
        """Links naming events that are neither in the file nor in the database."""
        named = {}
        for row, column, other in self.link_names:
            if other not in self.slugs:
                named.setdefault(other, []).append((row, column))
        known = set()
        slugs = list(named)
        for start in range(0, len(slugs), 5000):
            part = slugs[start : start + 5000]
            known |= set(Event.objects.filter(slug__in=part).values_list("slug", flat=True))
        return [
            (row, column, f"unknown event {slug!r}")
            for slug, places in named.items()
            if slug not in known
            for row, column in places
        ]

    # Writing ------------------------------------------------------------------------------

    def _write_chunk(self, chunk, actors, sources):
        """Sort the chunk's rows into new, changed and unchanged events, apply the write
        path's rules and the duplicate finder, and (unless a dry run) write them."""
        if self.dry_run:
            actors = self._planned_actors(chunk, actors)
        else:
            actors = self._actors(chunk, actors)
            sources = self._sources(chunk, sources)
        stored = Event.objects.filter(slug__in=[r.slug for r in chunk])
        if not self.dry_run:
            # Locked until the import commits: a concurrent write of these events waits,
            # then finds the version changed; one the import waits for is seen here, then
            # refused.
            stored = stored.select_for_update()
        existing = {event.slug: event for event in stored}
        children = self._children([e.pk for e in existing.values()])
        new, changed, history, problems = [], [], [], []
        for record in chunk:
            stored = existing.get(record.slug)
            names = [actors[slug][1] for _, slug in record.participants]
            if stored is None:
                record.values["review_state"] = self._review_state(record, None)
                self._derive(record.values, names)
                new.append(record)
                continue
            event = Event(**record.values)
            event.pk, event.version = stored.pk, stored.version
            event.review_state = self._review_state(record, stored.review_state)
            self._derive(event.__dict__, names)
            record.event = event
            wanted = self._wanted_children(record)
            has = children.get(stored.pk, {})
            if self._differs(stored, event) or wanted != has:
                problems += self._refusals(record, stored, event)
                event.version = stored.version + 1
                changed.append(record)
                # Derived rows to refresh only where what they derive from changed.
                record.rederive = wanted["participants"] != has.get("participants") or any(
                    getattr(stored, name) != getattr(event, name) for name in DERIVED_FROM
                )
            else:
                self.counts["unchanged"] += 1
        if problems:
            return problems
        new = self._without_duplicates(new, actors)
        self.counts["created"] += len(new)
        self.counts["updated"] += len(changed)
        if self.dry_run:
            return []
        for record in new + changed:
            values = record.values
            span = values["period_end"] - values["start_date"]
            kind = values["kind"]
            self.written_spans[kind] = max(self.written_spans.get(kind, span), span)
        if new and self.copy:
            self._copy_new(new, actors, sources)
        elif new:
            for record in new:
                record.event = Event(**record.values)
            Event.objects.bulk_create([r.event for r in new])
            history += [(r.event, "+") for r in new]
        # Only these can have stored links (a new event gets its links in _write_links).
        self.written_ids.update(r.event.pk for r in changed)
        if changed:
            self._update_events([r.event for r in changed])
            history += [(r.event, "~") for r in changed]
        self._replace_children(changed if self.copy else new + changed, actors, sources)
        # Bulk writes send no signals: keep the derived country involvements in step here
        # (for staged new events, once they are written: _write_staged).
        written = [] if self.copy else [r.event.pk for r in new]
        self._refresh([*written, *(r.event.pk for r in changed if r.rederive)])
        self._record_history(Event, history)
        return []

    def _update_events(self, events):
        """Write the changed events' fields: on PostgreSQL one UPDATE from a temporary table
        filled by COPY (Django's bulk_update builds a CASE per field and row, which costs
        more in Python than the database spends on the update); elsewhere bulk_update."""
        fields = [*COMPARED, *DERIVED, "version"]
        if not self.copy:
            Event.objects.bulk_update(events, fields)
            return
        quote = connection.ops.quote_name
        columns = ["id", *fields]
        with connection.cursor() as cursor:
            temporary_table(cursor, "import_changed", "events_event", columns)
            self._copy(cursor, "import_changed", columns, [event.__dict__ for event in events])
            cursor.execute(
                "UPDATE events_event AS e SET "
                + ", ".join(f"{quote(c)} = s.{quote(c)}" for c in fields)
                + " FROM import_changed s WHERE e.id = s.id"
            )
            cursor.execute("DROP TABLE import_changed")

    @staticmethod
    def _refresh(ids):
        """refresh_involvements() of these events: by their range when they are most of it
        (ids drawn in one go from the sequence), a shorter query than a list."""
        if not ids:
            return
        low, high = min(ids), max(ids)
        if high - low + 1 <= 2 * len(ids):
            # Another writer's events in the range are derived again, which changes nothing.
            refresh_involvements(id_range=(low, high))
        else:
            refresh_involvements(ids)

    def _planned_actors(self, chunk, known):
        """A dry run's slug -> (id, name, kind, country) of the chunk's participants: the
        actors it would create have no id (nothing is written)."""
        actors = dict(known)
        for record in chunk:
            for _, slug in record.participants:
                if slug not in actors:
                    given = self.actors_in_file[slug]
                    country = given.get("country")
                    country = resolve_country(str(country)) if country else None
                    actors[slug] = (None, given["name"], given["kind"], country and country.pk)
        return actors

    def _refusals(self, record, stored, event):
        """The write path's rules for a row that changes a stored event (events/writes.py):
        based on the stored version, by someone who may change it, leaving a published event
        with a participant and a citation."""
        if record.version is None:
            return [
                (
                    record.row,
                    "version",
                    f"{record.slug!r} exists (version {stored.version}): give the version "
                    "your copy is based on (the export's version column)",
                )
            ]
        if record.version != stored.version:
            message = writes.stale_row_message(record.slug, record.version, stored.version)
            return [(record.row, None, message)]
        if not writes.may_change(self.user, stored.review_state):
            return [
                (
                    record.row,
                    None,
                    f"{record.slug!r} is published: only an editor may change it "
                    "(an editor imports with publishing; a curator proposes the change in the "
                    "admin)",
                )
            ]
        if event.review_state == ReviewState.PUBLISHED:
            given = {"participants": record.participants, "citations": record.citations}
            return [
                (record.row, column, message)
                for column, message in writes.PUBLISHED_KEEPS.items()
                if not given[column]
            ]
        return []

    def _review_state(self, record, stored):
        if self.publish:
            return record.review_state or ReviewState.PUBLISHED
        return stored or ReviewState.DRAFT

    def _derive(self, values, names):
        """The derived columns that the save signals would set (events/models/derived.py)."""
        values["period_end"] = period_end(
            values["start_date"], values["end_date"], values["date_precision"]
        )
        codes = codes_for(values["kind"], values["mode"], values["status"])
        if codes:
            values["cameo_code"], values["plover_type"], values["plover_mode"] = codes
        values["search_text"] = build_search_text(EventRow(values), names)

    def _differs(self, stored, event):
        return any(getattr(stored, name) != getattr(event, name) for name in COMPARED)

    def _without_duplicates(self, records, actors):
        """Flag (and with --skip-duplicates drop) the new events that look like stored ones,
        by the one duplicate finder (events/duplicates.py), asked once for the chunk."""
        questions = []
        for index, record in enumerate(records):
            sides = {Role.INITIATOR: [], Role.TARGET: []}
            for role, slug in record.participants:
                actor_id, _, kind, country = actors[slug]
                if role in sides and actor_id:
                    sides[role].append(duplicates.Side(actor_id, kind, country))
            values = record.values
            questions.append(
                duplicates.candidate(
                    index,
                    values["kind"],
                    values["start_date"],
                    values["period_end"],
                    sides[Role.INITIATOR],
                    sides[Role.TARGET],
                    low=values["start_date"] - self._longest_span(values["kind"]),
                    up_to=self.stored_up_to,
                )
            )
        found = duplicates.matches(questions)
        kept = []
        for index, record in enumerate(records):
            if index in found:
                self.counts["duplicates"] += 1
                if len(self.duplicates) < DUPLICATES_LISTED:
                    self.duplicates.append((record.row, record.slug, found[index][0]))
                if self.skip_duplicates:
                    self.counts["skipped"] += 1
                    self.skipped[record.slug] = record.row
                    continue
            kept.append(record)
        return kept

    def _longest_span(self, kind):
        """The longest time a stored event of this kind covers, read once, then kept up to
        date with what the import writes."""
        if self.spans is None:
            self.spans = duplicates.longest_spans()
        zero = datetime.timedelta(0)
        return max(self.spans.get(kind, zero), self.written_spans.get(kind, zero))

    def _actors(self, chunk, known):
        """slug -> (id, name) of every participant of the chunk, creating unknown actors."""
        actors = dict(known)
        missing = {}
        for record in chunk:
            for _, slug in record.participants:
                if slug not in actors and slug not in missing:
                    given = record.actors[slug]
                    country = given.get("country")
                    missing[slug] = Actor(
                        slug=slug,
                        name=given["name"],
                        kind=given["kind"],
                        country=resolve_country(str(country)) if country else None,
                    )
        if missing:
            Actor.objects.bulk_create(list(missing.values()))
            self._record_history(Actor, [(actor, "+") for actor in missing.values()])
            actors.update(
                (slug, (actor.pk, actor.name, actor.kind, actor.country_id))
                for slug, actor in missing.items()
            )
        return actors

    def _sources(self, chunk, known):
        """url -> id of every source the chunk cites, creating unknown sources."""
        sources = dict(known)
        missing = {}
        for record in chunk:
            for citation in record.citations:
                url = str(citation.get("source_url")).strip()
                if url not in sources and url not in missing:
                    missing[url] = Source(
                        url=url,
                        title=citation.get("source_title") or url,
                        publisher=citation.get("source_publisher") or "",
                        kind=citation.get("source_kind") or "news",
                        published_on=parse_date(citation.get("source_published_on"), "citations"),
                    )
        if missing:
            Source.objects.bulk_create(list(missing.values()))
            self._record_history(Source, [(source, "+") for source in missing.values()])
            sources.update((url, source.pk) for url, source in missing.items())
        return sources

    def _children(self, event_ids):
        """What each stored event has now: {event id: {"participants": …, …}}."""
        children = {
            pk: {"participants": set(), "citations": {}, "links": set(), "linked_from": set()}
            for pk in event_ids
        }
        if not event_ids:
            return children
        for pk, kind, other in EventLink.objects.filter(from_event_id__in=event_ids).values_list(
            "from_event_id", "kind", "to_event__slug"
        ):
            children[pk]["links"].add((kind, other))
        for pk, kind, other in EventLink.objects.filter(to_event_id__in=event_ids).values_list(
            "to_event_id", "kind", "from_event__slug"
        ):
            children[pk]["linked_from"].add((kind, other))
        for pk, actor, role in Participation.objects.filter(event_id__in=event_ids).values_list(
            "event_id", "actor__slug", "role"
        ):
            children[pk]["participants"].add((role, actor))
        for pk, url, locator, note in Citation.objects.filter(event_id__in=event_ids).values_list(
            "event_id", "source__url", "locator", "note"
        ):
            children[pk]["citations"][(url, locator)] = note
        return children

    @staticmethod
    def _wanted_citations(record):
        """{(source url, locator): note} as the file gives them, in its order."""
        return {
            (str(c.get("source_url")).strip(), str(c.get("locator")).strip()): str(
                c.get("note") or ""
            )
            for c in record.citations
        }

    def _wanted_children(self, record):
        return {
            "participants": set(record.participants),
            "citations": self._wanted_citations(record),
            "links": set(record.links),
            "linked_from": set(record.linked_from),
        }

    def _copy_new(self, records, actors, sources):
        """PostgreSQL: the new events, their participants and citations, and the history of
        each, staged with COPY (ids drawn from the tables' sequences first, so that children
        and history name them); _write_staged writes them at the end of the file."""
        participations, citations = [], []
        event_ids = self._next_ids(Event, len(records))
        for record, event_id in zip(records, event_ids, strict=True):
            values = record.values
            values["id"] = event_id
            start = values["start_date"]
            for position, (role, slug) in enumerate(record.participants):
                participations.append(
                    {
                        "event_id": event_id,
                        "actor_id": actors[slug][0],
                        "role": role,
                        "position": position,
                        "start_date": start,
                    }
                )
            for (url, locator), note in self._wanted_citations(record).items():
                citations.append(
                    {
                        "event_id": event_id,
                        "source_id": sources[url],
                        "locator": locator,
                        "note": note,
                    }
                )
            for kind, other in record.links:
                self.pending_links.append((record.row, "links", event_id, other, kind, True))
            for kind, other in record.linked_from:
                self.pending_links.append((record.row, "linked_from", event_id, other, kind, False))
        for model, rows in (
            (Participation, participations),
            (Citation, citations),
        ):
            for row, pk in zip(rows, self._next_ids(model, len(rows)), strict=True):
                row["id"] = pk
        with connection.cursor() as cursor:
            for model, rows in (
                (Event, [r.values for r in records]),
                (Participation, participations),
                (Citation, citations),
            ):
                self._stage(cursor, model._meta.db_table, COPY_COLUMNS[model](), rows)
                history = model.history.model
                columns = [f.attname for f in history.tracked_fields]
                stamp = {**self._history_stamp(), "history_type": "+"}
                self._stage(
                    cursor,
                    history._meta.db_table,
                    [*columns, *stamp],
                    rows,
                    constant=tuple(stamp.values()),
                )
        self.new_ids += event_ids

    def _stage(self, cursor, table, columns, rows, constant=()):
        """COPY rows meant for `table` into a temporary table of the same columns (made at
        the first chunk; gone at the end of the transaction). The events' stage also has the
        country-id arrays, derived there before the events are written (_write_staged)."""
        if table not in self.staged:
            stage = f"import_stage_{len(self.staged)}"
            names = [*columns, *(STAGED_ARRAYS if table == Event._meta.db_table else ())]
            self.staged[table] = (stage, temporary_table(cursor, stage, table, names))
        self._copy(cursor, self.staged[table][0], columns, rows, constant)

    def _write_staged(self):
        """The staged new events, children and history into their tables; the events last,
        once their country involvements and country-id arrays are derived from the stage
        (foreign keys are checked at commit), then their tallies. The participations carry
        their event's start date already."""
        if not self.staged:
            return
        ids = sorted(self.new_ids)
        if ids[-1] - ids[0] + 1 == len(ids):
            condition, params = "{col} BETWEEN %s AND %s", [ids[0], ids[-1]]
        else:
            condition, params = "{col} = ANY(%s)", [ids]
        events = Event._meta.db_table
        with connection.cursor() as cursor:
            for table, (stage, quoted) in [
                *((t, s) for t, s in self.staged.items() if t != events),
                (events, self.staged[events]),
            ]:
                if table == events:
                    derive_staged(cursor, stage, condition, params)
                cursor.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {stage}")
                cursor.execute(f"DROP TABLE {stage}")
        self.staged = {}
        rollups.tally_new(condition, params)

    @staticmethod
    def _next_ids(model, count):
        if not count:
            return []
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [model._meta.db_table, count],
            )
            return [pk for (pk,) in cursor.fetchall()]

    @staticmethod
    def _copy(cursor, table, columns, rows, constant=()):
        """COPY `rows` (dicts by attname) into `table`'s named columns, then `constant`."""
        named = columns[: len(columns) - len(constant)]
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        if rows and len(named) > 1 and all(c in rows[0] for c in named):
            values = operator.itemgetter(*named)
        else:
            # A column the rows do not hold (say, one added later, nullable) is written empty.
            def values(row):
                return tuple(row.get(c) for c in named)

        with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*values(row), *constant))

    def _replace_children(self, records, actors, sources):
        """The participants and citations of events the import writes, as the children's one
        writer (writes.child_changes) decides, applied in bulk; links are gathered for the
        end of the file."""
        if not records:
            return
        ids = [r.event.pk for r in records]
        stored = {Participation: {}, Citation: {}}
        for p in Participation.objects.filter(event_id__in=ids):
            stored[Participation].setdefault(p.event_id, {})[(p.actor_id, p.role)] = p
        for c in Citation.objects.filter(event_id__in=ids):
            stored[Citation].setdefault(c.event_id, {})[(c.source_id, c.locator)] = c
        changes = {Participation: ([], []), Citation: ([], [])}
        for record in records:
            event = record.event
            wanted = {
                Participation: writes.participation_rows(
                    event,
                    stored[Participation].get(event.pk, {}),
                    [(actors[slug][0], role) for role, slug in record.participants],
                ),
                Citation: writes.citation_rows(
                    event,
                    stored[Citation].get(event.pk, {}),
                    [
                        (sources[url], locator, note)
                        for (url, locator), note in self._wanted_citations(record).items()
                    ],
                ),
            }
            for model, rows in wanted.items():
                dropped, saved = writes.child_changes(stored[model].get(event.pk, {}), rows)
                changes[model][0].extend(dropped)
                changes[model][1].extend(saved)
            for kind, other in record.links:
                self.pending_links.append((record.row, "links", event.pk, other, kind, True))
            for kind, other in record.linked_from:
                self.pending_links.append((record.row, "linked_from", event.pk, other, kind, False))
        for model, changed_field in ((Participation, "position"), (Citation, "note")):
            dropped, saved = changes[model]
            new = [row for row in saved if row.pk is None]
            changed = [row for row in saved if row.pk is not None]
            self._record_history(model, [(row, "-") for row in dropped])
            model.objects.filter(pk__in=[row.pk for row in dropped]).delete()
            model.objects.bulk_create(new)
            model.objects.bulk_update(changed, [changed_field])
            self._record_history(model, [(row, "+") for row in new] + [(r, "~") for r in changed])

    def _links_to_skipped(self):
        """Links that name a new event the file skipped as a duplicate (the event is neither
        in the database nor written): problems of their rows."""
        if not self.skipped:
            return []
        rows = set(self.skipped.values())
        return [
            (row, column, f"unknown event {other!r}")
            for row, column, other in self.link_names
            if other in self.skipped and row not in rows
        ]

    def _write_links(self):
        """Links go in last: they may name events further down the file. The links of every
        created or updated event become the file's, in both directions."""
        slugs = list({item[3] for item in self.pending_links})
        ids = {}
        for start in range(0, len(slugs), 5000):
            part = slugs[start : start + 5000]
            ids.update(Event.objects.filter(slug__in=part).values_list("slug", "id"))
        wanted = set()
        for _, _, event_id, other, kind, outgoing in self.pending_links:
            pair = (event_id, ids[other]) if outgoing else (ids[other], event_id)
            wanted.add((*pair, kind))
        written = list(self.written_ids)
        stored = {}
        for start in range(0, len(written), 5000):
            part = written[start : start + 5000]
            for link in EventLink.objects.filter(
                models.Q(from_event_id__in=part) | models.Q(to_event_id__in=part)
            ):
                stored[(link.from_event_id, link.to_event_id, link.kind)] = link
        wanted = writes.link_rows(stored, sorted(key for key in wanted if key[0] != key[1]))
        dropped, new = writes.child_changes(stored, wanted)
        self._record_history(EventLink, [(link, "-") for link in dropped])
        EventLink.objects.filter(pk__in=[link.pk for link in dropped]).delete()
        EventLink.objects.bulk_create(new)
        self._record_history(EventLink, [(link, "+") for link in new])
        # Bulk writes send no signals: a new part changes what its whole counts.
        rollups.refresh({i for link in new for i in (link.from_event_id, link.to_event_id)})

    def _history_stamp(self):
        """What every history record the import writes says of itself (but its type)."""
        return {
            "history_date": self.now,
            "history_change_reason": "imported",
            "history_user_id": self.user_id,
        }

    def _record_history(self, model, items):
        """History records for bulk writes, which bypass the save signals: on PostgreSQL with
        COPY, elsewhere with a bulk INSERT."""
        if not items:
            return
        history = model.history.model
        tracked = [f.attname for f in history.tracked_fields]
        stamp = self._history_stamp()
        if self.copy:
            rows = [
                {**{name: getattr(obj, name) for name in tracked}, "history_type": kind}
                for obj, kind in items
            ]
            with connection.cursor() as cursor:
                self._copy(
                    cursor,
                    history._meta.db_table,
                    [*tracked, "history_type", *stamp],
                    rows,
                    constant=tuple(stamp.values()),
                )
            return
        model.history.model.objects.bulk_create(
            [
                history(
                    **stamp, history_type=kind, **{name: getattr(obj, name) for name in tracked}
                )
                for obj, kind in items
            ],
            batch_size=1000,
        )


def temporary_table(cursor, name, table, columns):
    """PostgreSQL: an empty temporary table `name` with `table`'s `columns` (their types), gone
    at the end of the transaction. Returns the columns, quoted, for the statements that read
    it."""
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS SELECT {quoted} FROM {table} WITH NO DATA"
    )
    return quoted


def run_import(path, fmt=None, *, dry_run=False, log=None, **options):
    """Validate and write `path`. Returns (problems, counts, duplicates): the problems of the
    rows, as (row, column or None, message), or one FileProblem when the file cannot be read
    (describe_problem says either in words)."""
    fmt = detect_format(path, fmt)
    importer = Importer(log=log, **options)
    try:
        problems = importer.run(read_records(path, fmt), dry_run=dry_run)
    except RowError as error:  # a CSV header without a required column
        return [(1, error.column, error.message)], None, []
    except FileError as error:
        return [FileProblem(error.line, error.message)], None, []
    except UnicodeDecodeError:
        return [undecodable(path)], None, []
    if problems:
        # Problems of the rows: nothing was written, and no duplicate is worth reporting;
        # a link to an event the file skipped as a duplicate: the duplicates say why.
        problems.sort(key=lambda problem: (problem[0], problem[1] or "", problem[2]))
        return problems, None, importer.duplicates if importer.failed_links else []
    return [], importer.counts, importer.duplicates


def undecodable(path):
    """The FileProblem of a file that is not UTF-8, at the line of its first wrong byte."""
    decoder, line = codecs.getincrementaldecoder("utf-8")(), 1
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(1 << 16)
            # The decoder's error counts from the start of a character left open before.
            data = decoder.getstate()[0] + chunk
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                line += data.count(b"\n", 0, error.start)
                byte = data[error.start]
                return FileProblem(
                    line, f"is not UTF-8 text: save it as UTF-8 (byte 0x{byte:02X} cannot be read)"
                )
            if not chunk:
                return FileProblem(None, "is not UTF-8 text: save it as UTF-8")
            line += chunk.count(b"\n")
