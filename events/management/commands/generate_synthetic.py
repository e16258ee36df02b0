"""Fill the database with realistic synthetic events, for measuring at the scale of real datasets.

Everything it makes is marked: slugs start with `synthetic-` and source addresses with
`https://synthetic.invalid/`, so `--remove` deletes exactly that and nothing curated. It refuses
to run on a database that holds curated events unless `--allow-curated` is given.

On PostgreSQL the rows go in through COPY, in batches, with the secondary indexes of the event
tables dropped first and rebuilt at the end (much faster than maintaining them row by row), and
foreign-key triggers off for the session when the user may do so (the generator makes only valid
references; the tests check them at small size). Elsewhere it uses plain batched INSERTs.
Synthetic rows get no history records.
"""

import datetime
import json
import operator
import random
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models.expressions import DatabaseDefault

from events import rollups, shape
from events.codes import MODES_BY_KIND, codes_for
from events.models import (
    STATE_KINDS,
    Actor,
    ActorKind,
    Citation,
    Country,
    CountryInvolvement,
    Event,
    EventLink,
    Membership,
    Office,
    Participation,
    Source,
    period_end,
    refresh_involvements,
)

PREFIX = "synthetic-"
SOURCE_PREFIX = "https://synthetic.invalid/"

# What the generator writes of an event: its id, the stored columns of the event's shape
# (events/shape.py), and the country ids, made as refresh_involvements() makes them (which
# then rewrites no event).
EVENT_COLUMNS = [
    "id",
    *shape.STORED_COLUMNS,
    "involved_country_ids",
    "initiator_country_ids",
    "target_country_ids",
]
read_event = operator.itemgetter(*EVENT_COLUMNS)

KINDS = [
    ("statement", 30),
    ("meeting", 18),
    ("phone_call", 12),
    ("agreement", 10),
    ("expulsion", 8),
    ("sanction", 8),
    ("summit", 6),
    ("incident", 8),
]
STATUSES = [("occurred", 88), ("planned", 7), ("postponed", 3), ("cancelled", 2)]
PRECISIONS = [("day", 80), ("month", 15), ("year", 5)]
PARTICIPANTS_PER_EVENT = [(1, 30), (2, 45), (3, 15), (4, 6), (5, 4)]  # about 2 on average
CITATIONS_PER_EVENT = [(1, 60), (2, 30), (3, 10)]
ACTOR_KINDS = [
    ("person", 55),
    ("agency", 20),
    ("organisation", 8),
    ("academic", 9),
    ("media", 8),
]
LINK_KINDS = ["responds_to", "follows_up", "part_of", "retaliates_for"]

VERBS = {
    "statement": ["condemns", "welcomes", "warns", "urges", "criticises", "backs"],
    "meeting": ["meets", "hosts", "holds talks with", "receives"],
    "phone_call": ["calls", "speaks by phone with"],
    "agreement": ["signs accord with", "agrees with", "reaches deal with"],
    "expulsion": ["expels diplomats of", "orders out envoys of"],
    "sanction": ["sanctions", "imposes tariffs on", "freezes assets of"],
    "summit": ["holds summit with", "meets leaders of"],
    "incident": ["clashes with", "accuses", "detains nationals of"],
}
TOPICS = [
    "trade",
    "fisheries",
    "energy",
    "nuclear programme",
    "border dispute",
    "chemical weapons",
    "climate",
    "peace treaty",
    "disputed islands",
    "cyber attacks",
    "election interference",
    "refugees",
    "pipeline",
    "maritime security",
    "arms control",
    "sanctions relief",
    "human rights",
    "grain exports",
    "airspace",
    "espionage",
]
CITIES = [
    "Tokyo",
    "Moscow",
    "London",
    "Washington",
    "Paris",
    "Berlin",
    "Beijing",
    "Brussels",
    "Geneva",
    "Vienna",
    "New York",
    "Ankara",
    "Delhi",
    "Seoul",
    "Canberra",
    "Ottawa",
    "Rome",
    "Madrid",
    "Warsaw",
    "Kyiv",
]
FIRST = [
    "Anna",
    "Boris",
    "Chen",
    "Dmitri",
    "Elena",
    "Fatima",
    "Goran",
    "Hana",
    "Ivan",
    "Jun",
    "Kenji",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
]
LAST = [
    "Abe",
    "Brown",
    "Castro",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Haas",
    "Ito",
    "Jensen",
    "Kim",
    "Lopez",
    "Mori",
    "Novak",
]
PUBLISHERS = ["Global Wire", "The Daily Ledger", "Foreign Desk", "Capital Herald", "Policy Review"]
QUOTES = [
    "This is a grave violation of international norms.",
    "We remain open to dialogue on {topic}.",
    "Our position on {topic} has not changed.",
    "Any such step will be met with a firm response.",
    "Both sides agreed to deepen cooperation on {topic}.",
]


