"""Derived data, kept in step with every write: the country involvements, the search text
(and with it the stored search document), the country-id arrays, the codes and the period
end. The save signals here run for ordinary saves; bulk paths (import, synthetic generator)
call refresh_involvements() for what they wrote."""

import re

from django.db import models
from django.db.models import Q
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from .. import rollups
from ..codes import codes_for
from .choices import STATE_KINDS, ActorKind, EventKind
from .events import Event, EventLink, Participation, period_end
from .reference import Actor, Country, Office


class CountryInvolvement(models.Model):
    """Derived: a country involved in an event, whether it initiated or was targeted, and the
    event's start date.

    A country is involved where the event took place, and through a participant that acts for
    it: a state or one of its agencies (the actor's country), or a person in an office of that
    state at the time of the event (the office's country and dates; unknown dates do not
    exclude). A person's own country (citizenship) makes no state a party, and a coalition
    involves no country by itself: its members act through their own events. INVOLVEMENT_SQL
    holds the rule; Actor.acting_country() repeats it for rows already loaded.

    It serves the country, initiator and target filters in date order: "the newest 50 events
    initiated by the US" walks one index (country, start_date, event) and stops after 50, where
    a join through participations and actors would probe millions of events. One row per event
    and country, so a join needs no DISTINCT. Kept in step by `refresh_involvements()`: on every
    save of an event, participation or actor's country, and by the bulk paths (import, synthetic
    generator) which call it for what they wrote.
    """

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="involvements", db_index=False
    )
    country = models.ForeignKey(
        Country, on_delete=models.CASCADE, related_name="involvements", db_index=False
    )
    kind = models.CharField(
        max_length=20,
        choices=EventKind.choices,
        help_text="The event's kind (for the kind filter with a country).",
    )
    start_date = models.DateField(help_text="The event's start date (for the date order).")
    as_initiator = models.BooleanField(default=False)
    as_target = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # One row per event and country; also serves refresh_involvements' delete by event.
            models.UniqueConstraint(
                fields=["event", "country"], name="countryinvolvement_unique_country"
            ),
        ]
        indexes = [
            # ?country=: WHERE country_id = … ORDER BY start_date DESC, event_id DESC LIMIT 50.
            models.Index(
                fields=["country", "-start_date", "-event"], name="involvement_country_idx"
            ),
            # ?initiator=: the same over initiating countries only.
            models.Index(
                fields=["country", "-start_date", "-event"],
                condition=Q(as_initiator=True),
                name="involvement_initiator_idx",
            ),
            # ?target=: the same over targeted countries only.
            models.Index(
                fields=["country", "-start_date", "-event"],
                condition=Q(as_target=True),
                name="involvement_target_idx",
            ),
            # ?kind=…&country=: WHERE country_id = … AND kind = … ORDER BY start_date DESC,
            # event_id DESC LIMIT 50; and the same for initiator and target.
            models.Index(
                fields=["country", "kind", "-start_date", "-event"],
                name="involvement_country_kind_idx",
            ),
            models.Index(
                fields=["country", "kind", "-start_date", "-event"],
                condition=Q(as_initiator=True),
                name="involvement_initiator_kind_idx",
            ),
            models.Index(
                fields=["country", "kind", "-start_date", "-event"],
                condition=Q(as_target=True),
                name="involvement_target_kind_idx",
            ),
        ]

    def __str__(self):
        return f"{self.country_id} in {self.event_id}"


