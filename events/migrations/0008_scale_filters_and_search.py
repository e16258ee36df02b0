"""Derived columns for the filters and the search at millions of events.

- CountryInvolvement.kind: the event's kind on each involvement row, for ?kind=…&country=….
  The rows are derived, so they are refilled with one set-based INSERT … SELECT (the same one as
  refresh_involvements) with the table's indexes dropped first and built after: an UPDATE of
  every row would write each twice and maintain four indexes row by row.
- Participation.start_date: the event's start date on each participation, for ?actor= in date
  order; one UPDATE … FROM.
- Event.search_document: the English tsvector of the search text, stored and computed by
  PostgreSQL (a generated column), with a GIN index replacing migration 0004's expression
  index; a search's recheck then reads it instead of parsing every matching text again.
  On SQLite the column is a NULL (search() matches the text there).
"""

import django.contrib.postgres.search
from django.db import migrations, models

import events.models

INVOLVEMENT_INDEX = ["country", "-start_date", "-event"]
KIND_INDEX = ["country", "kind", "-start_date", "-event"]

REFILL_INVOLVEMENTS = """
INSERT INTO events_countryinvolvement
    (event_id, country_id, kind, start_date, as_initiator, as_target)
SELECT x.event_id, x.country_id, e.kind, e.start_date, MAX(x.initiator) = 1, MAX(x.target) = 1
FROM (
    SELECT p.event_id AS event_id, a.country_id AS country_id,
        CASE WHEN p.role = 'initiator' THEN 1 ELSE 0 END AS initiator,
        CASE WHEN p.role = 'target' THEN 1 ELSE 0 END AS target
    FROM events_participation p JOIN events_actor a ON a.id = p.actor_id
    WHERE a.country_id IS NOT NULL
    UNION ALL
    SELECT e.id, e.location_country_id, 0, 0 FROM events_event e
    WHERE e.location_country_id IS NOT NULL
) x JOIN events_event e ON e.id = x.event_id
GROUP BY x.event_id, x.country_id, e.kind, e.start_date
"""

FILL_PARTICIPATION_DATES = """
UPDATE events_participation AS p SET start_date = e.start_date
FROM events_event e WHERE e.id = p.event_id
"""


def bulk_settings(schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # For this migration's transaction only: hash joins and index builds in memory.
        schema_editor.execute("SET LOCAL work_mem = '256MB'")
        schema_editor.execute("SET LOCAL maintenance_work_mem = '512MB'")


def refill_involvements(apps, schema_editor):
    bulk_settings(schema_editor)
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.execute("DELETE FROM events_countryinvolvement")
        schema_editor.execute(REFILL_INVOLVEMENTS)
        return
    # The table's foreign keys are dropped for the refill and added back after it: added
    # back, each is checked in one join over the table, where checking it row by row (or
    # leaving 24 million deferred checks pending, which forbids the indexes built next) takes
    # many minutes. The rows are derived from rows the keys already hold for.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'events_countryinvolvement'::regclass AND contype = 'f'"
        )
        foreign_keys = cursor.fetchall()
    for name, _ in foreign_keys:
        schema_editor.execute(f'ALTER TABLE events_countryinvolvement DROP CONSTRAINT "{name}"')
    schema_editor.execute("TRUNCATE events_countryinvolvement")
    schema_editor.execute(REFILL_INVOLVEMENTS)
    for name, definition in foreign_keys:
        schema_editor.execute(
            f'ALTER TABLE events_countryinvolvement ADD CONSTRAINT "{name}" {definition}'
        )
    schema_editor.execute("ANALYZE events_countryinvolvement")


def fill_participation_dates(apps, schema_editor):
    bulk_settings(schema_editor)
    schema_editor.execute(FILL_PARTICIPATION_DATES)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ANALYZE events_participation")


