"""The one duplicate finder: which stored events look like the same real-world event.

Two events look alike when they are of the same kind, their dates overlap (each read as the
whole period its precision allows: start_date to period_end), and the stored one has every
initiator and every target of the other. Without an initiator or a target nothing is flagged:
kind and date alone say too little.

`matches` answers this for many candidates in one query (the import asks it for each chunk
of new events, about the events stored before it began); `find_duplicates` and
`duplicates_of` ask it for one (the admin's "possible duplicates" and the merge screens).

How the query walks, on either database: for each candidate c, the stored events of its kind
whose dates overlap its own and that have every one of its initiators and targets, first by
date and id. Dates run from `low` (the first day less the longest span of a stored event: no
event starting earlier can overlap; the first representable day when that is not known) to
the last day. The walk starts from one of its actors: a state's events through the country
involvements of its country, kind and role (index by country, kind and date: a state takes
part in many events, of every kind), any other actor's through its participations (index by
actor and date); then its other actors are checked (the unique index on event, actor and
role), and only then the event is read. On PostgreSQL `WALK` fixes that order (with the
statistics of tables that an import is filling, the planner would rather walk every event of
the kind by date, which grows with the table); SQLite walks participations only.
"""

import datetime
import json
from typing import NamedTuple

from django.db import connection
from django.db.models import F, Max

from .models import Actor, ActorKind, Event, Participation, Role, period_end

WALK = {
    "postgresql": """(
        SELECT p.event_id FROM events_participation p
        WHERE c.country IS NULL AND p.actor_id = c.actor AND p.role = c.role
            AND (p.start_date BETWEEN c.low AND c.last_day OR p.start_date IS NULL)
        UNION ALL
        SELECT v.event_id FROM events_countryinvolvement v
        WHERE c.country IS NOT NULL AND c.role = 'initiator' AND v.as_initiator
            AND v.country_id = c.country AND v.kind = c.kind
            AND v.start_date BETWEEN c.low AND c.last_day
        UNION ALL
        SELECT v.event_id FROM events_countryinvolvement v
        WHERE c.country IS NOT NULL AND c.role = 'target' AND v.as_target
            AND v.country_id = c.country AND v.kind = c.kind
            AND v.start_date BETWEEN c.low AND c.last_day
        OFFSET 0
    ) p CROSS JOIN LATERAL (
        SELECT e.id, e.slug, e.kind, e.start_date, e.period_end FROM events_event e
        WHERE e.id = p.event_id OFFSET 0
    ) e""",
    "sqlite": """events_participation p JOIN events_event e
        ON e.id = p.event_id AND p.actor_id = c.actor AND p.role = c.role""",
}
SQL_TEMPLATE = """
WITH c (i, actor, country, role, kind, low, first_day, last_day, exclude, up_to, initiators,
    targets)
AS ({candidates})
SELECT c.i, (
    SELECT {joined} FROM (
        SELECT e.slug FROM {walk}
        WHERE e.kind = c.kind
            AND e.start_date BETWEEN c.low AND c.last_day AND e.period_end >= c.first_day
            AND (c.exclude IS NULL OR e.id <> c.exclude)
            AND (c.up_to IS NULL OR e.id <= c.up_to)
            AND NOT EXISTS (
                SELECT 1 FROM {initiators} a WHERE NOT EXISTS (
                    SELECT 1 FROM events_participation q WHERE q.event_id = e.id
                        AND q.role = 'initiator' AND q.actor_id = CAST(a.value AS bigint)
                )
            )
            AND NOT EXISTS (
                SELECT 1 FROM {targets} a WHERE NOT EXISTS (
                    SELECT 1 FROM events_participation q WHERE q.event_id = e.id
                        AND q.role = 'target' AND q.actor_id = CAST(a.value AS bigint)
                )
            )
        ORDER BY e.start_date, e.id LIMIT %s
    ) m
)
FROM c
"""
COLUMNS = (
    "i",
    "actor",
    "country",
    "role",
    "kind",
    "low",
    "first_day",
    "last_day",
    "exclude",
    "up_to",
)
# The candidates come as one JSON parameter (a list of objects), whose lists of actor ids
# {initiators} and {targets} expand into rows with a `value` column. A candidate's matches come
# back as one text of slugs separated by spaces (a slug has none).
SQL = {
    "postgresql": SQL_TEMPLATE.format(
        candidates="SELECT * FROM jsonb_to_recordset(CAST(%s AS jsonb)) AS x(i int, actor "
        "bigint, country bigint, role text, kind text, low date, first_day date, last_day date, "
        "exclude bigint, up_to bigint, initiators jsonb, targets jsonb)",
        joined="string_agg(m.slug, ' ')",
        walk=WALK["postgresql"],
        initiators="jsonb_array_elements_text(c.initiators)",
        targets="jsonb_array_elements_text(c.targets)",
    ),
    "sqlite": SQL_TEMPLATE.format(
        candidates="SELECT "
        + ", ".join(
            f"json_extract(value, '$.{name}')" for name in COLUMNS + ("initiators", "targets")
        )
        + " FROM json_each(%s)",
        joined="group_concat(m.slug, ' ')",
        walk=WALK["sqlite"],
        initiators="json_each(c.initiators)",
        targets="json_each(c.targets)",
    ),
}
EARLIEST = datetime.date(1, 1, 1)