# Set-based, for both databases: {p} and {e} are conditions on the participation's and the
# event's event id ("{col} IN (…)" or "{col} BETWEEN … AND …"). The three ways a country is
# involved (CountryInvolvement's docstring): a state or agency participant's country, the
# country of an office a person participant held at some time in the event's period, and the
# location.
INVOLVEMENT_SQL = (
    """
INSERT INTO events_countryinvolvement
    (event_id, country_id, kind, start_date, as_initiator, as_target)
SELECT x.event_id, x.country_id, e.kind, e.start_date, MAX(x.initiator) = 1, MAX(x.target) = 1
FROM (
    SELECT p.event_id AS event_id, a.country_id AS country_id,
        CASE WHEN p.role = 'initiator' THEN 1 ELSE 0 END AS initiator,
        CASE WHEN p.role = 'target' THEN 1 ELSE 0 END AS target
    FROM events_participation p JOIN events_actor a ON a.id = p.actor_id
    WHERE a.country_id IS NOT NULL AND a.kind IN ("""
    + ", ".join(f"'{kind}'" for kind in STATE_KINDS)
    + """) AND {p}
    UNION ALL
    SELECT p.event_id, o.country_id,
        CASE WHEN p.role = 'initiator' THEN 1 ELSE 0 END,
        CASE WHEN p.role = 'target' THEN 1 ELSE 0 END
    FROM events_participation p
    JOIN events_actor a ON a.id = p.actor_id
    JOIN events_office o ON o.holder_id = a.id
    JOIN events_event pe ON pe.id = p.event_id
    WHERE a.kind = '"""
    + ActorKind.PERSON
    + """' AND o.country_id IS NOT NULL AND {p}
        AND (o.start_date IS NULL OR o.start_date <= COALESCE(pe.period_end, pe.start_date))
        AND (o.end_date IS NULL OR o.end_date >= pe.start_date)
    UNION ALL
    SELECT e.id, e.location_country_id, 0, 0 FROM events_event e
    WHERE e.location_country_id IS NOT NULL AND {e}
) x JOIN events_event e ON e.id = x.event_id
GROUP BY x.event_id, x.country_id, e.kind, e.start_date
"""
)

# The participations' copy of their event's start date, written only where it differs (a bulk
# write leaves it empty; an event's new date changes it). {p} as in INVOLVEMENT_SQL.
PARTICIPATION_DATES_SQL = """
UPDATE events_participation AS p SET start_date = e.start_date
FROM events_event e
WHERE e.id = p.event_id AND {p} AND (p.start_date IS NULL OR p.start_date <> e.start_date)
"""


# Each event's country ids (Event.involved_country_ids, initiator_… and target_…), from its
# CountryInvolvement rows, written only where they differ; {v} is a condition on the
# involvement's event id. Sorted, so that unchanged ids compare equal and the event is not
# rewritten (SQLite before 3.44 has no ORDER BY in an aggregate: the rows come to it sorted).
COUNTRY_IDS_SQL = {
    "postgresql": """
UPDATE events_event AS e SET involved_country_ids = s.involved,
    initiator_country_ids = s.initiators, target_country_ids = s.targets
FROM (
    SELECT v.event_id,
        array_agg(v.country_id ORDER BY v.country_id) AS involved,
        array_agg(v.country_id ORDER BY v.country_id) FILTER (WHERE v.as_initiator)
            AS initiators,
        array_agg(v.country_id ORDER BY v.country_id) FILTER (WHERE v.as_target) AS targets
    FROM events_countryinvolvement v WHERE {v}
    GROUP BY v.event_id
) AS s
WHERE e.id = s.event_id AND (e.involved_country_ids, e.initiator_country_ids,
    e.target_country_ids) IS DISTINCT FROM (s.involved, s.initiators, s.targets)
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
    FROM (
        SELECT * FROM events_countryinvolvement v WHERE {v} ORDER BY v.event_id, v.country_id
    ) AS v
    GROUP BY v.event_id
) AS s
WHERE e.id = s.event_id AND (e.involved_country_ids IS NOT s.involved
    OR e.initiator_country_ids IS NOT s.initiators OR e.target_country_ids IS NOT s.targets)
""",
}