SEARCH_FORWARD = [
    "DROP INDEX IF EXISTS event_search_idx",
    # Serves EventQuerySet.search(): WHERE search_document @@ query.
    "CREATE INDEX IF NOT EXISTS event_search_document_idx ON events_event "
    "USING gin (search_document)",
    "ANALYZE events_event",
]
SEARCH_BACKWARD = [
    "DROP INDEX IF EXISTS event_search_document_idx",
    "CREATE INDEX IF NOT EXISTS event_search_idx ON events_event "
    "USING gin (to_tsvector('english'::regconfig, COALESCE(search_text, '')))",
]


def run_on_postgresql(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        bulk_settings(schema_editor)
        for statement in statements:
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("events", "0007_country_involvement")]

    operations = [
        # --- CountryInvolvement.kind: refilled without its indexes, which are built after.
        migrations.RemoveIndex(model_name="countryinvolvement", name="involvement_country_idx"),
        migrations.RemoveIndex(model_name="countryinvolvement", name="involvement_initiator_idx"),
        migrations.RemoveIndex(model_name="countryinvolvement", name="involvement_target_idx"),
        migrations.RemoveConstraint(
            model_name="countryinvolvement", name="countryinvolvement_unique_country"
        ),
        migrations.AddField(
            model_name="countryinvolvement",
            name="kind",
            field=models.CharField(
                choices=[
                    ("expulsion", "Expulsion"),
                    ("summit", "Summit"),
                    ("meeting", "Meeting"),
                    ("phone_call", "Phone call"),
                    ("statement", "Statement"),
                    ("sanction", "Sanction"),
                    ("agreement", "Agreement"),
                    ("incident", "Incident"),
                ],
                default="",
                help_text="The event's kind (for the kind filter with a country).",
                max_length=20,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(refill_involvements, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="countryinvolvement",
            constraint=models.UniqueConstraint(
                fields=("event", "country"), name="countryinvolvement_unique_country"
            ),
        ),
        migrations.AddIndex(
            model_name="countryinvolvement",
            index=models.Index(fields=INVOLVEMENT_INDEX, name="involvement_country_idx"),
        ),
        migrations.AddIndex(
            model_name="countryinvolvement",
            index=models.Index(
                condition=models.Q(("as_initiator", True)),
                fields=INVOLVEMENT_INDEX,
                name="involvement_initiator_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="countryinvolvement",
            index=models.Index(
                condition=models.Q(("as_target", True)),
                fields=INVOLVEMENT_INDEX,
                name="involvement_target_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="countryinvolvement",
            index=models.Index(fields=KIND_INDEX, name="involvement_country_kind_idx"),
        ),
        migrations.AddIndex(
            model_name="countryinvolvement",
            index=models.Index(
                condition=models.Q(("as_initiator", True)),
                fields=KIND_INDEX,
                name="involvement_initiator_kind_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="countryinvolvement",
            index=models.Index(
                condition=models.Q(("as_target", True)),
                fields=KIND_INDEX,
                name="involvement_target_kind_idx",
            ),
        ),
        # --- Participation.start_date
        migrations.AddField(
            model_name="participation",
            name="start_date",
            field=models.DateField(
                blank=True,
                editable=False,
                help_text="Derived: the event's start date, for the actor filter's date order. "
                "Kept in step by refresh_involvements() (empty until it runs after a bulk "
                "write).",
                null=True,
            ),
        ),
        migrations.RunPython(fill_participation_dates, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="participation",
            index=models.Index(
                fields=["actor", "-start_date", "-event"], name="participation_actor_date_idx"
            ),
        ),
        # --- Event.search_document
        migrations.AddField(
            model_name="event",
            name="search_document",
            field=models.GeneratedField(
                db_persist=True,
                expression=events.models.EnglishDocument("search_text"),
                help_text="Derived by the database from the search text: its English tsvector "
                "on PostgreSQL (NULL on SQLite), so that a search reads it instead of parsing "
                "every text.",
                output_field=django.contrib.postgres.search.SearchVectorField(null=True),
            ),
        ),
        migrations.RunPython(run_on_postgresql(SEARCH_FORWARD), run_on_postgresql(SEARCH_BACKWARD)),
    ]
