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

from . import rollups
from .api_csv import neutralise
from .codes import goldstein_sql
from .models import Event, LinkKind, ReviewState
from .rollups import DATE_SQL, MATCHING_COLUMNS, SCALAR_SQL, matching_sql

MAX_GROUPS = 10_000
_TOO_MANY = (
    "This grouping gives more than {:,} groups: filter the events or group by fewer dimensions."
)
# Groupings whose groups can outnumber MAX_GROUPS (days, actors, pairs of sides): the keys of a
# sample of this many matching events are read first, and the grouping refused if they already
# fall in more groups (`sampled_groups`). The sizes are what refuses such groupings of the 5M
# benchmark (bench/) in well under 150 ms, against seconds to count every group.
SAMPLE_EVENTS = {"day": 30_000, "actor": 40_000, "dyad": 20_000}
# Counts beside the listing's filters that the rollup cells cannot answer are read from this
# many matching events (`counts`), and said to be estimates when more match.
SAMPLE_FACETS = 2_000

# Each dimension: the columns it gives a group and, for the date ones, the precisions too
# coarse for it. Scalar dimensions are SQL expressions on the matching events (`m`); the
# others join rows of (event_id, key): all of them (`KEY_ROWS`) when every visible event
# matches, else looked up event by event (`_keys_joined`).
DATE_DIMENSIONS = {
    "year": (),
    "month": ("year",),
    "week": ("month", "year"),
    "day": ("month", "year"),
}
SCALAR_DIMENSIONS = ("kind", "mode", "status", "cameo_root", "quad_class")
JOINED_DIMENSIONS = ("initiator", "target", "country", "actor")
GROUP_BY = tuple(DATE_DIMENSIONS) + SCALAR_DIMENSIONS + JOINED_DIMENSIONS + ("dyad",)

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


def aggregate(queryset, dimensions, shows_drafts, filters=None, *, read="fastest"):
    """Count the events of `queryset` (already filtered and visible) by `dimensions`.

    For published events only (`shows_drafts` false), the rollups answer (events/rollups.py):
    the cells when they hold the `filters` (the filter form's cleaned values that made
    `queryset`) and dimensions, else the matching events' tallies. `read="events"` reads the
    events themselves, the definition both are tested against. A grouping that a sample
    already shows to give more than MAX_GROUPS groups is refused before any is counted.
    """
    coarse = next((DATE_DIMENSIONS[name] for name in dimensions if name in DATE_DIMENSIONS), ())
    fast = not shows_drafts and read == "fastest"
    db = queryset.db
    vendor = rollups.vendor_of(db)
    prefix, params, every = _matching_prefix(queryset, shows_drafts, filters, fast)
    if (
        set(dimensions) & set(SAMPLE_EVENTS)
        and _many_match(filters, every)
        and sampled_groups(db, vendor, prefix, params, dimensions, coarse) > MAX_GROUPS
    ):
        raise GroupingError(_TOO_MANY.format(MAX_GROUPS))
    if fast and filters is not None:
        answered = rollups.answer(dimensions, filters, coarse, using=db, limit=MAX_GROUPS + 1)
        if answered is not None:
            rows, total, too_coarse = answered
            return _result(dimensions, _at_most_max_groups(rows), total, too_coarse)

    keys, joins = (_keys_from_rows if every else _keys_joined)(dimensions, vendor)
    where = (
        "WHERE m.date_precision NOT IN ({})".format(", ".join(f"'{p}'" for p in coarse))
        if coarse
        else ""
    )
    # The groups and the total in one statement, which reads the matching events once (a
    # common table used twice). Each group is numbered in key order; the total comes last.
    labels = [f"{key} AS g{index}" for index, key in enumerate(keys)]
    number = f"ROW_NUMBER() OVER (ORDER BY {', '.join(keys)})" if keys else "1"
    too_coarse = ", ".join(f"'{p}'" for p in coarse) or "''"
    groups = (
        f"SELECT 0 AS is_total, {number} AS n, {', '.join(labels + [MEASURES])}, 0 AS coarse "
        f"FROM m {' '.join(joins)} {where}" + (f" GROUP BY {', '.join(keys)}" if keys else "")
    )
    nulls = "".join(f"NULL AS g{index}, " for index in range(len(keys)))
    total = (
        f"SELECT 1, 0, {nulls}{MEASURES}, "
        f"SUM(CASE WHEN m.date_precision IN ({too_coarse}) THEN 1 ELSE 0 END) FROM m"
    )
    statement = (
        f"{prefix} SELECT * FROM (SELECT * FROM ({groups}) grouped ORDER BY n "
        f"LIMIT {MAX_GROUPS + 1}) limited UNION ALL {total} ORDER BY 1, 2"
    )
    with connections[db].cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    *rows, (*total_row, too_coarse_count) = rows
    rows = _at_most_max_groups([row[2:-1] for row in rows])
    return _result(dimensions, rows, total_row[2 + len(keys) :], too_coarse_count or 0)