# Events left with no country: no ids. {e} is a condition on the event's id.
NO_COUNTRY_IDS_SQL = """
UPDATE events_event AS e
SET involved_country_ids = NULL, initiator_country_ids = NULL, target_country_ids = NULL
WHERE {e} AND e.involved_country_ids IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM events_countryinvolvement v WHERE v.event_id = e.id)
"""


# The event's own columns that what refresh_involvements() derives depends on (with its
# participants' actors and roles, and its links): the involvements (location, kind, dates),
# the participations' date, and the rollup tallies (rollups.MATCHING_COLUMNS, published only).
# An edit that changes none of them (a title, a summary) leaves all of it as it was.
DERIVED_FROM = (
    *(column for column in rollups.MATCHING_COLUMNS if column != "id"),
    "location_country_id",
    "review_state",
)


def refresh_involvements(event_ids=None, *, id_range=None, using="default"):
    """Recompute what is derived from these events' participants, location, kind, dates,
    figures and review state (or those of ids in `id_range`): their CountryInvolvement rows,
    the events' copies of their country ids, their participations' copy of the start date,
    and their rollup tallies (events/rollups.py), with those of the events they are part of."""
    country_ids_sql = COUNTRY_IDS_SQL[rollups.vendor_of(using)]

    def derive(cursor, condition, params):
        cursor.execute(
            "DELETE FROM events_countryinvolvement WHERE " + condition.format(col="event_id"),
            params,
        )
        cursor.execute(
            INVOLVEMENT_SQL.format(
                p=condition.format(col="p.event_id"), e=condition.format(col="e.id")
            ),
            params * 3,
        )
        cursor.execute(country_ids_sql.format(v=condition.format(col="v.event_id")), params)
        cursor.execute(NO_COUNTRY_IDS_SQL.format(e=condition.format(col="e.id")), params)
        cursor.execute(PARTICIPATION_DATES_SQL.format(p=condition.format(col="p.event_id")), params)

    rollups.refresh(event_ids, id_range=id_range, using=using, change=derive)


def derive_staged(cursor, events_table, condition, params):
    """PostgreSQL: the country involvements and country-id arrays of new events that are
    still in `events_table` (the import's staging table, with events_event's columns), so that
    they are written once, complete. The same SQL as refresh_involvements(), reading the
    events from there; {col} of `condition` is an event id."""

    def staged(sql):
        return re.sub(r"\bevents_event\b", events_table, sql)

    cursor.execute(
        staged(
            INVOLVEMENT_SQL.format(
                p=condition.format(col="p.event_id"), e=condition.format(col="e.id")
            )
        ),
        params * 3,
    )
    cursor.execute(
        staged(COUNTRY_IDS_SQL["postgresql"].format(v=condition.format(col="v.event_id"))), params
    )


@receiver(pre_save, sender=Event)
def derive_codes(sender, instance, **kwargs):
    """Keep the CAMEO and PLOVER codes in step with kind, mode and status."""
    codes = codes_for(instance.kind, instance.mode, instance.status)
    if codes:
        instance.cameo_code, instance.plover_type, instance.plover_mode = codes


@receiver(pre_save, sender=Event)
def derive_period_end(sender, instance, **kwargs):
    """Keep `period_end` in step with the dates, also for fixture (raw) saves."""
    if instance.start_date:
        instance.period_end = period_end(
            instance.start_date, instance.end_date, instance.date_precision
        )


def build_search_text(event, actor_names):
    return "\n".join(
        part for part in (event.title, event.summary, event.quoted_words, *actor_names) if part
    )


def refresh_search_text(event_ids):
    """Recompute the derived search text of these events (after participants change)."""
    names = {}
    for event_id, name in Participation.objects.filter(event_id__in=event_ids).values_list(
        "event_id", "actor__name"
    ):
        names.setdefault(event_id, []).append(name)
    for event in Event.objects.filter(pk__in=event_ids).only(
        "id", "title", "summary", "quoted_words", "search_text"
    ):
        text = build_search_text(event, names.get(event.pk, []))
        if text != event.search_text:
            Event.objects.filter(pk=event.pk).update(search_text=text)


