"""Rollup cells by kind and status alone (grain `S`, events/rollups.py), for the status counts
beside the listing's filters: summed once here from the month cells (`m`), which hold kind and
status; kept in step afterwards by every write, as the other grains are."""

from django.db import migrations


def fill(apps, schema_editor):
    from events import rollups

    connection = schema_editor.connection
    none = rollups.TRUNC_SQL[rollups.vendor_of(connection.alias)]["none"]
    measures = ", ".join(rollups.CELL_MEASURES)
    sums = ", ".join(f"SUM({name})" for name in rollups.CELL_MEASURES)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM events_aggregatecell WHERE grain = 'S'")
        cursor.execute(
            f"INSERT INTO events_aggregatecell ({rollups.CELL_KEY}, {measures}) "
            f"SELECT 'S', 0, 0, {none}, {none}, '', kind, '', status, '', {sums} "
            "FROM events_aggregatecell WHERE grain = 'm' GROUP BY kind, status"
        )


def empty(apps, schema_editor):
    schema_editor.connection.cursor().execute("DELETE FROM events_aggregatecell WHERE grain = 'S'")


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0015_import_jobs"),
    ]

    operations = [migrations.RunPython(fill, empty)]
