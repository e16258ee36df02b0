"""Rollup rows for counting published events fast, kept in step by the one write path.

The aggregates (events/aggregates.py) count by reading the matching events. Over millions of
events that is seconds, so for anonymous readers (published events only) a query whose
filters and groups a rollup can answer reads the cells of events/models/rollups.py instead:

- **Tallies.** Each published event has an EventTally: what it contributes (its figures
  less its published parts', by MATCHING_SQL, the aggregates' own definition).
- **Cells.** AggregateCell sums tallies by cell: grain `d` by start date and period end, `m`
  by their months, both with kind, mode, status and CAMEO code; `w` by weeks and `M` by
  months with kind only; `S` by kind and status alone; grains `i`, `t`, `c` by a country (or
  an actor, or none) as initiator, target or involved, with years and kind, and `I`, `T`,
  `C` the same with kind only.
- **In step.** `refresh_involvements()`, which every write calls for the events it touched
  (saves, participants, actors, offices, the import, the synthetic generator), takes out
  their old tallies (with the country involvements they were counted with, before those are
  derived again) and puts the new ones in; links and deletions of events do the same for the
  events they touch, and for the events that are (or were) their parents. Cells change by
  increments (INSERT ... ON CONFLICT DO UPDATE SET events = events + ...), so two
  transactions changing the same cell both count. `rebuild()` makes all of it again from the
  events: the tests hold the cells kept in step to it, and the answers read from cells to
  the answers read from the events.

`answer()` reads the cells when it can (the filters kind, status, cameo, date_after and
date_before, one of country, initiator and target; see `plan()`) and says None otherwise; the
aggregates then read the matching events' tallies (`TALLIED_SQL`, `tallied_where()`), or for
staff who see drafts the events themselves.
"""

import datetime

from django.db import connections
from django.dispatch import Signal

from .codes import cameo_codes_under, goldstein_sql, quad_class_sql
from .models.choices import LinkKind, ReviewState

# --- The aggregates' definitions, shared by the scan and the tallies --------------------------

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
    SELECT e.id, e.start_date, e.period_end, e.date_precision, e.kind, e.mode, e.status,
        e.cameo_code,
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
    "period_end",
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


# The published events `{matching}` selects (a WHERE on `t.event_id`, or ""), as MATCHING_SQL
# counted them when they were tallied: the same columns, read from their tallies.
TALLIED_SQL = """
WITH m AS (
    SELECT t.event_id AS id, t.start_date, t.period_end, t.date_precision, t.kind, t.mode,
        t.status, t.cameo_code, t.low, t.best, t.high,
        CASE WHEN t.lower_bound THEN 1 ELSE 0 END AS lower_bound
    FROM events_eventtally t {matching}
)
"""


def matching_sql(matching, *, part_visible, part_matching):
    """MATCHING_SQL for the events `matching` selects; the parts counted are those
    `part_visible` and `part_matching` (SQL conditions, or "") let through."""
    return MATCHING_SQL.format(
        part_matching=part_matching,
        part_visible=part_visible,
        matching=matching,
        remainder_low=_remainder("e.expelled_low", "parts.low"),
        remainder_best=_remainder("COALESCE(e.expelled_best, e.expelled_low)", "parts.best"),
        remainder_high=_remainder("e.expelled_high", "parts.high"),
    )


# A group's key, as SQL on a row `{a}` with a date `{a}.{date}` and the event's columns.
DATE_SQL = {
    "postgresql": {
        "year": "CAST(EXTRACT(YEAR FROM {a}.{date}) AS integer)",
        "month": "to_char({a}.{date}, 'YYYY-MM')",
        "week": "to_char(date_trunc('week', {a}.{date}), 'YYYY-MM-DD')",
        "day": "to_char({a}.{date}, 'YYYY-MM-DD')",
    },
    "sqlite": {
        "year": "CAST(strftime('%%Y', {a}.{date}) AS integer)",
        "month": "strftime('%%Y-%%m', {a}.{date})",
        # The Monday of the week (ISO weeks start on Monday).
        "week": "date({a}.{date}, '-6 days', 'weekday 1')",
        "day": "date({a}.{date})",
    },
}
SCALAR_SQL = {
    "kind": "{a}.kind",
    "mode": "{a}.mode",
    "status": "{a}.status",
    "cameo_root": "NULLIF(substr({a}.cameo_code, 1, 2), '')",
    "quad_class": quad_class_sql("{a}.cameo_code"),
}