@receiver(pre_save, sender=Event)
def derive_search_text(sender, instance, **kwargs):
    names = (
        list(instance.participations.values_list("actor__name", flat=True)) if instance.pk else []
    )
    instance.search_text = build_search_text(instance, names)


@receiver(post_save, sender=Participation)
@receiver(post_delete, sender=Participation)
def participants_changed(sender, instance, **kwargs):
    if deleting_with_event(kwargs.get("origin")):
        return  # the event goes too: nothing to keep in step
    refresh_search_text([instance.event_id])
    refresh_involvements([instance.event_id], using=kwargs.get("using") or "default")


def deleting_with_event(origin):
    """Whether a delete cascades from an event (or a queryset of events) being deleted."""
    model = origin.model if isinstance(origin, models.QuerySet) else type(origin)
    return origin is not None and issubclass(model, Event)


@receiver(post_save, sender=Event)
def event_saved(sender, instance, **kwargs):
    """Keep the derived involvements in step with the location and the start date."""
    refresh_involvements([instance.pk], using=kwargs.get("using") or "default")


@receiver(pre_save, sender=Actor)
def note_actor_country(sender, instance, raw=False, **kwargs):
    """Whether the save changes what the actor makes a party: its country or its kind."""
    instance._country_changed = bool(instance.pk) and (
        type(instance)
        ._base_manager.filter(pk=instance.pk)
        .exclude(country_id=instance.country_id, kind=instance.kind)
        .exists()
    )


@receiver(post_save, sender=Actor)
def actor_renamed(sender, instance, created, **kwargs):
    if not created:
        event_ids = list(
            Participation.objects.filter(actor=instance).values_list("event_id", flat=True)
        )
        for start in range(0, len(event_ids), 1000):
            refresh_search_text(event_ids[start : start + 1000])
        if getattr(instance, "_country_changed", False):
            refresh_involvements(event_ids, using=kwargs.get("using") or "default")


@receiver(post_save, sender=Office)
@receiver(post_delete, sender=Office)
def office_changed(sender, instance, **kwargs):
    """An office's country or dates decide which of its holder's events involve that state."""
    holding = Participation.objects.filter(actor_id=instance.holder_id)
    event_ids = list(holding.values_list("event_id", flat=True))
    if event_ids:
        refresh_involvements(event_ids, using=kwargs.get("using") or "default")


@receiver(pre_delete, sender=Event)
def event_deleting(sender, instance, **kwargs):
    """Take the event's tally out while its involvements are there; tally its parents again
    once it is gone."""
    instance._tallied_parents = rollups.forget(instance.pk, using=kwargs.get("using") or "default")


@receiver(post_delete, sender=Event)
def event_deleted(sender, instance, **kwargs):
    parents = getattr(instance, "_tallied_parents", set())
    if parents:
        rollups.refresh(parents, using=kwargs.get("using") or "default")


@receiver(pre_save, sender=EventLink)
def note_link_events(sender, instance, raw=False, **kwargs):
    """The events a link joined before this save: a `part_of` link that moves changes what
    its old parent counts too."""
    stored = (
        type(instance)
        ._base_manager.filter(pk=instance.pk)
        .values_list("from_event_id", "to_event_id")
        if instance.pk
        else []
    )
    instance._joined_before = {event_id for pair in stored for event_id in pair}


@receiver(post_save, sender=EventLink)
@receiver(post_delete, sender=EventLink)
def link_changed(sender, instance, **kwargs):
    """Tally again the events a link joins (and joined): a part and what it is part of."""
    if deleting_with_event(kwargs.get("origin")):
        return  # the event's deletion tallies its parents again
    event_ids = {instance.from_event_id, instance.to_event_id}
    event_ids |= getattr(instance, "_joined_before", set())
    rollups.refresh(event_ids, using=kwargs.get("using") or "default")
