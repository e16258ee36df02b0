"""Monthly series read from the aggregates (events/aggregates.py), never counted again here.

As ICEWS reports its dyadic series: by month, directed (a→b and b→a apart), every month from
the first to the last present, a month with no event as a zero. An event known only to its
year belongs to no month: it counts in the totals and in `too_coarse`, never in a month.
"""

from dataclasses import dataclass, field

from .aggregates import aggregate
from .codes import QuadClass
from .models import Event, EventKind

KINDS = list(EventKind.values)
QUAD_CLASSES = [str(value) for value in QuadClass.values]
# An event with no CAMEO root has no quad class; its count goes under this key, present only
# when such an event is counted (every kind has a CAMEO code, so normally never).
NO_QUAD_CLASS = "none"
# The partners a country page shows.
PARTNERS = 5


def months_between(first, last):
    """Every month from `first` to `last` ("YYYY-MM"), both included."""
    year, month = int(first[:4]), int(first[5:7])
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@dataclass
class Monthly:
    """Events per month, zeros included, and those known only to the year (`too_coarse`)."""

    months: list
    counts: list
    total: int
    too_coarse: int


def monthly(queryset, shows_drafts, filters=None):
    """The events of `queryset` per month (one aggregate), `filters` as aggregate() takes."""
    result = aggregate(queryset, ["month"], shows_drafts, filters=filters)
    counts = {group["month"]: group["events"] for group in result.groups}
    months = months_between(min(counts), max(counts)) if counts else []
    return Monthly(
        months,
        [counts.get(month, 0) for month in months],
        result.total["events"],
        result.too_coarse,
    )


def _quad_key(value):
    return NO_QUAD_CLASS if value is None else str(value)


def _zeros(keys):
    return dict.fromkeys(keys, 0)


@dataclass
class Direction:
    """What `initiator` did to `target`: totals by kind and quad class, and per month."""

    initiator: object
    target: object
    total: dict  # the aggregate's measures (events, people expelled, Goldstein)
    too_coarse: int
    by_kind: dict
    by_quad_class: dict
    # month → {"by_kind": {kind: n}, "by_quad_class": {class: n}}, the months present only
    by_month: dict = field(default_factory=dict)

    @property
    def events(self):
        return self.total["events"]

    def monthly(self, months):
        """One row per month of `months`, zeros where nothing happened."""
        rows = []
        for month in months:
            counts = self.by_month.get(month)
            by_kind = dict(counts["by_kind"]) if counts else _zeros(KINDS)
            by_quad = dict(counts["by_quad_class"]) if counts else _zeros(QUAD_CLASSES)
            if NO_QUAD_CLASS in self.by_quad_class:
                by_quad.setdefault(NO_QUAD_CLASS, 0)
            rows.append(
                {
                    "month": month,
                    "events": sum(by_kind.values()),
                    "by_kind": by_kind,
                    "by_quad_class": by_quad,
                }
            )
        return rows


def direction(events, initiator, target, shows_drafts):
    """The events of `events` with `initiator` as an initiator country and `target` as a
    target country, as `/api/events/?initiator=…&target=…` lists them.

    Two aggregates (one query each): by kind and quad class over every event, and by month,
    kind and quad class over those dated at least to the month.
    """
    between = events.between(initiator, target)
    totals = aggregate(between, ["kind", "quad_class"], shows_drafts)
    by_kind, by_quad = _zeros(KINDS), _zeros(QUAD_CLASSES)
    for group in totals.groups:
        by_kind[group["kind"]] = by_kind.get(group["kind"], 0) + group["events"]
        quad = _quad_key(group["quad_class"])
        by_quad[quad] = by_quad.get(quad, 0) + group["events"]
    per_month = aggregate(between, ["month", "kind", "quad_class"], shows_drafts)
    by_month = {}
    for group in per_month.groups:
        counts = by_month.setdefault(
            group["month"], {"by_kind": _zeros(KINDS), "by_quad_class": _zeros(QUAD_CLASSES)}
        )
        counts["by_kind"][group["kind"]] = counts["by_kind"].get(group["kind"], 0) + group["events"]
        quad = _quad_key(group["quad_class"])
        counts["by_quad_class"][quad] = counts["by_quad_class"].get(quad, 0) + group["events"]
    return Direction(
        initiator,
        target,
        totals.total,
        per_month.too_coarse,
        by_kind,
        by_quad,
        by_month,
    )


@dataclass
class Dyad:
    """Everything between two countries, each way, over one shared span of months."""

    a: object
    b: object
    directions: list  # [a→b, b→a]
    months: list


def dyad(events, a, b, shows_drafts):
    """The dyad of countries `a` and `b` among `events` (four queries: four aggregates)."""
    directions = [direction(events, a, b, shows_drafts), direction(events, b, a, shows_drafts)]
    present = [month for d in directions for month in d.by_month]
    months = months_between(min(present), max(present)) if present else []
    return Dyad(a, b, directions, months)


def partners(country, limit=PARTNERS):
    """The countries with most published events between them and `country`, either way, from
    two aggregates (two queries): `country` as initiator by target, and as target by initiator.

    [(code, events initiated by `country` against it, events it initiated against
    `country`)], most events first, then by code. Coalitions and other actors acting for no
    country (`actor:` groups) are no partner countries.
    """
    counts = {}
    for side, other in (("initiator", "target"), ("target", "initiator")):
        # The side as a filter too, so the count reads the country's tallies off its
        # involvement index instead of checking every published event.
        matching = Event.objects.published().involving(country, **{f"as_{side}": True})
        for group in aggregate(matching, [other], False, filters={side: country}).groups:
            code = group[other]
            if code is None or code.startswith("actor:") or code == country.code:
                continue
            pair = counts.setdefault(code, [0, 0])
            pair[0 if side == "initiator" else 1] += group["events"]
    ranked = sorted(counts.items(), key=lambda item: (-sum(item[1]), item[0]))[:limit]
    return [(code, towards, from_) for code, (towards, from_) in ranked]
