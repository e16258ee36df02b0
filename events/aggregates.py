"""Counting events: the groups of /api/aggregates/events/, without double counting.

The rules a researcher can rely on (README, "Counting events"):

- **Which events.** Those `/api/events/` lists with the same filters: published ones only for
  anonymous users.
- **Parts are not counted twice.** An event with parts (events linked to it as `part_of`)
  contributes to people expelled only what its parts do not cover: for each estimate (low,
  best, high) its own figure less the sum of its parts' figures, never below zero. Each part
  counts in its own groups. So an event and its parts together contribute the larger of the
  event's figure and the sum of its parts, and a total is the same whichever way it is
  grouped (an event in several groups of one dimension, say with two initiators, counts in
  each: `total` is the figure without grouping).
- **Estimates.** `people_expelled` sums the best estimates, each falling back to the low one;
  `people_expelled_low` and `people_expelled_high` sum the low and high ones. A group's high
  is null when an event it counts gives no high estimate (no upper bound is known);
  `people_expelled_high_missing` says how many. `people_expelled_is_lower_bound` is true
  when a figure it rests on is only a lower bound ("more than 100": a low estimate alone).
  With no figure at all in a group, the three are null.
- **Precision.** An event known only to the month is not put in a day or week bucket, one
  known only to the year not in a month bucket: `too_coarse` says how many matching events
  were left out of the groups for that reason (they still count in `total`).
- **Countries.** `initiator`, `target` and `country` group by the countries an event
  involves, as the filters of the same names decide (README, "How country, initiator and
  target decide"); an event whose initiators (or targets) involve no country is grouped
  under each such actor, as `actor:<slug>`, and one with none under null. `dyad` is
  initiator and target together.
"""

import csv
import io
from collections import namedtuple

from django.db import connections

from .codes import goldstein_sql, quad_class_sql
from .models import Event, LinkKind, ReviewState

MAX_GROUPS = 10_000

# Each dimension: the columns it gives a group and, for the date ones, the precisions too
# coarse for it. Scalar dimensions are SQL expressions on the matching events (`m`); the
# others join rows of (event_id, key) built by `KEY_ROWS`.
DATE_DIMENSIONS = {
    "year": (),
    "month": ("year",),
    "week": ("month", "year"),
    "day": ("month", "year"),
}
SCALAR_DIMENSIONS = ("kind", "mode", "status", "cameo_root", "quad_class")
JOINED_DIMENSIONS = ("initiator", "target", "country", "actor")
GROUP_BY = tuple(DATE_DIMENSIONS) + SCALAR_DIMENSIONS + JOINED_DIMENSIONS + ("dyad",)

DATE_SQL = {
    "postgresql": {
        "year": "CAST(EXTRACT(YEAR FROM m.start_date) AS integer)",
        "month": "to_char(m.start_date, 'YYYY-MM')",
        "week": "to_char(date_trunc('week', m.start_date), 'YYYY-MM-DD')",
        "day": "to_char(m.start_date, 'YYYY-MM-DD')",
    },
    "sqlite": {
        "year": "CAST(strftime('%%Y', m.start_date) AS integer)",
        "month": "strftime('%%Y-%%m', m.start_date)",
        # The Monday of the week (ISO weeks start on Monday).
        "week": "date(m.start_date, '-6 days', 'weekday 1')",
        "day": "date(m.start_date)",
    },
}


SCALAR_SQL = {
    "kind": "m.kind",
    "mode": "m.mode",
    "status": "m.status",
    "cameo_root": "NULLIF(substr(m.cameo_code, 1, 2), '')",
    "quad_class": quad_class_sql("m.cameo_code"),
}

# (event_id, key) rows of the joined dimensions: distinct per event, so a join counts an
# event once in each of its groups.
_SIDE = """
    SELECT v.event_id, c.code AS key FROM events_countryinvolvement v
    JOIN events_country c ON c.id = v.country_id WHERE v.{flag}
    UNION
    SELECT p.event_id, 'actor:' || a.slug FROM events_participation p
    JOIN events_actor a ON a.id = p.actor_id
    WHERE p.role = '{role}' AND NOT EXISTS (
        SELECT 1 FROM events_countryinvolvement w WHERE w.event_id = p.event_id AND w.{flag}
    )"""
KEY_ROWS = {
    "initiator": _SIDE.format(flag="as_initiator", role="initiator"),
    "target": _SIDE.format(flag="as_target", role="target"),
    "country": """
    SELECT v.event_id, c.code AS key FROM events_countryinvolvement v
    JOIN events_country c ON c.id = v.country_id""",
    "actor": """
    SELECT DISTINCT p.event_id, a.slug AS key FROM events_participation p
    JOIN events_actor a ON a.id = p.actor_id""",
}