def vendor_of(db):
    return "postgresql" if connections[db].vendor == "postgresql" else "sqlite"


# --- Keeping the tallies and cells in step ------------------------------------------------

TALLY_COLUMNS = (
    "event_id, start_date, period_end, date_precision, kind, mode, status, cameo_code, "
    "low, best, high, lower_bound, goldstein_tenths"
)
# The published events of {cond} (a condition on `e.id`), as MATCHING_SQL counts them.
TALLY_SQL = """{prefix}
INSERT INTO events_eventtally ({columns})
SELECT m.id, m.start_date, m.period_end, m.date_precision, m.kind, m.mode, m.status,
    m.cameo_code, m.low, m.best, m.high, m.lower_bound = 1,
    CAST(ROUND({goldstein} * 10) AS integer)
FROM m"""
# Sides no country keys: the actors in that role, or none (0); and none for `country`.
TALLY_KEYS_SQL = """
INSERT INTO events_tallykey (event_id, side, actor_id)
SELECT DISTINCT t.event_id, '{side}', COALESCE(p.actor_id, 0)
FROM events_eventtally t
LEFT JOIN events_participation p ON p.event_id = t.event_id AND p.role = '{role}'
WHERE {cond} AND NOT EXISTS (
    SELECT 1 FROM events_countryinvolvement v WHERE v.event_id = t.event_id {flag}
)"""
TALLY_PARTS_SQL = """
INSERT INTO events_tallypart (part_id, parent_id)
SELECT t.event_id, l.to_event_id FROM events_eventtally t
JOIN events_eventlink l ON l.from_event_id = t.event_id AND l.kind = %s
WHERE {cond}"""

# Each tally's keys for the side grains: its countries, else TallyKey's actors (or none).
SIDE_SOURCES = {
    "i": "events_countryinvolvement k ON k.event_id = t.event_id AND k.as_initiator",
    "t": "events_countryinvolvement k ON k.event_id = t.event_id AND k.as_target",
    "c": "events_countryinvolvement k ON k.event_id = t.event_id",
    "keys": "events_tallykey k ON k.event_id = t.event_id",
}
CELL_KEY = (
    "grain, country_id, actor_id, period_start, period_end, date_precision, kind, mode, "
    "status, cameo_code"
)
CELL_MEASURES = (
    "events",
    "low_n",
    "low_sum",
    "best_n",
    "best_sum",
    "high_n",
    "high_sum",
    "high_missing",
    "lower_bound_n",
    "goldstein_n",
    "goldstein_tenths",
)
_TALLY_MEASURES = """COUNT(*),
    SUM(CASE WHEN t.low IS NULL THEN 0 ELSE 1 END), SUM(COALESCE(t.low, 0)),
    SUM(CASE WHEN t.best IS NULL THEN 0 ELSE 1 END), SUM(COALESCE(t.best, 0)),
    SUM(CASE WHEN t.high IS NULL THEN 0 ELSE 1 END), SUM(COALESCE(t.high, 0)),
    SUM(CASE WHEN t.best IS NOT NULL AND t.high IS NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN t.best IS NOT NULL AND t.lower_bound THEN 1 ELSE 0 END),
    SUM(CASE WHEN t.goldstein_tenths IS NULL THEN 0 ELSE 1 END),
    SUM(COALESCE(t.goldstein_tenths, 0))"""
