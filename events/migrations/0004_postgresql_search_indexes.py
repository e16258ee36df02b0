"""PostgreSQL-only indexes: full-text search on events and trigram matching on actor names.

SQLite has neither GIN indexes nor pg_trgm, so this migration does nothing there.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # Serves EventQuerySet.search(): WHERE to_tsvector('english', search_text) @@ query.
    "CREATE INDEX IF NOT EXISTS event_search_idx ON events_event "
    "USING gin (to_tsvector('english'::regconfig, COALESCE(search_text, '')))",
    # Serves name__icontains (UPPER(name) LIKE '%…%') in actor autocomplete and search.
    "CREATE INDEX IF NOT EXISTS actor_name_trgm_idx ON events_actor "
    "USING gin (UPPER(name) gin_trgm_ops)",
    # Serves source search by title (UPPER(title) LIKE '%…%').
    "CREATE INDEX IF NOT EXISTS source_title_trgm_idx ON events_source "
    "USING gin (UPPER(title) gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS event_search_idx",
    "DROP INDEX IF EXISTS actor_name_trgm_idx",
    "DROP INDEX IF EXISTS source_title_trgm_idx",
]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("events", "0003_search_text_and_indexes")]

    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD))]