# The matching events with what each contributes (`m`): its own estimates less those of its
# visible parts (`part_of` links to it), never below zero. {matching} selects the matching
# events' MATCHING_COLUMNS, one row each.
MATCHING_SQL = """
WITH parts AS (
    SELECT l.to_event_id AS event_id,
        SUM(p.expelled_low) AS low,
        SUM(COALESCE(p.expelled_best, p.expelled_low)) AS best,
        SUM(p.expelled_high) AS high,
        MAX(CASE WHEN p.expelled_low IS NOT NULL AND p.expelled_best IS NULL
            THEN 1 ELSE 0 END) AS lower_bound
    FROM events_eventlink l JOIN events_event p ON p.id = l.from_event_id
    WHERE l.kind = %s {part_visible} {part_matching}
    GROUP BY l.to_event_id
), m AS (
    SELECT e.id, e.start_date, e.date_precision, e.kind, e.mode, e.status, e.cameo_code,
        {remainder_low} AS low, {remainder_best} AS best, {remainder_high} AS high,
        CASE WHEN e.expelled_low IS NOT NULL AND e.expelled_best IS NULL THEN 1
            WHEN COALESCE(e.expelled_best, e.expelled_low) IS NOT NULL
                AND parts.lower_bound = 1 THEN 1 ELSE 0 END AS lower_bound
    FROM ({matching}) e LEFT JOIN parts ON parts.event_id = e.id
)
"""
MATCHING_COLUMNS = (
    "id",
    "start_date",
    "date_precision",
    "kind",
    "mode",
    "status",
    "cameo_code",
    "expelled_low",
    "expelled_best",
    "expelled_high",
)


def _remainder(own, parts):
    return (
        f"CASE WHEN {own} IS NULL THEN NULL WHEN {parts} IS NULL THEN {own} "
        f"WHEN {own} > {parts} THEN {own} - {parts} ELSE 0 END"
    )


MEASURES = """
    COUNT(*) AS events,
    SUM(m.best) AS people_expelled,
    SUM(m.low) AS people_expelled_low,
    CASE WHEN SUM(CASE WHEN m.best IS NOT NULL AND m.high IS NULL THEN 1 ELSE 0 END) > 0
        THEN NULL ELSE SUM(m.high) END AS people_expelled_high,
    SUM(CASE WHEN m.best IS NOT NULL AND m.high IS NULL THEN 1 ELSE 0 END)
        AS people_expelled_high_missing,
    MAX(CASE WHEN m.best IS NOT NULL THEN m.lower_bound ELSE 0 END)
        AS people_expelled_is_lower_bound,
    SUM({goldstein}) AS goldstein_sum,
    AVG({goldstein}) AS goldstein_mean
""".format(goldstein=goldstein_sql("m.cameo_code"))
MEASURE_NAMES = (
    "events",
    "people_expelled",
    "people_expelled_low",
    "people_expelled_high",
    "people_expelled_high_missing",
    "people_expelled_is_lower_bound",
    "goldstein_sum",
    "goldstein_mean",
)


class GroupingError(ValueError):
    """A group_by the endpoint refuses; the message says why."""


Result = namedtuple("Result", "columns groups total too_coarse")


def parse_group_by(values):
    """The dimensions asked for, from `group_by` values (repeated or comma-separated)."""
    dimensions = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if not name:
                continue
            if name not in GROUP_BY:
                raise GroupingError(f"Unknown group {name!r}: choose from {', '.join(GROUP_BY)}.")
            if name in dimensions:
                raise GroupingError(f"{name!r} is given twice.")
            dimensions.append(name)
    if "dyad" in dimensions and {"initiator", "target"} & set(dimensions):
        raise GroupingError("'dyad' is initiator and target already: give one or the other.")
    if len([d for d in dimensions if d in DATE_DIMENSIONS]) > 1:
        raise GroupingError("Group by one period at most (year, month, week or day).")
    return dimensions


def _columns(dimensions):
    """The key columns of the result, in order."""
    columns = []
    for name in dimensions:
        columns.extend(["initiator", "target"] if name == "dyad" else [name])
    return columns


