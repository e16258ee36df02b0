"""Import of events from the API's CSV columns (docs/csv.md) or its JSON representation.

An import reads the file once, streamed chunk by chunk so memory stays flat, in one
transaction. For each chunk of rows it

1. validates every row (fields, constraints, countries, actors, sources, publish rules) in
   Python, with one query per chunk for its actors and one for its sources, and collects every
   problem as `row N, column C: message`;
2. writes the chunk, while no row so far had a problem: creates or updates each event by its
   slug, replaces its participants and citations with the file's, creates unknown sources
   (and, if asked, unknown actors), and records history for what changed. New events that
   look like stored ones are found with one query per chunk. On PostgreSQL new events, their
   children and their history go in with COPY; elsewhere with bulk INSERTs.

Links go in last (they may name events further down the file). When any row had a problem,
the transaction is rolled back, so nothing is written; a dry run rolls back too.

Rows are numbered as a spreadsheet shows them: in a CSV the header is row 1; in JSON the first
object is row 1.
"""

import csv
import datetime
import functools
import json
import operator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, URLValidator
from django.db import connection, models, transaction
from django.db.models import F, Max
from django.utils import timezone

from .api_csv import CSV_COLUMNS
from .codes import codes_for
from .filters import resolve_country
from .models import (
    Actor,
    ActorKind,
    Citation,
    CountQualifier,
    Event,
    EventLink,
    LinkKind,
    Participation,
    ReviewState,
    Role,
    Source,
    build_search_text,
    period_end,
    refresh_involvements,
)

CHUNK = 2000
# The event's own columns of the export (kind … quoted_words), which the import reads back.
EVENT_FIELDS = CSV_COLUMNS[CSV_COLUMNS.index("kind") : CSV_COLUMNS.index("review_state")]
# What an update compares and writes (attnames).
COMPARED = [
    "location_country_id" if name == "location_country" else name for name in EVENT_FIELDS
] + ["review_state"]
DERIVED = ["period_end", "cameo_code", "plover_type", "plover_mode", "search_text"]

# What COPY writes of new rows (PostgreSQL), by name: columns added later keep their defaults.
EVENT_COLUMNS = [
    "id",
    "slug",
    "kind",
    "mode",
    "title",
    "summary",
    "start_date",
    "end_date",
    "date_precision",
    "status",
    "location_country_id",
    "place",
    "expelled_count",
    "expelled_count_qualifier",
    "quoted_words",
    "review_state",
    "version",
    *DERIVED,
]
CITATION_COLUMNS = ["id", "event_id", "source_id", "locator", "note"]


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