def _event_key(name, vendor):
    """The key of a dimension that the matching event's own row (`m`) gives (a period, a kind,
    a code...), as SQL; None for those joined from other tables."""
    if name in DATE_DIMENSIONS:
        return DATE_SQL[vendor][name].format(a="m", date="start_date")
    if name in SCALAR_SQL:
        return SCALAR_SQL[name].format(a="m")
    return None


def _keys_from_rows(dimensions, vendor):
    """The group keys (SQL on `m`) and the joins they need, for every visible event: the
    joined dimensions from KEY_ROWS, each read whole (hashed against millions of events)."""
    keys, joins = [], []
    for name in dimensions:
        if _event_key(name, vendor):
            keys.append(_event_key(name, vendor))
        else:
            for side in ("initiator", "target") if name == "dyad" else (name,):
                alias = f"k_{side}"
                joins.append(f"LEFT JOIN ({KEY_ROWS[side]}) {alias} ON {alias}.event_id = m.id")
                keys.append(f"{alias}.key")
    return keys, joins


def _keys_joined(dimensions, vendor, *, ids=False):
    """The same keys as `_keys_from_rows`, joined to each matching event by its id (index
    lookups: for some of the events, or a sample). A side's countries; when the side has no
    country, its actors (the CASE gives the lookup no id to find when a country was found);
    for `actor`, each actor once per event (its first role). With `ids`, the keys are the
    countries' and actors' ids, which are as distinct as their codes and slugs (for counting
    groups, without looking up a name)."""
    keys, joins = [], []
    for name in dimensions:
        if _event_key(name, vendor):
            keys.append(_event_key(name, vendor))
        elif name == "actor" and ids:
            joins.append("LEFT JOIN events_participation p_actor ON p_actor.event_id = m.id")
            keys.append("p_actor.actor_id")
        elif name == "actor":
            joins.append(
                "LEFT JOIN events_participation p_actor ON p_actor.event_id = m.id AND NOT EXISTS "
                "(SELECT 1 FROM events_participation q WHERE q.event_id = p_actor.event_id "
                "AND q.actor_id = p_actor.actor_id AND q.role < p_actor.role) "
                "LEFT JOIN events_actor a_actor ON a_actor.id = p_actor.actor_id"
            )
            keys.append("a_actor.slug")
        else:
            for side in ("initiator", "target") if name == "dyad" else (name,):
                v, c, p, a = (f"{letter}_{side}" for letter in "vcpa")
                flag = "" if side == "country" else f" AND {v}.as_{side}"
                joins.append(
                    f"LEFT JOIN events_countryinvolvement {v} ON {v}.event_id = m.id{flag}"
                )
                if not ids:
                    joins.append(f"LEFT JOIN events_country {c} ON {c}.id = {v}.country_id")
                if side == "country":
                    keys.append(f"{v}.country_id" if ids else f"{c}.code")
                    continue
                joins.append(
                    f"LEFT JOIN events_participation {p} ON {p}.event_id = "
                    f"CASE WHEN {v}.event_id IS NULL THEN m.id END AND {p}.role = '{side}'"
                )
                if ids:
                    keys += [f"{v}.country_id", f"{p}.actor_id"]
                    continue
                joins.append(f"LEFT JOIN events_actor {a} ON {a}.id = {p}.actor_id")
                keys.append(f"COALESCE({c}.code, 'actor:' || {a}.slug)")
    return keys, joins


def _matching_prefix(queryset, shows_drafts, filters, fast):
    """The SQL that makes the matching events `m` (a WITH clause), its parameters, and whether
    every visible event matches. No query is run."""
    tallied = rollups.tallied_where(filters) if fast and filters is not None else None
    if tallied is None:
        # All visible events, or only some: then the query reads those the filters selected.
        visible = (Event.objects.all() if shows_drafts else Event.objects.published()).order_by()
        ids, ids_params = queryset.order_by().values("id").query.sql_with_params()
        every = (ids, ids_params) == visible.values("id").query.sql_with_params()
    if tallied is not None:
        # The filters as conditions on the tallies themselves: no event is read.
        condition, params = tallied
        every = not condition
        prefix = rollups.TALLIED_SQL.format(matching=f"WHERE {condition}" if condition else "")
    elif fast:
        prefix = rollups.TALLIED_SQL.format(
            matching="" if every else f"WHERE t.event_id IN ({ids})"
        )
        params = [] if every else list(ids_params)
    else:
        matching, matching_params = _matching(queryset)
        # Parts of the matching events only, unless every visible event matches: then
        # reading all `part_of` links costs less than checking each against millions.
        prefix = matching_sql(
            matching,
            part_matching="" if every else f"AND l.to_event_id IN ({ids})",
            part_visible="" if shows_drafts else "AND p.review_state = %s",
        )
        params = [LinkKind.PART_OF] + ([] if shows_drafts else [ReviewState.PUBLISHED])
        params += ([] if every else list(ids_params)) + list(matching_params)
    return prefix, params, every


