"""The event's country ids on its own row: involved, initiating and targeted.

A text search with a country, initiator or target filter then reads one GIN index over the
search document and the country ids on PostgreSQL, which finds the events matching both,
instead of walking every involvement of the country and reading each event's search document.

The columns are filled from the CountryInvolvement rows with one UPDATE … FROM (what
refresh_involvements writes). Every event row gets a new version, so on PostgreSQL the
table's plain indexes are dropped first and built again after: maintaining them row by row
(the search document's GIN index above all) takes twice as long. Run `VACUUM ANALYZE
events_event` afterwards, as after any bulk write: the old row versions stay until then.
"""

from django.db import migrations

import events.models

FILL = {
    "postgresql": """
UPDATE events_event AS e SET involved_country_ids = s.involved,
    initiator_country_ids = s.initiators, target_country_ids = s.targets
FROM (
    SELECT v.event_id,
        array_agg(v.country_id ORDER BY v.country_id) AS involved,
        array_agg(v.country_id ORDER BY v.country_id) FILTER (WHERE v.as_initiator)
            AS initiators,
        array_agg(v.country_id ORDER BY v.country_id) FILTER (WHERE v.as_target) AS targets
    FROM events_countryinvolvement v
    GROUP BY v.event_id
) AS s
WHERE e.id = s.event_id
""",
    "sqlite": """
UPDATE events_event AS e SET involved_country_ids = s.involved,
    initiator_country_ids = s.initiators, target_country_ids = s.targets
FROM (
    SELECT v.event_id,
        json_group_array(v.country_id) AS involved,
        NULLIF(json_group_array(v.country_id) FILTER (WHERE v.as_initiator), '[]')
            AS initiators,
        NULLIF(json_group_array(v.country_id) FILTER (WHERE v.as_target), '[]') AS targets
    FROM (SELECT * FROM events_countryinvolvement ORDER BY event_id, country_id) AS v
    GROUP BY v.event_id
) AS s
WHERE e.id = s.event_id
""",
}

# Serves EventQuerySet.involving(…, searching=True) with search(): WHERE search_document @@
# query AND <column> @> ARRAY[id]. One GIN index over the document and the three columns, so
# that one index scan intersects the word's entries with the country's inside the index,
# skipping through the longer list: two separate GIN indexes (bitmaps ANDed) first read every
# entry of a frequent word (290,000 for "nuclear" in 5M events, 87 ms) to keep 1,000.
INDEX = (
    "CREATE INDEX IF NOT EXISTS event_search_countries_idx ON events_event USING gin "
    "(search_document, involved_country_ids, initiator_country_ids, target_country_ids)"
)


def fill_country_ids(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        schema_editor.execute(FILL["sqlite"])
        return
    # For this migration's transaction only: the grouping and the index builds in memory.
    schema_editor.execute("SET LOCAL work_mem = '256MB'")
    schema_editor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    with connection.cursor() as cursor:
        # The plain indexes (not those behind the primary key and unique constraints).
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = 'events_event'::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
            "ORDER BY i.relname"
        )
        indexes = cursor.fetchall()
    for name, _ in indexes:
        schema_editor.execute(f'DROP INDEX "{name}"')
    schema_editor.execute(FILL["postgresql"])
    for _, definition in indexes:
        schema_editor.execute(definition)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite has no GIN; involving() joins the involvements there
    schema_editor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    schema_editor.execute(INDEX)
    schema_editor.execute("ANALYZE events_event")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS event_search_countries_idx")


class Migration(migrations.Migration):
    dependencies = [("events", "0008_scale_filters_and_search")]

    operations = [
        migrations.AddField(
            model_name="event",
            name="involved_country_ids",
            field=events.models.CountryIdsField(
                help_text="Derived: the ids of the countries involved (located or taking part)."
            ),
        ),
        migrations.AddField(
            model_name="event",
            name="initiator_country_ids",
            field=events.models.CountryIdsField(
                help_text="Derived: the ids of the initiating participants' countries."
            ),
        ),
        migrations.AddField(
            model_name="event",
            name="target_country_ids",
            field=events.models.CountryIdsField(
                help_text="Derived: the ids of the targeted participants' countries."
            ),
        ),
        migrations.RunPython(fill_country_ids, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(create_index, drop_index),
    ]