TRUNC_SQL = {
    "postgresql": {
        "month": "CAST(date_trunc('month', {}) AS date)",
        "year": "CAST(date_trunc('year', {}) AS date)",
        "week": "CAST(date_trunc('week', {}) AS date)",
        "none": "DATE '0001-01-01'",
    },
    "sqlite": {
        "month": "date({}, 'start of month')",
        "year": "date({}, 'start of year')",
        # The Monday of the week (ISO weeks start on Monday).
        "week": "date({}, '-6 days', 'weekday 1')",
        "none": "'0001-01-01'",
    },
}
# Cells by grain: (the key's SELECT list, the FROM clause); the side grains from each source.
_SIDE_CELL = (
    "{grain}, {country}, {actor}, {year_start}, {year_end}, t.date_precision, t.kind, '', '', ''"
)
_CELL_SOURCES = {
    "d": (
        "'d', 0, 0, t.start_date, t.period_end, t.date_precision, t.kind, t.mode, t.status, "
        "t.cameo_code",
        "events_eventtally t",
    ),
    "m": (
        "'m', 0, 0, {month_start}, {month_end}, t.date_precision, t.kind, t.mode, t.status, "
        "t.cameo_code",
        "events_eventtally t",
    ),
    "w": (
        "'w', 0, 0, {week_start}, {week_end}, t.date_precision, t.kind, '', '', ''",
        "events_eventtally t",
    ),
    "M": (
        "'M', 0, 0, {month_start}, {month_end}, t.date_precision, t.kind, '', '', ''",
        "events_eventtally t",
    ),
    # Kind and status over all time: the status counts beside the listing's filters.
    "S": (
        "'S', 0, 0, {no_date}, {no_date}, '', t.kind, '', t.status, ''",
        "events_eventtally t",
    ),
    **{
        side: (
            _SIDE_CELL.format(
                grain=f"'{side}'",
                country="k.country_id",
                actor="0",
                year_start="{year_start}",
                year_end="{year_end}",
            ),
            f"events_eventtally t JOIN {SIDE_SOURCES[side]}",
        )
        for side in ("i", "t", "c")
    },
    "keys": (
        _SIDE_CELL.format(
            grain="k.side",
            country="0",
            actor="k.actor_id",
            year_start="{year_start}",
            year_end="{year_end}",
        ),
        f"events_eventtally t JOIN {SIDE_SOURCES['keys']}",
    ),
    # The same by kind alone (upper-case grains), for the sides over all time.
    **{
        f"{side}*": (
            _SIDE_CELL.format(
                grain=f"'{side.upper()}'" if side != "keys" else "UPPER(k.side)",
                country="k.country_id" if side != "keys" else "0",
                actor="0" if side != "keys" else "k.actor_id",
                year_start="{no_date}",
                year_end="{no_date}",
            ).replace("t.date_precision", "''"),
            f"events_eventtally t JOIN {SIDE_SOURCES[side]}",
        )
        for side in ("i", "t", "c", "keys")
    },
}
GRAINS = tuple(_CELL_SOURCES)
# Rows go in key order: two transactions changing the same cells lock them in the same order,
# so neither waits on the other in a cycle (within a statement: a few events' change is one).
CELL_CHANGE_SQL = """
WITH u ({key}, low, best, high, lower_bound, goldstein_tenths) AS (
    {rows}
)
INSERT INTO events_aggregatecell ({key}, {measures})
SELECT {key}, {sign}
FROM u t WHERE 1 = 1
GROUP BY {key}
ORDER BY {key}
ON CONFLICT ({key}) DO UPDATE SET {increments}"""
CELL_ROWS_SQL = (
    "SELECT {select}, t.low, t.best, t.high, t.lower_bound, t.goldstein_tenths "
    "FROM {source} WHERE {cond}"
)


