"""Derived country involvements (CountryInvolvement), filled from the stored events.

The rows are filled with one set-based INSERT … SELECT before the indexes are built (5 million
events take a few minutes on PostgreSQL, where a row-by-row fill would take hours).
"""

import django.db.models.deletion
from django.db import migrations, models

FILL = """
INSERT INTO events_countryinvolvement (event_id, country_id, start_date, as_initiator, as_target)
SELECT x.event_id, x.country_id, e.start_date, MAX(x.initiator) = 1, MAX(x.target) = 1
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
GROUP BY x.event_id, x.country_id, e.start_date
"""


def fill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET LOCAL work_mem = '256MB'")
        schema_editor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    schema_editor.execute(FILL)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ANALYZE events_countryinvolvement")


class Migration(migrations.Migration):
    dependencies = [("events", "0006_event_alias")]

    operations = [
        migrations.CreateModel(
            name="CountryInvolvement",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "start_date",
                    models.DateField(help_text="The event's start date (for the date order)."),
                ),
                ("as_initiator", models.BooleanField(default=False)),
                ("as_target", models.BooleanField(default=False)),
                (
                    "country",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="involvements",
                        to="events.country",
                    ),
                ),
                (
                    "event",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="involvements",
                        to="events.event",
                    ),
                ),
            ],
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="countryinvolvement",
            constraint=models.UniqueConstraint(
                fields=("event", "country"), name="countryinvolvement_unique_country"
            ),
        ),
        migrations.AddIndex(
            model_name="countryinvolvement",
            index=models.Index(
                fields=["country", "-start_date", "-event"], name="involvement_country_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="countryinvolvement",
            index=models.Index(
                condition=models.Q(("as_initiator", True)),
                fields=["country", "-start_date", "-event"],
                name="involvement_initiator_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="countryinvolvement",
            index=models.Index(
                condition=models.Q(("as_target", True)),
                fields=["country", "-start_date", "-event"],
                name="involvement_target_idx",
            ),
        ),
    ]