def _many_match(filters, every):
    """Whether a sample is worth reading first: when every event matches, or those of a kind,
    status, CAMEO code or dates. A country, an actor, a source or words narrow the events to
    thousands, which are counted in little more time than the sample would take."""
    if every:
        return True
    given = {name for name, value in (filters or {}).items() if value not in (None, "", [], ())}
    return not given - (rollups.CELL_FILTERS - set(rollups.SIDES)) - rollups.IGNORED_FILTERS


def sampled_groups(db, vendor, prefix, params, dimensions, coarse, *, events=None):
    """How many groups the first `events` matching events (by default the least of
    SAMPLE_EVENTS for `dimensions`) fall in. More than MAX_GROUPS proves that the grouping gives
    too many, read in tens of milliseconds where counting every group would take seconds; fewer
    proves nothing (the grouping then goes ahead and is checked when counted).

    The sample is limited first, then its keys are joined event by event (`_keys_joined`, by
    id): index lookups for some thousands of events, never a scan of all the keys."""
    size = events or min(
        (SAMPLE_EVENTS[name] for name in dimensions if name in SAMPLE_EVENTS),
        default=max(SAMPLE_EVENTS.values()),
    )
    keys, joins = _keys_joined(dimensions, vendor, ids=True)
    where = (
        "WHERE m.date_precision NOT IN ({})".format(", ".join(f"'{p}'" for p in coarse))
        if coarse
        else ""
    )
    labels = ", ".join(f"{key} AS k{index}" for index, key in enumerate(keys))
    statement = (
        f"{prefix}, sample AS (SELECT * FROM m {where} LIMIT {size}) "
        f"SELECT COUNT(*) FROM (SELECT DISTINCT {labels} FROM sample m {' '.join(joins)}) keys"
    )
    with connections[db].cursor() as cursor:
        if vendor != "postgresql":
            cursor.execute(statement, params)
            return cursor.fetchone()[0]
        # PostgreSQL would rather hash a whole index of millions of keys than look up the
        # sample's (it prices 20,000 lookups above one scan): told not to, for this statement.
        cursor.execute("SET enable_hashjoin = off; SET enable_mergejoin = off")
        try:
            cursor.execute(statement, params)
            return cursor.fetchone()[0]
        finally:
            cursor.execute("RESET enable_hashjoin; RESET enable_mergejoin")


def counts(queryset, dimension, filters, *, sample=None):
    """Published events of `queryset` (made by the cleaned `filters`) counted by one
    `dimension`: ({key: events}, None) read exactly from the rollup cells when they answer;
    else from the first `sample` (SAMPLE_FACETS) matching events by id, ({key: events among
    them}, how many they are) when more match (an estimate, to be said so), or exactly
    ({...}, None) when the sample holds every match. For counts beside filters, which must
    be quick more than exact."""
    if rollups.plan([dimension], filters) is not None:
        groups = aggregate(queryset, [dimension], False, filters=filters).groups
        return {group[dimension]: group["events"] for group in groups}, None
    size = sample or SAMPLE_FACETS
    db = queryset.db
    vendor = rollups.vendor_of(db)
    prefix, params, _ = _matching_prefix(queryset, False, filters, True)
    (key,), joins = _keys_joined([dimension], vendor)
    statement = (
        f"{prefix}, sample AS (SELECT * FROM m ORDER BY m.id LIMIT {size + 1}) "
        f"SELECT {key}, COUNT(*), (SELECT COUNT(*) FROM sample) FROM "
        f"(SELECT * FROM sample ORDER BY id LIMIT {size}) m {' '.join(joins)} GROUP BY {key}"
    )
    with connections[db].cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    found = {row[0]: row[1] for row in rows}
    return found, (size if rows and rows[0][2] > size else None)


def _at_most_max_groups(rows):
    if len(rows) > MAX_GROUPS:
        raise GroupingError(_TOO_MANY.format(MAX_GROUPS))
    return rows


def _result(dimensions, rows, total, too_coarse):
    columns = _columns(dimensions)
    width = len(columns)
    groups = [
        {**dict(zip(columns, row[:width], strict=True)), **_measures(row[width:])} for row in rows
    ]
    return Result(columns, groups, _measures(total), too_coarse)


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
            # A key may be an actor's slug, which may start with `-` (api_csv.neutralise).
            ["" if group[c] is None else neutralise(group[c]) for c in result.columns]
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