def _cell_change_sql(vendor, grains, sign):
    """SQL adding (sign 1) or taking out (-1) the tallies of {cond} to the cells of `grains`,
    in one statement; {cond} appears once per grain."""
    trunc = TRUNC_SQL[vendor]
    dates = {
        "month_start": trunc["month"].format("t.start_date"),
        "month_end": trunc["month"].format("t.period_end"),
        "year_start": trunc["year"].format("t.start_date"),
        "year_end": trunc["year"].format("t.period_end"),
        "week_start": trunc["week"].format("t.start_date"),
        "week_end": trunc["week"].format("t.period_end"),
        "no_date": trunc["none"],
    }
    rows = " UNION ALL ".join(
        CELL_ROWS_SQL.format(
            select=_CELL_SOURCES[grain][0].format(**dates),
            source=_CELL_SOURCES[grain][1],
            cond="{cond}",
        )
        for grain in grains
    )
    measures = _TALLY_MEASURES if sign > 0 else _TALLY_MEASURES.replace("SUM(", "-SUM(")
    measures = measures.replace("COUNT(*)", "COUNT(*)" if sign > 0 else "-COUNT(*)")
    return CELL_CHANGE_SQL.format(
        key=CELL_KEY,
        rows=rows,
        measures=", ".join(CELL_MEASURES),
        sign=measures,
        increments=", ".join(
            f"{name} = events_aggregatecell.{name} + excluded.{name}" for name in CELL_MEASURES
        ),
    )


def _change_cells(cursor, vendor, condition, params, sign, *, bulk, delta=None):
    """Add (1) or take out (-1) the tallies `condition` selects (on `{col}`): all grains in one
    statement for a few events; grain by grain for a `bulk` write (many events, where one
    statement would aggregate every cell at once). With `delta` (a temporary table of cells:
    see refresh), the change is written there, to be applied once."""
    tallied = condition.format(col="t.event_id")
    for grains in [(grain,) for grain in GRAINS] if bulk else [GRAINS]:
        sql = _cell_change_sql(vendor, grains, sign).format(cond=tallied)
        if delta:
            sql = sql.replace("INSERT INTO events_aggregatecell", f"INSERT INTO {delta}")
            sql = sql[: sql.index("\nORDER BY")]
        cursor.execute(sql, list(params) * len(grains))


# The changes of many events' cells, summed per cell before they are applied: an event taken
# out and put in again unchanged (an import's edit of its title) changes no cell, and a cell
# many events share is written once, not once per batch of them.
DELTA_TABLE = "rollup_cell_delta"
APPLY_DELTA_SQL = """
INSERT INTO events_aggregatecell ({key}, {measures})
SELECT {key}, {sums} FROM {delta} t WHERE 1 = 1
GROUP BY {key}
HAVING {nonzero}
ORDER BY {key}
ON CONFLICT ({key}) DO UPDATE SET {increments}"""


def _start_delta(cursor):
    cursor.execute(f"DROP TABLE IF EXISTS {DELTA_TABLE}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {DELTA_TABLE} AS SELECT {CELL_KEY}, "
        f"{', '.join(CELL_MEASURES)} FROM events_aggregatecell LIMIT 0"
    )
    return DELTA_TABLE


def _apply_delta(cursor, delta):
    cursor.execute(
        APPLY_DELTA_SQL.format(
            key=CELL_KEY,
            measures=", ".join(CELL_MEASURES),
            sums=", ".join(f"SUM({name})" for name in CELL_MEASURES),
            delta=delta,
            nonzero=" OR ".join(f"SUM({name}) <> 0" for name in CELL_MEASURES),
            increments=", ".join(
                f"{name} = events_aggregatecell.{name} + excluded.{name}" for name in CELL_MEASURES
            ),
        )
    )
    cursor.execute("DELETE FROM events_aggregatecell WHERE events = 0")
    cursor.execute(f"DROP TABLE {delta}")


def _batches(event_ids=None, id_range=None):
    """(condition on `{col}`, parameters) selecting the ids: one range, or lists of 500."""
    if id_range is not None:
        return [("{col} BETWEEN %s AND %s", list(id_range))]
    ids = sorted(set(event_ids))
    return [
        ("{col} IN (" + ", ".join(["%s"] * len(chunk)) + ")", chunk)
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500))
    ]


def take_out(cursor, vendor, condition, params, *, bulk=False, delta=None):
    """Take the tallies of the events `condition` selects (on `{col}`) out of the cells, with
    the country involvements they were counted with (call it before those change). Returns
    the ids of the events they were tallied as parts of."""
    _change_cells(cursor, vendor, condition, params, -1, bulk=bulk, delta=delta)
    if not delta:
        cursor.execute("DELETE FROM events_aggregatecell WHERE events = 0")
    cursor.execute(
        "SELECT DISTINCT parent_id FROM events_tallypart WHERE " + condition.format(col="part_id"),
        params,
    )
    parents = {row[0] for row in cursor.fetchall()}
    for table, column in (
        ("events_tallypart", "part_id"),
        ("events_tallykey", "event_id"),
        ("events_eventtally", "event_id"),
    ):
        cursor.execute(f"DELETE FROM {table} WHERE " + condition.format(col=column), params)
    return parents


