"""People expelled as UCDP GED stores deaths: a low, a best and a high estimate.

The old count and its qualifier become the three estimates, in the events and in their
history (so that reverting to an old version keeps its figure):

- `exact` n: low, best and high n ("60" is 60/60/60);
- `more_than` n: a low of n + 1 and no best or high ("in excess of 100" is 101).

Those were the qualifier's only choices (`exact`, `more_than`). Going back gives `exact` for
a best estimate (the range, if any, is lost), `more_than` low - 1 for a low alone, and
`exact` for a high alone.
"""

from django.db import migrations, models

ESTIMATES = ("expelled_low", "expelled_best", "expelled_high")


def to_estimates(apps, schema_editor):
    for model in ("Event", "HistoricalEvent"):
        rows = apps.get_model("events", model).objects.using(schema_editor.connection.alias)
        counted = rows.filter(expelled_count__isnull=False)
        counted.filter(expelled_count_qualifier="more_than").update(
            expelled_low=models.F("expelled_count") + 1
        )
        counted.exclude(expelled_count_qualifier="more_than").update(
            expelled_low=models.F("expelled_count"),
            expelled_best=models.F("expelled_count"),
            expelled_high=models.F("expelled_count"),
        )


def to_count(apps, schema_editor):
    for model in ("Event", "HistoricalEvent"):
        rows = apps.get_model("events", model).objects.using(schema_editor.connection.alias)
        rows.filter(expelled_best__isnull=False).update(
            expelled_count=models.F("expelled_best"), expelled_count_qualifier="exact"
        )
        alone = rows.filter(expelled_best__isnull=True)
        alone.filter(expelled_low__gt=1).update(
            expelled_count=models.F("expelled_low") - 1, expelled_count_qualifier="more_than"
        )
        alone.filter(expelled_low=1).update(expelled_count=1, expelled_count_qualifier="exact")
        alone.filter(expelled_low__isnull=True, expelled_high__isnull=False).update(
            expelled_count=models.F("expelled_high"), expelled_count_qualifier="exact"
        )


def estimate_field(name, help_text):
    return models.PositiveIntegerField(
        blank=True, help_text=help_text, null=True, verbose_name=f"people expelled: {name}"
    )


FIELDS = {
    "expelled_low": lambda: estimate_field(
        "low estimate",
        'Expulsions only: the fewest the sources allow ("in excess of 100": 101).',
    ),
    "expelled_best": lambda: estimate_field(
        "best estimate",
        'Expulsions only: the sources\' figure ("60": 60); empty when they give only a bound.',
    ),
    "expelled_high": lambda: estimate_field(
        "high estimate",
        "Expulsions only: the most the sources allow; empty when they give no upper bound.",
    ),
}


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0011_country_codes"),
    ]

    operations = [
        *(
            migrations.AddField(model_name=model, name=name, field=field())
            for model in ("event", "historicalevent")
            for name, field in FIELDS.items()
        ),
        migrations.RemoveConstraint(
            model_name="event", name="event_expelled_count_qualifier_valid"
        ),
        migrations.RemoveConstraint(model_name="event", name="event_expelled_count_positive"),
        migrations.RemoveConstraint(model_name="event", name="event_expelled_count_expulsion_only"),
        migrations.RunPython(to_estimates, to_count, elidable=False),
        *(
            migrations.RemoveField(model_name=model, name=name)
            for model in ("event", "historicalevent")
            for name in ("expelled_count", "expelled_count_qualifier")
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("expelled_low__isnull", True), ("expelled_low__gte", 1), _connector="OR"
                    ),
                    models.Q(
                        ("expelled_best__isnull", True), ("expelled_best__gte", 1), _connector="OR"
                    ),
                    models.Q(
                        ("expelled_high__isnull", True), ("expelled_high__gte", 1), _connector="OR"
                    ),
                ),
                name="event_expelled_positive",
                violation_error_message="The number of people expelled is at least 1.",
            ),
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("expelled_low__isnull", True),
                        ("expelled_best__isnull", True),
                        ("expelled_low__lte", models.F("expelled_best")),
                        _connector="OR",
                    ),
                    models.Q(
                        ("expelled_best__isnull", True),
                        ("expelled_high__isnull", True),
                        ("expelled_best__lte", models.F("expelled_high")),
                        _connector="OR",
                    ),
                    models.Q(
                        ("expelled_low__isnull", True),
                        ("expelled_high__isnull", True),
                        ("expelled_low__lte", models.F("expelled_high")),
                        _connector="OR",
                    ),
                ),
                name="event_expelled_estimates_ordered",
                violation_error_message="The estimates of people expelled are in order: low ≤ best ≤ high.",
            ),
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("kind", "expulsion"),
                    models.Q(
                        ("expelled_best__isnull", True),
                        ("expelled_high__isnull", True),
                        ("expelled_low__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="event_expelled_expulsion_only",
                violation_error_message="Only an expulsion has a number of people expelled.",
            ),
        ),
    ]