class Side(NamedTuple):
    """A participant as the finder needs it: its actor's id, kind and country id."""

    actor: int
    kind: str
    country: int | None


def candidate(
    index, kind, first_day, last_day, initiators, targets, *, low=None, exclude=None, up_to=None
):
    """One question for `matches`: the events like one of this kind, from `first_day` to
    `last_day`, with these initiators and targets (lists of Side). `low` bounds the walk (the
    first day less the longest span of a stored event); `exclude` is an event id to leave out;
    `up_to`, the highest id to consider (the import: the events stored before it began).
    None when there is nothing to ask (no initiator and no target)."""
    if not initiators and not targets:
        return None
    # The walk starts from an actor that is not a state if there is one (its own
    # participations), else from the first state (its country's involvements).
    sides = [("initiator", side) for side in initiators] + [("target", side) for side in targets]
    role, start = min(
        sides, key=lambda pair: pair[1].kind == ActorKind.STATE and bool(pair[1].country)
    )
    return {
        "i": index,
        "actor": start.actor,
        "country": start.country if start.kind == ActorKind.STATE else None,
        "role": role,
        "kind": kind,
        "low": (low or EARLIEST).isoformat(),
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "exclude": exclude,
        "up_to": up_to,
        "initiators": sorted({side.actor for side in initiators}),
        "targets": sorted({side.actor for side in targets}),
    }


def matches(candidates, limit=1):
    """{candidate index: [slug, ...]} for the candidates with matches: at most `limit` each,
    the first by date and id (in that order when limit is 1; find_duplicates orders more)."""
    candidates = [c for c in candidates if c is not None]
    if not candidates:
        return {}
    vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    with connection.cursor() as cursor:
        cursor.execute(SQL[vendor], [json.dumps(candidates), limit])
        return {index: slugs.split(" ") for index, slugs in cursor.fetchall() if slugs}


def longest_spans():
    """{kind: the longest time a stored event of that kind covers}: a walk for one kind need
    reach back only that far (the import asks for every kind at once)."""
    rows = (
        Event.objects.values("kind")
        .annotate(longest=Max(F("period_end") - F("start_date")))
        .values_list("kind", "longest")
    )
    return {kind: longest or datetime.timedelta(0) for kind, longest in rows}


def sides(actor_ids):
    """Side of each actor id, read in one query."""
    rows = Actor.objects.filter(pk__in=set(actor_ids)).values_list("pk", "kind", "country_id")
    return [Side(*row) for row in rows]


def find_duplicates(
    kind, start_date, end_date, precision, initiators, targets, exclude=None, limit=20
):
    """The stored events that look like this one (see the module's docstring), first by date
    and id, at most `limit`. `initiators` and `targets` are actor ids."""
    question = candidate(
        0,
        kind,
        start_date,
        period_end(start_date, end_date, precision),
        sides(initiators),
        sides(targets),
        exclude=exclude,
    )
    slugs = matches([question], limit).get(0, [])
    return Event.objects.filter(slug__in=slugs).order_by("start_date", "id")


def duplicates_of(event, limit=20):
    """Other events that look like `event` (see find_duplicates)."""
    roles = {Role.INITIATOR: [], Role.TARGET: []}
    for actor_id, role in Participation.objects.filter(event=event, role__in=roles).values_list(
        "actor_id", "role"
    ):
        roles[role].append(actor_id)
    return find_duplicates(
        event.kind,
        event.start_date,
        event.end_date,
        event.date_precision,
        roles[Role.INITIATOR],
        roles[Role.TARGET],
        exclude=event.pk,
        limit=limit,
    )