# services.find_duplicates for a chunk of new events at once, on either database: for each
# candidate c, the first stored event (by date, id) of its kind whose dates overlap its own and
# that has every one of its initiators and targets. Dates: from `low` (the first day less the
# longest span of a stored event: no event starting earlier can overlap) to the last day.
# The walk starts from one of its actors: a state's events through the country involvements
# of its country, kind and role (index by country, kind and date: a state takes part in many
# events, of every kind), any other actor's through its participations (index by actor and
# date); then its other actors are checked (the unique index on event, actor and role), and
# only then the event is read. On PostgreSQL `WALK` fixes that order (with the statistics of
# tables that the import is filling, the planner would rather walk every event of the kind
# by date, which grows with the table); SQLite walks participations only.
WALK = {
    "postgresql": """(
        SELECT p.event_id FROM events_participation p
        WHERE c.country IS NULL AND p.actor_id = c.actor AND p.role = c.role
            AND (p.start_date BETWEEN c.low AND c.last_day OR p.start_date IS NULL)
        UNION ALL
        SELECT v.event_id FROM events_countryinvolvement v
        WHERE c.country IS NOT NULL AND c.role = 'initiator' AND v.as_initiator
            AND v.country_id = c.country AND v.kind = c.kind
            AND v.start_date BETWEEN c.low AND c.last_day
        UNION ALL
        SELECT v.event_id FROM events_countryinvolvement v
        WHERE c.country IS NOT NULL AND c.role = 'target' AND v.as_target
            AND v.country_id = c.country AND v.kind = c.kind
            AND v.start_date BETWEEN c.low AND c.last_day
        OFFSET 0
    ) p CROSS JOIN LATERAL (
        SELECT e.id, e.slug, e.kind, e.start_date, e.period_end FROM events_event e
        WHERE e.id = p.event_id OFFSET 0
    ) e""",
    "sqlite": """events_participation p JOIN events_event e
        ON e.id = p.event_id AND p.actor_id = c.actor AND p.role = c.role""",
}
DUPLICATES_SQL_TEMPLATE = """
WITH c (i, actor, country, role, kind, low, first_day, last_day, initiators, targets) AS (
    {candidates}
)
SELECT c.i, (
    SELECT e.slug FROM {walk}
    WHERE e.kind = c.kind
        AND e.start_date BETWEEN c.low AND c.last_day AND e.period_end >= c.first_day
        AND NOT EXISTS (
            SELECT 1 FROM {initiators} a WHERE NOT EXISTS (
                SELECT 1 FROM events_participation q WHERE q.event_id = p.event_id
                    AND q.role = 'initiator' AND q.actor_id = CAST(a.value AS bigint)
            )
        )
        AND NOT EXISTS (
            SELECT 1 FROM {targets} a WHERE NOT EXISTS (
                SELECT 1 FROM events_participation q WHERE q.event_id = p.event_id
                    AND q.role = 'target' AND q.actor_id = CAST(a.value AS bigint)
            )
        )
    ORDER BY e.start_date, e.id LIMIT 1
)
FROM c
"""
# The candidates come as one JSON parameter (a list of objects), whose lists of actor ids
# {initiators} and {targets} expand into rows with a `value` column.
DUPLICATES_SQL = {
    "postgresql": DUPLICATES_SQL_TEMPLATE.format(
        candidates="SELECT * FROM jsonb_to_recordset(CAST(%s AS jsonb)) AS x(i int, actor "
        "bigint, country bigint, role text, kind text, low date, first_day date, last_day date, "
        "initiators jsonb, targets jsonb)",
        walk=WALK["postgresql"],
        initiators="jsonb_array_elements_text(c.initiators)",
        targets="jsonb_array_elements_text(c.targets)",
    ),
    "sqlite": DUPLICATES_SQL_TEMPLATE.format(
        candidates="SELECT "
        + ", ".join(
            f"json_extract(value, '$.{name}')"
            for name in ("i", "actor", "country", "role", "kind", "low", "first_day", "last_day")
            + ("initiators", "targets")
        )
        + " FROM json_each(%s)",
        walk=WALK["sqlite"],
        initiators="json_each(c.initiators)",
        targets="json_each(c.targets)",
    ),
}


class RowError(Exception):
    def __init__(self, column, message):
        self.column, self.message = column, message
        super().__init__(f"column {column}: {message}")


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


# --- Reading -----------------------------------------------------------------------------


def detect_format(path, given=None):
    if given:
        return given
    return "json" if str(path).lower().endswith(".json") else "csv"


def open_text(path):
    return open(path, encoding="utf-8-sig", newline="")


def read_records(path, fmt):
    """Yield a Record per row of the file, streaming."""
    with open_text(path) as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            missing = {"slug", "kind", "title", "start_date"} - set(reader.fieldnames or [])
            if missing:
                raise RowError(", ".join(sorted(missing)), "required column missing (row 1)")
            for number, row in enumerate(reader, start=2):
                yield record_from_csv(number, row)
        else:
            for number, obj in enumerate(iter_json(handle), start=1):
                yield record_from_json(number, obj)


def iter_json(handle):
    """The objects of a JSON file holding one object or a list, streamed with ijson."""
    import ijson

    first = handle.read(1)
    while first and first.isspace():
        first = handle.read(1)
    handle.seek(0)
    if first == "{":
        yield json.load(handle)
        return
    raw = handle.buffer if hasattr(handle, "buffer") else handle
    yield from ijson.items(raw, "item", use_float=True)


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


def record_from_csv(number, row):
    record = Record(number, (row.get("slug") or "").strip(), {}, None, [], {}, [], [], [])
    try:
        record.fields = {name: row.get(name, "") or "" for name in EVENT_FIELDS if name in row}
        record.review_state = (row.get("review_state") or "").strip() or None
        record.participants = split_pairs(row.get("participants"), "participants")
        if row.get("actors"):
            try:
                for actor in json.loads(row["actors"]):
                    record.actors[actor["slug"]] = actor
            except (ValueError, TypeError, KeyError) as error:
                raise RowError("actors", f"not a JSON list of actors ({error})") from error
        if row.get("citations"):
            try:
                record.citations = json.loads(row["citations"])
                assert isinstance(record.citations, list)
            except (ValueError, AssertionError) as error:
                raise RowError("citations", "not a JSON list of citations") from error
        record.links = split_pairs(row.get("links"), "links")
        record.linked_from = split_pairs(row.get("linked_from"), "linked_from")
    except RowError as error:
        record.errors.append(error)
    return record