def put_in(cursor, vendor, condition, params, *, bulk=False, delta=None):
    """Tally the published events `condition` selects (on `{col}`), with their country
    involvements as they now are, and add them to the cells. Returns the ids of the events
    they are parts of."""
    published = f"'{ReviewState.PUBLISHED.value}'"
    columns = ", ".join(f'"{column}"' for column in MATCHING_COLUMNS)
    matching = (
        f"SELECT {columns} FROM events_event WHERE review_state = {published} AND "
        + condition.format(col="id")
    )
    prefix = matching_sql(
        matching,
        part_visible=f"AND p.review_state = {published}",
        part_matching="AND " + condition.format(col="l.to_event_id"),
    )
    cursor.execute(
        TALLY_SQL.format(
            prefix=prefix, columns=TALLY_COLUMNS, goldstein=goldstein_sql("m.cameo_code")
        ),
        [LinkKind.PART_OF.value, *params, *params],
    )
    if bulk and vendor == "postgresql":
        # Many rows just written: without statistics the planner would join the tallies and
        # involvements by nested loops, millions of index probes.
        cursor.execute("ANALYZE events_eventtally, events_countryinvolvement")
    tallied = condition.format(col="t.event_id")
    for side, role, flag in (
        ("i", "initiator", "AND v.as_initiator"),
        ("t", "target", "AND v.as_target"),
        ("c", "", ""),
    ):
        cursor.execute(TALLY_KEYS_SQL.format(side=side, role=role, flag=flag, cond=tallied), params)
    cursor.execute(TALLY_PARTS_SQL.format(cond=tallied), [LinkKind.PART_OF.value, *params])
    _change_cells(cursor, vendor, condition, params, 1, bulk=bulk, delta=delta)
    cursor.execute(
        "SELECT DISTINCT parent_id FROM events_tallypart WHERE " + condition.format(col="part_id"),
        params,
    )
    return {row[0] for row in cursor.fetchall()}


# Sent by every refresh(): the bulk paths (the import, the synthetic generator) send no save
# signals, but all of them tally through refresh(). The response cache listens
# (events/response_cache.py).
tallied = Signal()


def refresh(event_ids=None, *, id_range=None, using="default", change=None):
    """Tally again the events of `event_ids` (or of ids in `id_range`), and the events they
    are or were parts of. `change(cursor, condition, params)`, if given, runs between taking
    the old tallies out and putting the new ones in: refresh_involvements() derives the
    involvements there."""
    tallied.send(sender=refresh, using=using)
    connection = connections[using]
    vendor = vendor_of(using)
    parents = set()
    batches = _batches(event_ids, id_range)
    with connection.cursor() as cursor:
        # Many events: the cells' changes are summed first, then applied once.
        many = id_range is not None or len(batches) > 1
        delta = _start_delta(cursor) if many else None
        for condition, params in batches:
            bulk = id_range is not None
            parents |= take_out(cursor, vendor, condition, params, bulk=bulk, delta=delta)
            if change is not None:
                change(cursor, condition, params)
            parents |= put_in(cursor, vendor, condition, params, bulk=bulk, delta=delta)
        if id_range is not None:
            parents = {i for i in parents if not id_range[0] <= i <= id_range[1]}
        else:
            parents -= set(event_ids)
        for condition, params in _batches(parents):
            take_out(cursor, vendor, condition, params, delta=delta)
            put_in(cursor, vendor, condition, params, delta=delta)
        if delta:
            _apply_delta(cursor, delta)


def tally_new(condition, params, using="default"):
    """Put the tallies of events just written in bulk, which have none yet and are parts of
    nothing yet (the import's new events: their links come after), into the cells. The
    `condition` on `{col}` selects exactly them."""
    tallied.send(sender=tally_new, using=using)
    with connections[using].cursor() as cursor:
        put_in(cursor, vendor_of(using), condition, params, bulk=True)


