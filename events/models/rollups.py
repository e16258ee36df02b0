"""Derived: the rollup rows that answer /api/aggregates/events/ for published events without
reading millions of events (events/rollups.py keeps them in step and reads them).

EventTally holds what each published event contributes to a count (its figures less its
published parts', as the aggregates count them); TallyKey and TallyPart remember what a
tally was made with that the event's own row cannot say afterwards (the actors that key its
sides when no country does, the events it is part of), so that a change can take out exactly
what was put in. AggregateCell sums the tallies by cell: by day and by month (with kind, mode,
status and CAMEO code), by week and by month with kind only, and, per initiating, targeted and
involved country (or actor), by year and kind, and by kind alone.
"""

from django.db import models
from django.db.models import Q


class EventTally(models.Model):
    """What one published event contributes to the counts, as the aggregates define it."""

    event_id = models.BigIntegerField(primary_key=True)
    start_date = models.DateField()
    period_end = models.DateField()
    date_precision = models.CharField(max_length=10)
    kind = models.CharField(max_length=20)
    mode = models.CharField(max_length=30)
    status = models.CharField(max_length=20)
    cameo_code = models.CharField(max_length=4)
    # People expelled: the event's own estimates less its published parts' (never below 0).
    low = models.IntegerField(null=True)
    best = models.IntegerField(null=True)
    high = models.IntegerField(null=True)
    lower_bound = models.BooleanField(default=False)
    # The Goldstein value of the CAMEO code, in tenths (exact sums: every value has one
    # decimal).
    goldstein_tenths = models.IntegerField(null=True)

    def __str__(self):
        return f"tally of event {self.event_id}"


class TallyKey(models.Model):
    """A side of a tallied event that no country keys: its actor in that role (initiator or
    target), or none (actor_id 0) when the side has no actor either (also for `country`)."""

    event_id = models.BigIntegerField(db_index=True)
    side = models.CharField(max_length=1)
    actor_id = models.BigIntegerField()

    def __str__(self):
        return f"event {self.event_id}, side {self.side}: actor {self.actor_id or 'none'}"


class TallyPart(models.Model):
    """A published event tallied as a part of another (a `part_of` link when it was tallied)."""

    part_id = models.BigIntegerField(db_index=True)
    parent_id = models.BigIntegerField()

    def __str__(self):
        return f"event {self.part_id} tallied as part of {self.parent_id}"


class AggregateCell(models.Model):
    """The sum of the tallies of one cell. `grain` is `d` (by start date and period end), `m`
    (by their months), `w` and `M` (by weeks, by months, with kind only), `S` (kind and
    status over all time), or `i`, `t`, `c` (a
    country, or an actor, as initiator, target or involved; by their years and kind) and `I`,
    `T`, `C` (the same by kind only). A cell no event is in any longer is deleted."""

    grain = models.CharField(max_length=1)
    country_id = models.BigIntegerField(default=0)
    actor_id = models.BigIntegerField(default=0)
    period_start = models.DateField()
    period_end = models.DateField()
    date_precision = models.CharField(max_length=10)
    kind = models.CharField(max_length=20)
    mode = models.CharField(max_length=30, default="")
    status = models.CharField(max_length=20, default="")
    cameo_code = models.CharField(max_length=4, default="")
    events = models.BigIntegerField(default=0)
    low_n = models.BigIntegerField(default=0)
    low_sum = models.BigIntegerField(default=0)
    best_n = models.BigIntegerField(default=0)
    best_sum = models.BigIntegerField(default=0)
    high_n = models.BigIntegerField(default=0)
    high_sum = models.BigIntegerField(default=0)
    high_missing = models.BigIntegerField(default=0)
    lower_bound_n = models.BigIntegerField(default=0)
    goldstein_n = models.BigIntegerField(default=0)
    goldstein_tenths = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # The cell's key; its order serves the reads: a grain, a country (or 0), dates.
            models.UniqueConstraint(
                fields=[
                    "grain",
                    "country_id",
                    "actor_id",
                    "period_start",
                    "period_end",
                    "date_precision",
                    "kind",
                    "mode",
                    "status",
                    "cameo_code",
                ],
                name="aggregatecell_key",
            ),
        ]
        indexes = [
            # Emptied cells, found and deleted after each change without a scan.
            models.Index(fields=["grain"], condition=Q(events=0), name="aggregatecell_empty"),
        ]

    def __str__(self):
        return f"cell {self.grain} {self.period_start}–{self.period_end} {self.kind}: {self.events}"