def record_from_json(number, obj):
    record = Record(number, "", {}, None, [], {}, [], [], [])
    if not isinstance(obj, dict):
        record.errors.append(RowError("(object)", "each event is a JSON object"))
        return record
    record.slug = str(obj.get("slug") or "").strip()
    location = obj.get("location") or {}
    record.fields = {name: obj.get(name) for name in EVENT_FIELDS if name in obj}
    if isinstance(location, dict):
        record.fields["location_country"] = location.get("country") or ""
        record.fields["place"] = location.get("place") or ""
    record.review_state = obj.get("review_state")
    for participant in obj.get("participants") or []:
        if not isinstance(participant, dict):
            record.errors.append(RowError("participants", "each participant is an object"))
            continue
        slug = participant.get("actor") or ""
        record.participants.append((participant.get("role") or "", slug))
        if participant.get("actor_name"):
            record.actors[slug] = {
                "slug": slug,
                "name": participant.get("actor_name"),
                "kind": participant.get("actor_kind"),
                "country": participant.get("country"),
            }
    record.citations = [c for c in obj.get("citations") or [] if isinstance(c, dict)]
    for link in obj.get("links") or []:
        if not isinstance(link, dict):
            continue
        target = record.links if link.get("direction", "outgoing") == "outgoing" else None
        (target if target is not None else record.linked_from).append(
            (link.get("kind") or "", link.get("event") or "")
        )
    return record


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
# Event fields a row's validation skips: the slug is checked on its own, the country by code.
UNCHECKED = {"slug", "location_country"}


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
        extra = [v for v in f.validators if not isinstance(v, MaxLengthValidator)]
        checks.append((f.attname, f, allowed, f.max_length, extra))
    return checks


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
        # Who imports (the admin's user): named on every history record the import writes.
        self.user_id = user.pk if user is not None else None
        self.countries = {}
        self.url_validator = URLValidator()
        self.copy = connection.vendor == "postgresql"

    def run(self, records, dry_run=False):
        """Validate and write every record in one transaction, chunk by chunk. Returns the
        problems (row, column, message); on any, nothing is written (and after the first bad
        chunk nothing more is even tried: the rest is only validated)."""
        self.counts = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
        self.duplicates = []
        self.pending_links = []
        self.link_names = []  # (row, column, other slug) of every link in the file
        self.written_ids = set()
        self.now = timezone.now()
        self.slugs, self.actors_in_file = set(), {}
        self.failed = self.failed_links = False
        self.span, self.written_span = None, datetime.timedelta(0)
        problems = []
        with transaction.atomic():
            if self.copy:
                with connection.cursor() as cursor:
                    # Many short queries: compiling them (JIT) would cost more than it saves.
                    cursor.execute("SET LOCAL jit = off")
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
                try:
                    self._write_links()
                except ImportProblems as error:
                    problems, self.failed_links = error.problems, True
            if problems or dry_run:
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
            self._write_chunk(chunk, actors, sources)
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
            errors = list(record.errors)
            if not record.slug:
                errors.append(RowError("slug", "required"))
            elif record.slug in slugs:
                errors.append(RowError("slug", f"{record.slug!r} appears twice in the file"))
            slugs.add(record.slug)
            try:
                record.values = self.build_values(record)
            except RowError as error:
                errors.append(error)
                record.values = None
            if record.values is not None:
                errors += self.check_event(record.values)
            errors += self.check_participants(record, known_actors, self.actors_in_file)
            errors += self.check_citations(record, known_sources)
            for column, pairs in (("links", record.links), ("linked_from", record.linked_from)):
                for kind, _ in pairs:
                    if kind not in LINK_KINDS:
                        errors.append(RowError(column, f"unknown link kind {kind!r}"))
            if self.publish and (record.review_state or "published") == "published":
                if not record.participants:
                    errors.append(RowError("participants", "cannot publish: no participant"))
                if not record.citations:
                    errors.append(RowError("citations", "cannot publish: no citation"))
            problems += [(record.row, e.column, e.message) for e in errors]
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

    def build_values(self, record):
        """The event's field values (attnames) from the file's, with the defaults and the
        derived period end."""
        data = record.fields
        values = dict(event_defaults())
        values["slug"] = record.slug
        for name in ("kind", "title", "summary", "date_precision", "status", "place"):
            if name in data and data[name] is not None:
                values[name] = str(data[name]).strip() if name != "summary" else str(data[name])
        values["quoted_words"] = str(data.get("quoted_words") or "")
        values["mode"] = str(data.get("mode") or "").strip()
        values["start_date"] = parse_date(data.get("start_date"), "start_date")
        if values["start_date"] is None:
            raise RowError("start_date", "required")
        values["end_date"] = parse_date(data.get("end_date"), "end_date")
        code = str(data.get("location_country") or "").strip()
        values["location_country_id"] = None
        if code:
            if code not in self.countries:
                country = resolve_country(code)
                self.countries[code] = country.pk if country else None
            if self.countries[code] is None:
                raise RowError("location_country", f"unknown country code {code!r}")
            values["location_country_id"] = self.countries[code]
        count = data.get("expelled_count")
        if count in (None, ""):
            values["expelled_count"] = None
        else:
            try:
                values["expelled_count"] = int(count)
            except (TypeError, ValueError) as error:
                raise RowError("expelled_count", f"{count!r} is not a whole number") from error
        values["expelled_count_qualifier"] = (
            str(data.get("expelled_count_qualifier") or "").strip() or CountQualifier.EXACT
        )
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
            elif not given or not given.get("name") or given.get("kind") not in ACTOR_KINDS:
                errors.append(
                    RowError("participants", f"unknown actor {slug!r} and no name and kind for it")
                )
            else:
                country = given.get("country")
                if country and resolve_country(str(country)) is None:
                    errors.append(RowError("actors", f"unknown country code {country!r}"))
                actors_in_file[slug] = given
        return errors

    def check_citations(self, record, known_sources=()):
        errors, seen = [], set()
        for citation in record.citations:
            url = str(citation.get("source_url") or "").strip()
            locator = str(citation.get("locator") or "").strip()
            # A source the database holds was validated when it was stored.
            if url not in known_sources:
                try:
                    self.url_validator(url)
                except ValidationError:
                    errors.append(RowError("citations", f"{url!r} is not a valid source address"))
            if not locator:
                errors.append(RowError("citations", f"citation of {url!r} has no locator"))
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
        actors = self._actors(chunk, actors)
        sources = self._sources(chunk, sources)
        existing = {
            event.slug: event for event in Event.objects.filter(slug__in=[r.slug for r in chunk])
        }
        children = self._children([e.pk for e in existing.values()])
        new, changed, history = [], [], []
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
            if self._differs(stored, event) or wanted != children.get(stored.pk, {}):
                event.version = stored.version + 1
                changed.append(record)
            else:
                self.counts["unchanged"] += 1
        new = self._without_duplicates(new, actors)
        for record in new + changed:
            span = record.values["period_end"] - record.values["start_date"]
            self.written_span = max(self.written_span, span)
            self.span = None if self.span is None else max(self.span, span)
        if new and self.copy:
            self._copy_new(new, actors, sources)
        elif new:
            for record in new:
                record.event = Event(**record.values)
            Event.objects.bulk_create([r.event for r in new])
            history += [(r.event, "+") for r in new]
        self.counts["created"] += len(new)
        # Only these can have stored links (a new event gets its links in _write_links).
        self.written_ids.update(r.event.pk for r in changed)
        if changed:
            Event.objects.bulk_update([r.event for r in changed], [*COMPARED, *DERIVED, "version"])
            history += [(r.event, "~") for r in changed]
            self.counts["updated"] += len(changed)
        self._replace_children(changed if self.copy else new + changed, actors, sources)
        # Bulk writes send no signals: keep the derived country involvements in step here.
        written = [r.values["id"] for r in new] if self.copy else [r.event.pk for r in new]
        written += [r.event.pk for r in changed]
        if written and max(written) - min(written) + 1 == len(written):
            # Ids drawn in one go from the sequence: a range is a shorter query than a list.
            refresh_involvements(id_range=(min(written), max(written)))
        else:
            refresh_involvements(written)
        self._record_history(Event, history)

    def _review_state(self, record, stored):
        if self.publish:
            return record.review_state or ReviewState.PUBLISHED
        return stored or ReviewState.DRAFT

    def _derive(self, values, names):
        """The derived columns that the save signals would set (events/models.py)."""
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
        as services.find_duplicates defines them, with one query for the chunk: per event,
        the first stored event (by date and id) of the same kind, with overlapping dates and
        every one of its initiators and targets."""
        candidates = []
        for index, record in enumerate(records):
            roles = {Role.INITIATOR: [], Role.TARGET: []}
            for role, slug in record.participants:
                if role in roles and actors[slug][0]:
                    roles[role].append(actors[slug][0])
            if not roles[Role.INITIATOR] and not roles[Role.TARGET]:
                continue
            values = record.values
            # The walk starts from an actor that is not a state if there is one (its own
            # participations), else from the first state (its country's involvements).
            required = [
                (role, actors[slug])
                for role, slug in record.participants
                if role in roles and actors[slug][0]
            ]
            role, (actor, _, kind, country) = min(
                required, key=lambda pair: pair[1][2] == ActorKind.STATE and bool(pair[1][3])
            )
            candidates.append(
                {
                    "i": index,
                    "actor": actor,
                    "country": country if kind == ActorKind.STATE else None,
                    "role": str(role),
                    "kind": values["kind"],
                    "low": (values["start_date"] - self._longest_span()).isoformat(),
                    "first_day": values["start_date"].isoformat(),
                    "last_day": values["period_end"].isoformat(),
                    "initiators": sorted(set(roles[Role.INITIATOR])),
                    "targets": sorted(set(roles[Role.TARGET])),
                }
            )
        if not candidates:
            return records
        vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
        with connection.cursor() as cursor:
            cursor.execute(DUPLICATES_SQL[vendor], [json.dumps(candidates)])
            found = {index: slug for index, slug in cursor.fetchall() if slug}
        kept = []
        for index, record in enumerate(records):
            if index in found:
                self.duplicates.append((record.row, record.slug, found[index]))
                if self.skip_duplicates:
                    self.counts["skipped"] += 1
                    continue
            kept.append(record)
        return kept

    def _longest_span(self):
        """The longest time a stored event covers (period_end - start_date): read once, then
        kept up to date with what the import writes."""
        if self.span is None:
            longest = Event.objects.annotate(span=F("period_end") - F("start_date")).aggregate(
                longest=Max("span")
            )["longest"]
            self.span = max(longest or datetime.timedelta(0), self.written_span)
        return self.span

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
        each, written with COPY (ids drawn from the tables' sequences first, so that children
        and history name them)."""
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
                self._copy(cursor, model._meta.db_table, COPY_COLUMNS[model](), rows)
                history = model.history.model
                columns = [f.attname for f in history.tracked_fields]
                stamp = {
                    "history_date": self.now,
                    "history_type": "+",
                    "history_change_reason": "imported",
                    "history_user_id": self.user_id,
                }
                self._copy(
                    cursor,
                    history._meta.db_table,
                    [*columns, *stamp],
                    rows,
                    constant=tuple(stamp.values()),
                )

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
        if not records:
            return
        ids = [r.event.pk for r in records]
        stored_participations = list(Participation.objects.filter(event_id__in=ids))
        stored_citations = list(Citation.objects.filter(event_id__in=ids).select_related("source"))
        by_event_p, by_event_c = {}, {}
        for p in stored_participations:
            by_event_p.setdefault(p.event_id, {})[(p.role, p.actor_id)] = p
        for c in stored_citations:
            by_event_c.setdefault(c.event_id, {})[(c.source.url, c.locator)] = c
        add_p, drop_p, add_c, drop_c, edit_c = [], [], [], [], []
        for record in records:
            event = record.event
            have = by_event_p.get(event.pk, {})
            want = {}
            for position, (role, slug) in enumerate(record.participants):
                want[(role, actors[slug][0])] = position
            for key, participation in have.items():
                if key not in want:
                    drop_p.append(participation)
            for (role, actor_id), position in want.items():
                if (role, actor_id) not in have:
                    add_p.append(
                        Participation(event=event, actor_id=actor_id, role=role, position=position)
                    )
            have_c = by_event_c.get(event.pk, {})
            want_c = self._wanted_citations(record)
            for key, citation in have_c.items():
                if key not in want_c:
                    drop_c.append(citation)
                elif citation.note != want_c[key]:
                    citation.note = want_c[key]
                    edit_c.append(citation)
            for (url, locator), note in want_c.items():
                if (url, locator) not in have_c:
                    add_c.append(
                        Citation(event=event, source_id=sources[url], locator=locator, note=note)
                    )
            for kind, other in record.links:
                self.pending_links.append((record.row, "links", event.pk, other, kind, True))
            for kind, other in record.linked_from:
                self.pending_links.append((record.row, "linked_from", event.pk, other, kind, False))
        self._record_history(Participation, [(p, "-") for p in drop_p])
        Participation.objects.filter(pk__in=[p.pk for p in drop_p]).delete()
        self._record_history(Citation, [(c, "-") for c in drop_c])
        Citation.objects.filter(pk__in=[c.pk for c in drop_c]).delete()
        Participation.objects.bulk_create(add_p)
        Citation.objects.bulk_create(add_c)
        Citation.objects.bulk_update(edit_c, ["note"])
        self._record_history(Participation, [(p, "+") for p in add_p])
        self._record_history(Citation, [(c, "+") for c in add_c] + [(c, "~") for c in edit_c])

    def _write_links(self):
        """Links go in last: they may name events further down the file. The links of every
        created or updated event become the file's, in both directions."""
        slugs = list({item[3] for item in self.pending_links})
        ids = {}
        for start in range(0, len(slugs), 5000):
            part = slugs[start : start + 5000]
            ids.update(Event.objects.filter(slug__in=part).values_list("slug", "id"))
        wanted, problems = set(), []
        for row, column, event_id, other, kind, outgoing in self.pending_links:
            if other not in ids:
                problems.append((row, column, f"unknown event {other!r}"))
                continue
            pair = (event_id, ids[other]) if outgoing else (ids[other], event_id)
            wanted.add((*pair, kind))
        if problems:
            # An event missing from file and database (say, skipped as a duplicate).
            raise ImportProblems(problems)
        written = list(self.written_ids)
        stored = {}
        for start in range(0, len(written), 5000):
            part = written[start : start + 5000]
            for link in EventLink.objects.filter(
                models.Q(from_event_id__in=part) | models.Q(to_event_id__in=part)
            ):
                stored[(link.from_event_id, link.to_event_id, link.kind)] = link
        dropped = [link for key, link in stored.items() if key not in wanted]
        self._record_history(EventLink, [(link, "-") for link in dropped])
        EventLink.objects.filter(pk__in=[link.pk for link in dropped]).delete()
        new = [
            EventLink(from_event_id=f, to_event_id=t, kind=k)
            for f, t, k in sorted(wanted - set(stored))
            if f != t
        ]
        EventLink.objects.bulk_create(new)
        self._record_history(EventLink, [(link, "+") for link in new])

    def _record_history(self, model, items):
        """History records for bulk writes, which bypass the save signals."""
        if not items:
            return
        history = model.history.model
        tracked = [f.attname for f in history.tracked_fields]
        model.history.model.objects.bulk_create(
            [
                history(
                    history_date=self.now,
                    history_type=kind,
                    history_change_reason="imported",
                    history_user_id=self.user_id,
                    **{name: getattr(obj, name) for name in tracked},
                )
                for obj, kind in items
            ],
            batch_size=1000,
        )


class ImportProblems(Exception):
    def __init__(self, problems):
        self.problems = problems
        super().__init__(f"{len(problems)} problems")


def run_import(path, fmt=None, *, dry_run=False, log=None, **options):
    """Validate and write `path`. Returns (problems, counts, duplicates)."""
    fmt = detect_format(path, fmt)
    importer = Importer(log=log, **options)
    try:
        problems = importer.run(read_records(path, fmt), dry_run=dry_run)
    except RowError as error:
        return [(1, error.column, error.message)], None, []
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as error:
        return [(0, "(file)", f"cannot be read: {error}")], None, []
    except Exception as error:  # ijson's errors have no common importable base
        if type(error).__module__.startswith("ijson"):
            return [(0, "(file)", f"is not valid JSON: {error}")], None, []
        raise
    if problems:
        # Problems of the rows: nothing was written, and no duplicate is worth reporting;
        # a link to an event the file skipped as a duplicate: the duplicates say why.
        return sorted(problems), None, importer.duplicates if importer.failed_links else []
    return [], importer.counts, importer.duplicates