def forget(event_id, using="default"):
    """Take a deleted event's tally out (before its involvements go with it). Returns the
    events it was tallied as part of, to tally again once it is gone."""
    with connections[using].cursor() as cursor:
        parents = take_out(cursor, vendor_of(using), "{col} = %s", [event_id])
        cursor.execute("DELETE FROM events_tallypart WHERE parent_id = %s", [event_id])
    return parents


def rebuild(using="default"):
    """Make every tally and cell again from the events (the migration that adds them; the
    recomputation the tests hold the kept-in-step cells to)."""
    with connections[using].cursor() as cursor:
        for table in ("events_aggregatecell", "events_tallypart", "events_tallykey"):
            cursor.execute(f"DELETE FROM {table}")
        cursor.execute("DELETE FROM events_eventtally")
        cursor.execute("SELECT MIN(id), MAX(id) FROM events_event")
        first, last = cursor.fetchone()
        if first is not None:
            put_in(cursor, vendor_of(using), "{col} BETWEEN %s AND %s", [first, last], bulk=True)


# --- Reading the cells --------------------------------------------------------------------

_ONE_DAY = datetime.timedelta(days=1)
SIDES = {"initiator": "i", "target": "t", "country": "c"}
# Filters the cells answer; the others (q, actor, source, linked_to, plover) need the events.
CELL_FILTERS = {"kind", "status", "cameo", "date_after", "date_before", *SIDES}
IGNORED_FILTERS = {"ordering"}


def plan(dimensions, filters):
    """The grain whose cells answer `dimensions` under `filters` (the cleaned filter values),
    with the side to group by and the side filtered on; None when only the events can.

    Grains `d` and `m` hold every period, kind, mode, status and CAMEO code; `m` answers
    date filters on whole months (from the 1st, to a month's last day). Grain `w` holds
    weeks and kinds only: the week groups with kind filters and dates on whole weeks; `M`
    months and kinds only, for year, month and kind groups with those filters. The
    side grains hold a country's (or actor's) events by year and kind (`i`, `t`, `c`), or by
    kind alone (`I`, `T`, `C`): they answer one side, to group by or to filter on, with the
    year and kind groups and filters, and dates on whole years. Grain `S` (kind and status,
    no dates) answers kind and status groups and filters over all time.
    """
    given = {name for name, value in filters.items() if value not in (None, "", [], ())}
    given -= IGNORED_FILTERS
    if given - CELL_FILTERS:
        return None
    after, before = filters.get("date_after"), filters.get("date_before")
    side_filters = [name for name in SIDES if name in given]
    side_groups = [name for name in dimensions if name in SIDES]
    if "dyad" in dimensions or "actor" in dimensions:
        return None
    if side_filters or side_groups:
        if len(side_filters) + len(side_groups) > 1:
            return None
        if {"status", "cameo"} & given or set(dimensions) - {"year", "kind", *SIDES}:
            return None
        if (after and (after.month, after.day) != (1, 1)) or (
            before and (before.month, before.day) != (12, 31)
        ):
            return None
        side = (side_filters or side_groups)[0]
        grain = SIDES[side] if after or before or "year" in dimensions else SIDES[side].upper()
        return grain, bool(side_groups), filters.get(side)
    if not after and not before and set(dimensions) <= {"kind", "status"} and "cameo" not in given:
        return "S", False, None
    whole_months = (not after or after.day == 1) and (not before or (before + _ONE_DAY).day == 1)
    whole_weeks = (not after or after.weekday() == 0) and (not before or before.weekday() == 6)
    if (
        "week" in dimensions
        and whole_weeks
        and not {"status", "cameo"} & given
        and set(dimensions) <= {"week", "kind"}
    ):
        return "w", False, None
    if {"day", "week"} & set(dimensions) or not whole_months:
        return "d", False, None
    if not {"status", "cameo"} & given and set(dimensions) <= {"year", "month", "kind"}:
        return "M", False, None
    return "m", False, None