def weighted(rng, pairs, k):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights, k=k)


def tsv(value):
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    if any(c in text for c in "\\\t\n\r"):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        text = text.replace("\r", "\\r")
    return text


class Writer:
    """Writes rows into tables: COPY on PostgreSQL, batched INSERTs elsewhere."""

    def __init__(self, cursor):
        self.cursor = cursor
        self.postgres = connection.vendor == "postgresql"

    def ids(self, values):
        """Sorted ids as an Event country-ids column stores them: NULL for none, an array
        literal on PostgreSQL, a JSON array elsewhere."""
        if not values:
            return None
        ids = sorted(values)
        if self.postgres:
            return "{" + ",".join(map(str, ids)) + "}"
        return json.dumps(ids, separators=(",", ":"))

    def write(self, model, columns, rows):
        if not rows:
            return
        table = model._meta.db_table
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        if self.postgres:
            with self.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                chunk = []
                for row in rows:
                    chunk.append("\t".join(map(tsv, row)))
                    if len(chunk) >= 10000:
                        copy.write("\n".join(chunk) + "\n")
                        chunk = []
                if chunk:
                    copy.write("\n".join(chunk) + "\n")
        else:
            marks = ", ".join(["%s"] * len(columns))
            self.cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", rows)


def unmade_defaults(event):
    """The model's default of each of EVENT_COLUMNS that `event` (a generated event's values)
    leaves out: a field added to the shape since, which the generator has no values for."""
    defaults = {}
    for column in EVENT_COLUMNS:
        if column in event:
            continue
        field = Event._meta.get_field(column)
        value = field.get_default()
        if isinstance(value, DatabaseDefault) or (value is None and not field.null):
            raise CommandError(
                f"Event.{field.name} has no default to generate: make its values in "
                "Generator.make_events (events/management/commands/generate_synthetic.py)."
            )
        defaults[column] = value
    return defaults


