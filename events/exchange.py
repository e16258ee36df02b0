"""Import of events from the API's CSV columns (docs/csv.md) or its JSON representation.

An import runs in two passes over the file, streamed chunk by chunk so memory stays flat:

1. validate every row (fields, constraints, countries, actors, sources, links, publish rules)
   and collect every problem as `row N, column C: message`; nothing is written when any row
   is bad;
2. write, in one transaction, chunk by chunk with bulk queries: create or update each event by
   its slug, replace its participants, citations and links with the file's, create unknown
   sources (and, if asked, unknown actors), and record history for what changed. A dry run
   does the same and rolls back.

Rows are numbered as a spreadsheet shows them: in a CSV the header is row 1; in JSON the first
object is row 1.
"""

import csv
import datetime
import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models, transaction
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
from .services import find_duplicates

CHUNK = 2000
# The event's own columns of the export (kind … quoted_words), which the import reads back.
EVENT_FIELDS = CSV_COLUMNS[CSV_COLUMNS.index("kind") : CSV_COLUMNS.index("review_state")]
# What an update compares and writes (attnames).
COMPARED = [
    "location_country_id" if name == "location_country" else name for name in EVENT_FIELDS
] + ["review_state"]
DERIVED = ["period_end", "cameo_code", "plover_type", "plover_mode", "search_text"]


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

    # Pass 1 ------------------------------------------------------------------------------

    def validate(self, records):
        """Every problem of every row, as (row, column, message); and the slugs in the file."""
        problems, slugs, actors_in_file = [], set(), {}
        chunk = []
        for count, record in enumerate(records, start=1):
            chunk.append(record)
            if len(chunk) >= CHUNK:
                problems += self._validate_chunk(chunk, slugs, actors_in_file)
                chunk = []
            if count % 10000 == 0:
                self.log(f"validated {count} rows")
        problems += self._validate_chunk(chunk, slugs, actors_in_file)
        self.file_slugs = slugs
        return problems

    def _validate_chunk(self, chunk, slugs, actors_in_file):
        problems = []
        actor_slugs = {slug for r in chunk for _, slug in r.participants}
        known_actors = set(
            Actor.objects.filter(slug__in=actor_slugs).values_list("slug", flat=True)
        )
        for record in chunk:
            errors = list(record.errors)
            if not record.slug:
                errors.append(RowError("slug", "required"))
            elif record.slug in slugs:
                errors.append(RowError("slug", f"{record.slug!r} appears twice in the file"))
            slugs.add(record.slug)
            try:
                record.event = self.build_event(record)
            except RowError as error:
                errors.append(error)
                record.event = None
            if record.event is not None:
                try:
                    # Fields and clean() in Python; the country was resolved above, and the
                    # CHECK constraints are evaluated in Python too (Django would run a query
                    # per constraint and row): nothing here queries the database.
                    record.event.full_clean(
                        exclude=["slug", "location_country"],
                        validate_unique=False,
                        validate_constraints=False,
                    )
                    problems_in_python = record.event.constraint_problems()
                    if problems_in_python:
                        raise ValidationError(problems_in_python)
                except ValidationError as error:
                    for column, messages in error.message_dict.items():
                        column = "location_country" if column == "location_country" else column
                        errors += [RowError(column, message) for message in messages]
            errors += self.check_participants(record, known_actors, actors_in_file)
            errors += self.check_citations(record)
            for column, pairs in (("links", record.links), ("linked_from", record.linked_from)):
                for kind, _ in pairs:
                    if kind not in LinkKind.values:
                        errors.append(RowError(column, f"unknown link kind {kind!r}"))
            if self.publish and (record.review_state or "published") == "published":
                if not record.participants:
                    errors.append(RowError("participants", "cannot publish: no participant"))
                if not record.citations:
                    errors.append(RowError("citations", "cannot publish: no citation"))
            problems += [(record.row, e.column, e.message) for e in errors]
        return problems

    def build_event(self, record):
        data = record.fields
        values = {}
        for name in ("kind", "title", "summary", "date_precision", "status", "place"):
            if name in data and data[name] is not None:
                values[name] = str(data[name]).strip() if name != "summary" else str(data[name])
        values["quoted_words"] = str(data.get("quoted_words") or "")
        values["mode"] = str(data.get("mode") or "").strip()
        values.setdefault("date_precision", "day")
        values.setdefault("status", "occurred")
        values["start_date"] = parse_date(data.get("start_date"), "start_date")
        if values["start_date"] is None:
            raise RowError("start_date", "required")
        values["end_date"] = parse_date(data.get("end_date"), "end_date")
        code = str(data.get("location_country") or "").strip()
        values["location_country"] = None
        if code:
            if code not in self.countries:
                self.countries[code] = resolve_country(code)
            if self.countries[code] is None:
                raise RowError("location_country", f"unknown country code {code!r}")
            values["location_country"] = self.countries[code]
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
        event = Event(slug=record.slug, **values)
        event.period_end = period_end(event.start_date, event.end_date, event.date_precision)
        return event

    def check_participants(self, record, known, actors_in_file):
        errors, seen = [], set()
        for role, slug in record.participants:
            if role not in Role.values:
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
            elif not given or not given.get("name") or given.get("kind") not in ActorKind.values:
                errors.append(
                    RowError("participants", f"unknown actor {slug!r} and no name and kind for it")
                )
            else:
                country = given.get("country")
                if country and resolve_country(str(country)) is None:
                    errors.append(RowError("actors", f"unknown country code {country!r}"))
                actors_in_file[slug] = given
        return errors

    def check_citations(self, record):
        errors, seen = [], set()
        for citation in record.citations:
            url = str(citation.get("source_url") or "").strip()
            locator = str(citation.get("locator") or "").strip()
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

    # Pass 2 ------------------------------------------------------------------------------

    def write(self, records, dry_run=False):
        """Create, update or leave each event; returns the counts and the duplicates found."""
        self.counts = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
        self.duplicates = []
        self.pending_links = []
        self.written_ids = set()
        self.now = timezone.now()
        with transaction.atomic():
            chunk = []
            for count, record in enumerate(records, start=1):
                chunk.append(record)
                if len(chunk) >= CHUNK:
                    self._write_chunk(chunk)
                    chunk = []
                if count % 10000 == 0:
                    self.log(f"wrote {count} rows")
            self._write_chunk(chunk)
            self._write_links()
            if dry_run:
                transaction.set_rollback(True)
        return self.counts

    def _write_chunk(self, chunk):
        if not chunk:
            return
        for record in chunk:
            record.event = self.build_event(record)
        actors = self._actors(chunk)
        sources = self._sources(chunk)
        existing = {
            event.slug: event for event in Event.objects.filter(slug__in=[r.slug for r in chunk])
        }
        children = self._children([e.pk for e in existing.values()])
        new, changed, history = [], [], []
        for record in chunk:
            event, stored = record.event, existing.get(record.slug)
            names = [actors[slug].name for _, slug in record.participants]
            if stored is None:
                self._prepare_new(record, event, names)
                if self._is_duplicate(record, event, actors):
                    continue
                new.append(record)
            else:
                event.pk, event.version = stored.pk, stored.version
                event.review_state = self._review_state(record, stored.review_state)
                self._derive(event, names)
                record.event = event
                wanted = self._wanted_children(record, event, actors, sources)
                if self._differs(stored, event) or wanted != children.get(stored.pk, {}):
                    event.version = stored.version + 1
                    changed.append(record)
                else:
                    self.counts["unchanged"] += 1
        if new:
            Event.objects.bulk_create([r.event for r in new])
            history += [(r.event, "+") for r in new]
            self.counts["created"] += len(new)
        if changed:
            Event.objects.bulk_update([r.event for r in changed], [*COMPARED, *DERIVED, "version"])
            history += [(r.event, "~") for r in changed]
            self.counts["updated"] += len(changed)
        self._replace_children(new + changed, actors, sources, children)
        # Bulk writes send no signals: keep the derived country involvements in step here.
        refresh_involvements([r.event.pk for r in new + changed])
        self._record_history(Event, history)

    def _prepare_new(self, record, event, names):
        event.review_state = self._review_state(record, None)
        self._derive(event, names)

    def _review_state(self, record, stored):
        if self.publish:
            return record.review_state or ReviewState.PUBLISHED
        return stored or ReviewState.DRAFT

    def _derive(self, event, names):
        event.period_end = period_end(event.start_date, event.end_date, event.date_precision)
        codes = codes_for(event.kind, event.mode, event.status)
        event.cameo_code, event.plover_type, event.plover_mode = codes
        event.search_text = build_search_text(event, names)

    def _differs(self, stored, event):
        return any(getattr(stored, name) != getattr(event, name) for name in COMPARED)

    def _is_duplicate(self, record, event, actors):
        roles = {Role.INITIATOR: [], Role.TARGET: []}
        for role, slug in record.participants:
            if role in roles and actors[slug].pk:
                roles[role].append(actors[slug].pk)
        if not roles[Role.INITIATOR] and not roles[Role.TARGET]:
            return False
        duplicate = find_duplicates(
            event.kind,
            event.start_date,
            event.end_date,
            event.date_precision,
            roles[Role.INITIATOR],
            roles[Role.TARGET],
        ).first()
        if duplicate is None:
            return False
        self.duplicates.append((record.row, record.slug, duplicate.slug))
        if self.skip_duplicates:
            self.counts["skipped"] += 1
            return True
        return False

    def _actors(self, chunk):
        slugs = {slug for r in chunk for _, slug in r.participants}
        actors = {a.slug: a for a in Actor.objects.filter(slug__in=slugs)}
        missing = []
        for record in chunk:
            for _, slug in record.participants:
                if slug not in actors:
                    given = record.actors[slug]
                    country = given.get("country")
                    actors[slug] = Actor(
                        slug=slug,
                        name=given["name"],
                        kind=given["kind"],
                        country=resolve_country(str(country)) if country else None,
                    )
                    missing.append(actors[slug])
        if missing:
            Actor.objects.bulk_create(missing)
            self._record_history(Actor, [(actor, "+") for actor in missing])
        return actors

    def _sources(self, chunk):
        urls = {str(c.get("source_url")).strip() for r in chunk for c in r.citations}
        sources = {s.url: s for s in Source.objects.filter(url__in=urls)}
        missing = []
        for record in chunk:
            for citation in record.citations:
                url = str(citation.get("source_url")).strip()
                if url not in sources:
                    sources[url] = Source(
                        url=url,
                        title=citation.get("source_title") or url,
                        publisher=citation.get("source_publisher") or "",
                        kind=citation.get("source_kind") or "news",
                        published_on=parse_date(citation.get("source_published_on"), "citations"),
                    )
                    missing.append(sources[url])
        if missing:
            Source.objects.bulk_create(missing)
            self._record_history(Source, [(source, "+") for source in missing])
        return sources

    def _children(self, event_ids):
        """What each stored event has now: {event id: {"participants": …, …}}."""
        children = {
            pk: {"participants": set(), "citations": {}, "links": set(), "linked_from": set()}
            for pk in event_ids
        }
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

    def _wanted_children(self, record, event, actors, sources):
        return {
            "participants": set(record.participants),
            "citations": {
                (str(c.get("source_url")).strip(), str(c.get("locator")).strip()): str(
                    c.get("note") or ""
                )
                for c in record.citations
            },
            "links": set(record.links),
            "linked_from": set(record.linked_from),
        }

    def _replace_children(self, records, actors, sources, children):
        if not records:
            return
        ids = [r.event.pk for r in records]
        self.written_ids.update(ids)
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
                want[(role, actors[slug].pk)] = position
            for key, participation in have.items():
                if key not in want:
                    drop_p.append(participation)
            for (role, actor_id), position in want.items():
                if (role, actor_id) not in have:
                    add_p.append(
                        Participation(event=event, actor_id=actor_id, role=role, position=position)
                    )
            have_c = by_event_c.get(event.pk, {})
            want_c = self._wanted_children(record, event, actors, sources)["citations"]
            for key, citation in have_c.items():
                if key not in want_c:
                    drop_c.append(citation)
                elif citation.note != want_c[key]:
                    citation.note = want_c[key]
                    edit_c.append(citation)
            for (url, locator), note in want_c.items():
                if (url, locator) not in have_c:
                    add_c.append(
                        Citation(event=event, source=sources[url], locator=locator, note=note)
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


def check_link_targets(path, fmt, file_slugs):
    """Problems with links naming events that are neither in the file nor in the database."""
    named = {}
    for record in read_records(path, fmt):
        for column, pairs in (("links", record.links), ("linked_from", record.linked_from)):
            for _, other in pairs:
                if other not in file_slugs:
                    named.setdefault(other, []).append((record.row, column))
    if not named:
        return []
    known = set()
    slugs = list(named)
    for start in range(0, len(slugs), 5000):
        known |= set(
            Event.objects.filter(slug__in=slugs[start : start + 5000]).values_list(
                "slug", flat=True
            )
        )
    return [
        (row, column, f"unknown event {slug!r}")
        for slug, places in named.items()
        if slug not in known
        for row, column in places
    ]


def run_import(path, fmt=None, *, dry_run=False, log=None, **options):
    """Validate then write `path`. Returns (problems, counts, duplicates)."""
    fmt = detect_format(path, fmt)
    importer = Importer(log=log, **options)
    try:
        problems = importer.validate(read_records(path, fmt))
        problems += check_link_targets(path, fmt, importer.file_slugs)
    except RowError as error:
        return [(1, error.column, error.message)], None, []
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as error:
        return [(0, "(file)", f"cannot be read: {error}")], None, []
    except Exception as error:  # ijson's errors have no common importable base
        if type(error).__module__.startswith("ijson"):
            return [(0, "(file)", f"is not valid JSON: {error}")], None, []
        raise
    if problems:
        return sorted(problems), None, []
    try:
        counts = importer.write(read_records(path, fmt), dry_run=dry_run)
    except ImportProblems as error:
        return sorted(error.problems), None, importer.duplicates
    return [], counts, importer.duplicates