_SUMS = ", ".join(f"SUM(c.{name})" for name in CELL_MEASURES)
_SIDE_LABEL = (
    "CASE WHEN g.country_id <> 0 THEN k.code WHEN g.actor_id <> 0 THEN 'actor:' || a.slug END"
)


def _in(column, values):
    return f"{column} IN (" + ", ".join(["%s"] * len(values)) + ")"


def _filter_conditions(filters, alias, *, start):
    """Conditions on rows `alias` (cells, tallies, involvements) for the filters on an
    event's own columns, with `start` the column of the (period) start, and parameters."""
    conditions, params = [], []
    if filters.get("kind"):
        conditions.append(_in(f"{alias}.kind", filters["kind"]))
        params += list(filters["kind"])
    if filters.get("status"):
        conditions.append(f"{alias}.status = %s")
        params.append(filters["status"])
    if filters.get("cameo"):
        codes = cameo_codes_under(filters["cameo"])
        conditions.append(_in(f"{alias}.cameo_code", codes))
        params += codes
    if filters.get("date_after"):
        conditions.append(f"{alias}.period_end >= %s")
        params.append(filters["date_after"])
    if filters.get("date_before"):
        conditions.append(f"{alias}.{start} <= %s")
        params.append(filters["date_before"])
    return conditions, params


def _where(grain, filters, side_value):
    """The conditions on cells `c` of `grain` for `filters`, and their parameters."""
    conditions, params = ["c.grain = %s"], [grain]
    if side_value is not None:
        conditions.append("c.country_id = %s AND c.actor_id = 0")
        params.append(side_value.pk)
    elif grain in ("d", "m", "w", "M", "S"):
        conditions.append("c.country_id = 0 AND c.actor_id = 0")
    more, more_params = _filter_conditions(filters, "c", start="period_start")
    conditions += more
    params += more_params
    return conditions, params


def tallied_where(filters):
    """A condition on tallies `t` selecting the events `filters` select, and its parameters;
    None when a filter needs the events (text, actor, source, link, PLOVER)."""
    given = {name for name, value in filters.items() if value not in (None, "", [], ())}
    if given - IGNORED_FILTERS - CELL_FILTERS:
        return None
    conditions, params = _filter_conditions(filters, "t", start="start_date")
    # A country's events through its involvement rows, which copy the event's kind and start
    # date: their indexes (country, kind, start date) then find only the events asked for.
    narrowing, narrowing_params = _filter_conditions(
        {"kind": filters.get("kind"), "date_before": filters.get("date_before")},
        "v",
        start="start_date",
    )
    narrowing = "".join(f" AND {condition}" for condition in narrowing)
    for side, flag in (
        ("initiator", "AND v.as_initiator"),
        ("target", "AND v.as_target"),
        ("country", ""),
    ):
        if filters.get(side):
            conditions.append(
                "t.event_id IN (SELECT v.event_id FROM events_countryinvolvement v "
                f"WHERE v.country_id = %s {flag}{narrowing})"
            )
            params += [filters[side].pk, *narrowing_params]
    return " AND ".join(conditions), params


def after_or_before(filters):
    return bool(filters.get("date_after") or filters.get("date_before"))


def measures(sums):
    """The aggregates' measures (in aggregates.MEASURE_NAMES order) from summed cells."""
    # Whole numbers: PostgreSQL sums bigints as numeric (Decimal), which JSON would write as 25.0.
    (events, low_n, low, best_n, best, high_n, high, high_missing, lower_bound_n, g_n, g) = (
        int(value or 0) for value in sums
    )
    return (
        events,
        best if best_n else None,
        low if low_n else None,
        None if high_missing else high if high_n else None,
        high_missing,
        1 if lower_bound_n else 0,
        g / 10 if g_n else None,
        g / (10 * g_n) if g_n else None,
    )