def next_id(model):
    return (model.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1


class Command(BaseCommand):
    """Generate N synthetic events (with participants, citations, links), M actors, and blocs."""

    help = "Fill the database with synthetic events for benchmarks; --remove deletes them."

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=10000)
        parser.add_argument("--actors", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--batch-size", type=int, default=100000)
        parser.add_argument(
            "--allow-curated",
            action="store_true",
            help="Add synthetic data even though the database holds curated events.",
        )
        parser.add_argument(
            "--remove", action="store_true", help="Delete everything this command made."
        )

    def handle(self, *args, **options):
        if options["remove"]:
            self.remove()
            return
        if options["events"] < 1 or options["actors"] < 1:
            raise CommandError("--events and --actors must be at least 1.")
        curated = Event.objects.exclude(slug__startswith=PREFIX).count()
        if curated and not options["allow_curated"]:
            raise CommandError(
                f"The database holds {curated} curated events; refusing to add synthetic data "
                "to it. Use an empty database, or pass --allow-curated."
            )
        if Event.objects.filter(slug__startswith=PREFIX).exists():
            raise CommandError("Synthetic data is already here; run with --remove first.")
        countries = list(Country.objects.values_list("id", flat=True))
        if not countries:
            raise CommandError("No countries: run `manage.py load_fixtures` first.")
        started = time.monotonic()
        with transaction.atomic(), connection.cursor() as cursor:
            generator = Generator(options, countries, Writer(cursor.cursor), self.stdout)
            dropped = self.prepare_postgres(cursor)
            generator.run()
            self.finish_postgres(cursor, dropped)
        self.stdout.write(
            f"Generated {generator.events} events, {generator.participations} participations, "
            f"{generator.citations} citations, {generator.links} links, "
            f"{generator.actor_count} actors, {generator.source_count} sources "
            f"in {time.monotonic() - started:.1f} s."
        )

    # --- PostgreSQL bulk-load tactics ------------------------------------------------------

    TABLES = [Event, Participation, Citation, EventLink, Actor, Source, CountryInvolvement]

    def prepare_postgres(self, cursor):
        if connection.vendor != "postgresql":
            return []
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            # References are valid by construction; skip the per-row foreign-key triggers.
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        # The country involvements are derived in one GROUP BY over everything generated.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        tables = [model._meta.db_table for model in self.TABLES]
        # Secondary indexes that back no constraint: dropped now, rebuilt after the load.
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = ANY(%s) AND NOT EXISTS (
                SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname
            )
            """,
            [tables],
        )
        dropped = cursor.fetchall()
        for name, _ in dropped:
            cursor.execute(f'DROP INDEX "{name}"')
        return dropped

    def finish_postgres(self, cursor, dropped):
        if connection.vendor != "postgresql":
            return
        for model in self.TABLES:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        for name, definition in dropped:
            self.stdout.write(f"Rebuilding index {name}")
            cursor.execute(definition)
        for model in self.TABLES:
            cursor.execute(f"ANALYZE {model._meta.db_table}")

    # --- Removal ---------------------------------------------------------------------------

    def remove(self):
        """Delete the synthetic rows with set-based SQL (no per-row signals or history)."""
        events = f"SELECT id FROM {Event._meta.db_table} WHERE slug LIKE %s"
        actors = f"SELECT id FROM {Actor._meta.db_table} WHERE slug LIKE %s"
        statements = [
            ("country involvements", CountryInvolvement, f"event_id IN ({events})", 1),
            ("links", EventLink, f"from_event_id IN ({events}) OR to_event_id IN ({events})", 2),
            ("citations", Citation, f"event_id IN ({events})", 1),
            ("participations", Participation, f"event_id IN ({events})", 1),
            ("events", Event, "slug LIKE %s", 1),
            ("offices", Office, f"holder_id IN ({actors})", 1),
            ("memberships", Membership, f"bloc_id IN ({actors})", 1),
            ("actors", Actor, "slug LIKE %s", 1),
        ]
        counts = {}
        with transaction.atomic(), connection.cursor() as cursor:
            # Their tallies out of the aggregates' cells first (with their involvements).
            parents = rollups.take_out(
                cursor,
                rollups.vendor_of(connection.alias),
                f"{{col}} IN ({events})",
                [PREFIX + "%"],
                bulk=True,
            )
            for what, model, where, n in statements:
                cursor.execute(
                    f"DELETE FROM {model._meta.db_table} WHERE {where}", [PREFIX + "%"] * n
                )
                counts[what] = cursor.rowcount
            cursor.execute(
                f"DELETE FROM {Source._meta.db_table} WHERE url LIKE %s", [SOURCE_PREFIX + "%"]
            )
            counts["sources"] = cursor.rowcount
            rollups.refresh(parents, using=connection.alias)
        self.stdout.write(
            "Removed synthetic data: " + ", ".join(f"{n} {what}" for what, n in counts.items())
        )


class Generator:
    def __init__(self, options, countries, writer, stdout):
        self.rng = random.Random(options["seed"])
        self.n_events = options["events"]
        self.n_actors = options["actors"]
        self.batch = max(1000, options["batch_size"])
        self.countries = countries
        self.writer = writer
        self.stdout = stdout
        self.events = self.participations = self.citations = self.links = 0
        self.unmade = None  # unmade_defaults(), once the first event is made
        self.first = datetime.date(1990, 1, 1).toordinal()
        self.last = datetime.date.today().toordinal()

    def run(self):
        self.make_actors()
        self.make_sources()
        event_id = next_id(Event)
        self.first_event_id = event_id
        for start in range(0, self.n_events, self.batch):
            size = min(self.batch, self.n_events - start)
            self.make_events(event_id + start, size)
            self.stdout.write(f"  {start + size} / {self.n_events} events")
        # The derived country involvements of what was written, set-based (the rows went in
        # without model signals).
        self.stdout.write("  country involvements")
        if connection.vendor == "postgresql":
            # Statistics of what was just written (in this transaction): without them the
            # planner joins offices, participations and events by nested loops, which at
            # millions of events takes hours instead of a minute.
            with connection.cursor() as cursor:
                cursor.execute(
                    "ANALYZE events_event, events_participation, events_actor, events_office"
                )
        refresh_involvements(id_range=(event_id, event_id + self.n_events - 1))

    # --- actors, blocs, offices ------------------------------------------------------------

    def make_actors(self):
        rng = self.rng
        first_id = next_id(Actor)
        n_states = min(len(self.countries), max(1, self.n_actors // 4))
        n_blocs = min(20, max(1, self.n_actors // 50))
        rows, self.actor_names = [], {}
        state_countries = rng.sample(self.countries, n_states)
        self.state_ids, self.other_ids, self.actor_country = [], [], {}
        # The country each actor makes a party to its events (refresh_involvements' rule):
        # a state's or an agency's, a person's office's (undated here: always held), else none.
        self.acting_country, actor_kind = {}, {}
        for i in range(self.n_actors):
            actor_id = first_id + i
            if i < n_states:
                kind, country = "state", state_countries[i]
                name = f"State {country}"
                self.state_ids.append(actor_id)
            elif i < n_states + n_blocs:
                kind, country, name = "bloc", None, f"Bloc {i - n_states + 1}"
            else:
                kind = weighted(rng, ACTOR_KINDS, 1)[0]
                country = rng.choice(self.countries) if rng.random() < 0.9 else None
                if kind == "person":
                    name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}"
                else:
                    name = f"{kind.title()} of {rng.choice(TOPICS)} {i}"
                self.other_ids.append(actor_id)
            self.actor_names[actor_id] = name
            self.actor_country[actor_id] = country
            self.acting_country[actor_id] = country if kind in STATE_KINDS else None
            actor_kind[actor_id] = kind
            rows.append((actor_id, kind, name, f"{PREFIX}actor-{actor_id}", country, ""))
        self.writer.write(Actor, ["id", "kind", "name", "slug", "country_id", "description"], rows)
        self.actor_count = len(rows)
        self.all_actor_ids = list(self.actor_names)
        if not self.other_ids:
            self.other_ids = self.state_ids
        memberships = []
        for b in range(n_blocs):
            bloc_id = first_id + n_states + b
            for country in rng.sample(self.countries, rng.randint(3, 30)):
                memberships.append((bloc_id, country, None, None))
        self.writer.write(
            Membership, ["bloc_id", "country_id", "joined_on", "left_on"], memberships
        )
        offices = [
            (
                actor_id,
                rng.choice(["Foreign Minister", "Ambassador", "President", "Envoy"]),
                self.actor_country[actor_id],
                None,
                None,
                None,
            )
            for actor_id in self.other_ids
            if rng.random() < 0.3
        ]
        for holder_id, _, country, *_ in offices:
            if actor_kind[holder_id] == ActorKind.PERSON and country is not None:
                self.acting_country[holder_id] = country
        self.writer.write(
            Office,
            ["holder_id", "title", "country_id", "organisation_id", "start_date", "end_date"],
            offices,
        )

    def make_sources(self):
        rng = self.rng
        first_id = next_id(Source)
        n = max(10, self.n_events // 20)
        rows = []
        for i in range(n):
            day = datetime.date.fromordinal(rng.randint(self.first, self.last))
            rows.append(
                (
                    first_id + i,
                    f"{SOURCE_PREFIX}{first_id + i}",
                    f"Report on {rng.choice(TOPICS)} no. {i}",
                    rng.choice(PUBLISHERS),
                    "",
                    rng.choice(["news", "news", "news", "official_statement", "report"]),
                    day,
                    "en",
                )
            )
        self.writer.write(
            Source,
            ["id", "url", "title", "publisher", "author", "kind", "published_on", "language"],
            rows,
        )
        self.source_ids = (first_id, first_id + n - 1)
        self.source_count = n

    # --- events and their children -----------------------------------------------------------

    def make_events(self, first_id, size):
        rng = self.rng
        kinds = weighted(rng, KINDS, size)
        statuses = weighted(rng, STATUSES, size)
        precisions = weighted(rng, PRECISIONS, size)
        n_participants = weighted(rng, PARTICIPANTS_PER_EVENT, size)
        n_citations = weighted(rng, CITATIONS_PER_EVENT, size)
        events, participations, citations, links = [], [], [], []
        states, others, names = self.state_ids, self.other_ids, self.actor_names
        actor_country, acting_country = self.actor_country, self.acting_country
        src_lo, src_hi = self.source_ids
        for i in range(size):
            event_id = first_id + i
            kind, status, precision = kinds[i], statuses[i], precisions[i]
            modes = MODES_BY_KIND[kind]
            mode = rng.choice(modes) if rng.random() < 0.3 else ""
            start = datetime.date.fromordinal(rng.randint(self.first, self.last))
            if precision == "month":
                start = start.replace(day=1)
            elif precision == "year":
                start = start.replace(month=1, day=1)
            end = None
            if precision == "day" and rng.random() < 0.1:
                end = start + datetime.timedelta(days=rng.randint(1, 4))
            # Participants: an initiator and (usually) a target state, then others.
            k = n_participants[i]
            chosen = [rng.choice(states)]
            roles = ["initiator"]
            if k >= 2:
                chosen.append(rng.choice(states))
                roles.append("target")
            for _ in range(k - 2):
                chosen.append(rng.choice(others))
                roles.append(rng.choice(["participant", "host", "guest", "speaker"]))
            seen = set()
            for position, (actor_id, role) in enumerate(zip(chosen, roles, strict=True)):
                if (actor_id, role) in seen:
                    continue
                seen.add((actor_id, role))
                # With the event's start date: refresh_involvements then rewrites no row.
                participations.append((event_id, actor_id, role, position, start))
            a = names[chosen[0]]
            b = names[chosen[1]] if k >= 2 else rng.choice(CITIES)
            topic = rng.choice(TOPICS)
            title = f"{a} {rng.choice(VERBS[kind])} {b} over {topic}"
            summary = (
                f"Synthetic {kind.replace('_', ' ')} about {topic} between "
                f"{a} and {b}, recorded for benchmarks."
            )
            quote = ""
            if kind in ("statement", "phone_call") and rng.random() < 0.5:
                quote = rng.choice(QUOTES).format(topic=topic)
            expelled = None
            if kind == "expulsion":
                expelled = min(1 + int(rng.expovariate(1 / 8)), 500)
            codes = codes_for(kind, mode, status)
            search_text = "\n".join(
                [title, summary, quote, *(names[actor] for actor in chosen)]
            ).replace("\n\n", "\n")
            location = actor_country[chosen[0]] if rng.random() < 0.7 else None
            # The event's country ids, as refresh_involvements() derives them (which then
            # rewrites no event): sorted, NULL for none.
            sides = {"initiator": set(), "target": set()}
            for actor_id, role in zip(chosen, roles, strict=True):
                if acting_country[actor_id] is not None and role in sides:
                    sides[role].add(acting_country[actor_id])
            involved = {acting_country[actor_id] for actor_id in chosen} | {location}
            involved.discard(None)
            event = {
                "id": event_id,
                "kind": kind,
                "mode": mode,
                "title": title,
                "slug": f"{PREFIX}{event_id}",
                "summary": summary,
                "start_date": start,
                "end_date": end,
                "date_precision": precision,
                "period_end": period_end(start, end, precision),
                "status": status,
                "location_country_id": location,
                "place": rng.choice(CITIES) if rng.random() < 0.4 else "",
                # An exact figure: low, best and high alike ("60" is 60/60/60).
                "expelled_low": expelled,
                "expelled_best": expelled,
                "expelled_high": expelled,
                "quoted_words": quote,
                "review_state": "published" if rng.random() < 0.9 else "draft",
                "version": 1,
                "cameo_code": codes.cameo,
                "plover_type": codes.plover_type,
                "plover_mode": codes.plover_mode,
                "search_text": search_text,
                "involved_country_ids": self.writer.ids(involved),
                "initiator_country_ids": self.writer.ids(sides["initiator"]),
                "target_country_ids": self.writer.ids(sides["target"]),
            }
            if self.unmade is None:
                self.unmade = unmade_defaults(event)
            events.append(read_event({**self.unmade, **event} if self.unmade else event))
            for c, source_id in enumerate(
                {rng.randint(src_lo, src_hi) for _ in range(n_citations[i])}
            ):
                citations.append((event_id, source_id, f"para. {c + 1}", ""))
            if event_id > self.first_event_id and rng.random() < 0.05:
                target = rng.randint(self.first_event_id, event_id - 1)
                links.append((event_id, target, rng.choice(LINK_KINDS)))
        self.writer.write(Event, EVENT_COLUMNS, events)
        self.writer.write(
            Participation,
            ["event_id", "actor_id", "role", "position", "start_date"],
            participations,
        )
        self.writer.write(Citation, ["event_id", "source_id", "locator", "note"], citations)
        self.writer.write(EventLink, ["from_event_id", "to_event_id", "kind"], links)
        self.events += len(events)
        self.participations += len(participations)
        self.citations += len(citations)
        self.links += len(links)