def aggregate(queryset, dimensions, shows_drafts):
    """Count the events of `queryset` (already filtered and visible) by `dimensions`."""
    db = queryset.db
    vendor = "postgresql" if connections[db].vendor == "postgresql" else "sqlite"
    matching, matching_params = _matching(queryset)
    # Parts of the matching events only, unless every visible event matches: then reading all
    # `part_of` links costs less than checking each against millions of events.
    visible = (Event.objects.all() if shows_drafts else Event.objects.published()).order_by()
    ids, ids_params = queryset.order_by().values("id").query.sql_with_params()
    every = str(visible.values("id").query) == str(queryset.order_by().values("id").query)
    prefix = MATCHING_SQL.format(
        part_matching="" if every else f"AND l.to_event_id IN ({ids})",
        part_visible="" if shows_drafts else "AND p.review_state = %s",
        matching=matching,
        remainder_low=_remainder("e.expelled_low", "parts.low"),
        remainder_best=_remainder("COALESCE(e.expelled_best, e.expelled_low)", "parts.best"),
        remainder_high=_remainder("e.expelled_high", "parts.high"),
    )
    params = [LinkKind.PART_OF] + ([] if shows_drafts else [ReviewState.PUBLISHED])
    params += ([] if every else list(ids_params)) + list(matching_params)

    keys, joins, coarse = [], [], []
    for name in dimensions:
        if name in DATE_DIMENSIONS:
            keys.append(DATE_SQL[vendor][name])
            coarse = DATE_DIMENSIONS[name]
        elif name in SCALAR_SQL:
            keys.append(SCALAR_SQL[name])
        else:
            for side in ("initiator", "target") if name == "dyad" else (name,):
                alias = f"k_{side}"
                joins.append(f"LEFT JOIN ({KEY_ROWS[side]}) {alias} ON {alias}.event_id = m.id")
                keys.append(f"{alias}.key")
    where = (
        "WHERE m.date_precision NOT IN ({})".format(", ".join(f"'{p}'" for p in coarse))
        if coarse
        else ""
    )
    labels = [f"{key} AS g{index}" for index, key in enumerate(keys)]
    order = ", ".join(f"g{index}" for index in range(len(keys)))
    grouped = (
        f"{prefix} SELECT {', '.join(labels + [MEASURES])} FROM m {' '.join(joins)} {where}"
        + (f" GROUP BY {order} ORDER BY {order}" if keys else "")
        + f" LIMIT {MAX_GROUPS + 1}"
    )
    summary = f"""{prefix} SELECT {MEASURES},
        SUM(CASE WHEN m.date_precision IN ({", ".join(f"'{p}'" for p in coarse) or "''"})
            THEN 1 ELSE 0 END) AS too_coarse
        FROM m"""
    with connections[db].cursor() as cursor:
        cursor.execute(grouped, params)
        rows = cursor.fetchall()
        if len(rows) > MAX_GROUPS:
            raise GroupingError(
                f"This grouping gives more than {MAX_GROUPS:,} groups: filter the events or "
                "group by fewer dimensions."
            )
        cursor.execute(summary, params)
        *total, too_coarse = cursor.fetchone()
    columns = _columns(dimensions)
    groups = [
        {**dict(zip(columns, row[: len(keys)], strict=True)), **_measures(row[len(keys) :])}
        for row in rows
    ]
    return Result(columns, groups, _measures(total), too_coarse or 0)


def _matching(queryset):
    """SQL selecting the matching events' MATCHING_COLUMNS, one row per event. A query of the
    events table alone is used as it is (one scan); one that joins other tables (a country
    or actor filter) is read through `id IN (...)`, so that a join can never repeat an event."""
    queryset = queryset.order_by()
    if len(queryset.query.alias_map) <= 1:
        return queryset.values(*MATCHING_COLUMNS).query.sql_with_params()
    ids, params = queryset.values("id").query.sql_with_params()
    outer = Event.objects.order_by().values(*MATCHING_COLUMNS).query.sql_with_params()[0]
    return f'{outer} WHERE "{Event._meta.db_table}"."id" IN ({ids})', params


def _measures(values):
    measures = dict(zip(MEASURE_NAMES, values, strict=True))
    measures["events"] = measures["events"] or 0
    measures["people_expelled_high_missing"] = measures["people_expelled_high_missing"] or 0
    measures["people_expelled_is_lower_bound"] = bool(measures["people_expelled_is_lower_bound"])
    for name in ("people_expelled", "people_expelled_low", "people_expelled_high"):
        if measures[name] is not None:
            measures[name] = int(measures[name])
    for name in ("goldstein_sum", "goldstein_mean"):
        if measures[name] is not None:
            measures[name] = round(float(measures[name]), 2)
    return measures


def as_csv(result):
    """The groups as a tidy CSV: one row per group, its keys then its measures."""
    lines = io.StringIO()
    writer = csv.writer(lines)
    writer.writerow(result.columns + list(MEASURE_NAMES))
    for group in result.groups:
        writer.writerow(
            ["" if group[c] is None else group[c] for c in result.columns]
            + [
                ""
                if group[m] is None
                else str(group[m]).lower()
                if isinstance(group[m], bool)
                else group[m]
                for m in MEASURE_NAMES
            ]
        )
    return lines.getvalue()