def answer(dimensions, filters, coarse, *, using="default", limit):
    """The groups (key values, then measures) and the total (measures, then how many are too
    coarse for the period) of published events, read from the cells; None when no grain
    answers `dimensions` and `filters` (see `plan`)."""
    chosen = plan(dimensions, filters)
    if chosen is None:
        return None
    grain, grouped_by_side, side_value = chosen
    vendor = vendor_of(using)
    conditions, params = _where(grain, filters, side_value)
    too_coarse = ", ".join(f"'{precision}'" for precision in coarse) or "''"
    if coarse:
        conditions.append(f"c.date_precision NOT IN ({too_coarse})")
    keys = []
    for name in dimensions:
        if name in DATE_SQL[vendor]:
            keys.append(DATE_SQL[vendor][name].format(a="c", date="period_start"))
        elif name in SCALAR_SQL:
            keys.append(SCALAR_SQL[name].format(a="c"))
    where = " AND ".join(conditions)
    if grouped_by_side:
        # Sum per country (or actor) first, then name them.
        inner_keys = [f"{key} AS s{index}" for index, key in enumerate(keys)]
        named_sums = [f"SUM(c.{name}) AS {name}" for name in CELL_MEASURES]
        inner = (
            f"SELECT c.country_id, c.actor_id, {', '.join(inner_keys + named_sums)} "
            f"FROM events_aggregatecell c WHERE {where} GROUP BY c.country_id, c.actor_id"
            + "".join(f", s{index}" for index in range(len(keys)))
        )
        labels, position = [], 0
        for name in dimensions:
            if name in SIDES:
                labels.append(f"{_SIDE_LABEL} AS g{len(labels)}")
            else:
                labels.append(f"g.s{position} AS g{len(labels)}")
                position += 1
        order = ", ".join(f"g{index}" for index in range(len(labels)))
        sums = ", ".join(f"g.{name}" for name in CELL_MEASURES)
        sql = (
            f"SELECT {', '.join(labels)}, {sums} FROM ({inner}) g "
            "LEFT JOIN events_country k ON k.id = g.country_id "
            "LEFT JOIN events_actor a ON a.id = g.actor_id "
            f"ORDER BY {order} LIMIT {limit}"
        )
        n_keys = len(labels)
    else:
        labels = [f"{key} AS g{index}" for index, key in enumerate(keys)]
        order = ", ".join(f"g{index}" for index in range(len(keys)))
        sql = (
            f"SELECT {', '.join(labels + [_SUMS])} FROM events_aggregatecell c WHERE {where}"
            + (f" GROUP BY {order} ORDER BY {order}" if keys else "")
            + f" LIMIT {limit}"
        )
        n_keys = len(keys)
    # The total counts each event once: a side grain's cells only when one side is filtered;
    # grouped by a side, the smallest grain that holds the filters: months for dates (whole
    # years), else kind and status alone.
    total_grain = grain if not grouped_by_side else "M" if after_or_before(filters) else "S"
    total_conditions, total_params = _where(total_grain, filters, side_value)
    # Too coarse only for a period: the grains without dates keep no precision ('').
    coarse_sum = (
        f"SUM(CASE WHEN c.date_precision IN ({too_coarse}) THEN c.events ELSE 0 END)"
        if coarse
        else "0"
    )
    total_sql = (
        f"SELECT {_SUMS}, {coarse_sum} "
        f"FROM events_aggregatecell c WHERE {' AND '.join(total_conditions)}"
    )
    # One statement: the groups numbered in key order, then the total.
    columns = [f"x.g{index}" for index in range(n_keys)]
    number = f"ROW_NUMBER() OVER (ORDER BY {', '.join(columns)})" if columns else "1"
    nulls = "".join("NULL, " for _ in range(n_keys))
    statement = (
        f"SELECT 0, {number}, x.*, 0 FROM ({sql}) x "
        f"UNION ALL SELECT 1, 0, {nulls}{total_sql.removeprefix('SELECT ')} ORDER BY 1, 2"
    )
    with connections[using].cursor() as cursor:
        cursor.execute(statement, params + total_params)
        *rows, total_row = cursor.fetchall()
    *total, coarse_count = total_row[2 + n_keys :]
    groups = [tuple(row[2 : 2 + n_keys]) + measures(row[2 + n_keys : -1]) for row in rows]
    return groups, measures(total), coarse_count or 0
