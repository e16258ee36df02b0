"""The index pages: every country, actor and source, searchable, each with its count of
published events, a page at a time.

A page is one keyset ("cursor") query for its rows and one grouped query for their counts,
whatever the number of rows or events: the counts never run a query per row, and never read
drafts. The cursor carries the last row's sort key and id, so a deep page costs what the
first costs (no OFFSET, no COUNT).
"""

import base64
import binascii
import datetime
import json
from dataclasses import dataclass

from django.db.models import Count, DateField, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import render

from .filters import ActorFilter, CountryFilter, SourceFilter
from .models import (
    Actor,
    ActorKind,
    AggregateCell,
    Citation,
    Country,
    Participation,
    ReviewState,
    Source,
)
from .views import describe_fields, with_param

PAGE_SIZE = 100
# An undated source sorts as the oldest (after every dated one, newest first).
UNDATED = datetime.date(1, 1, 1)
INVALID_CURSOR = "This page link is not one of ours (or is out of date): start from the first page."


class CursorError(ValueError):
    pass


@dataclass(frozen=True)
class Ordering:
    """A sort order: (field, descending, type) triples ending with the id, which makes it
    strict; the types read a cursor's values back."""

    label: str
    keys: tuple

    def order_by(self):
        return [f"-{field}" if desc else field for field, desc, _ in self.keys]

    def position(self, row):
        return [_dump(getattr(row, field)) for field, _, _ in self.keys]

    def beyond(self, values):
        """Rows after the row at `values` in this order: (a > x) or (a = x and b > y)..."""
        condition, equal = Q(), Q()
        for (field, desc, _), value in zip(self.keys, values, strict=True):
            condition |= equal & Q(**{f"{field}__{'lt' if desc else 'gt'}": value})
            equal &= Q(**{field: value})
        return condition


def _dump(value):
    return value.isoformat() if isinstance(value, datetime.date) else value


def encode_cursor(sort, values):
    raw = json.dumps([sort, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor, sort, ordering):
    """The key values a cursor of `sort` carries, checked against the ordering's types."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise CursorError(INVALID_CURSOR) from error
    if not isinstance(data, list) or len(data) != len(ordering.keys) + 1 or data[0] != sort:
        raise CursorError(INVALID_CURSOR)
    values = []
    for value, (_, _, kind) in zip(data[1:], ordering.keys, strict=True):
        try:
            if kind is datetime.date:
                value = datetime.date.fromisoformat(value)
            elif not isinstance(value, kind) or isinstance(value, bool):
                raise TypeError
            # What the database would refuse (a 500): a NUL byte, an id beyond 64 bits.
            elif (kind is str and "\x00" in value) or (kind is int and not 0 <= value < 2**63):
                raise ValueError
        except (TypeError, ValueError) as error:
            raise CursorError(INVALID_CURSOR) from error
        values.append(value)
    return values


def index_page(request, *, filterset, orderings, labels, counts, template, context):
    """Render an index page: the filter form, the rows of one page in the order asked
    (`?sort=`), each with its count of published events (`counts(ids)`: one query), and
    the link to the next page. An invalid filter or page link is a 400 with the form."""
    params = request.GET
    sort = params.get("sort") or next(iter(orderings))
    form = filterset.form
    valid = filterset.is_valid()
    describe_fields(form, labels)
    errors = []
    if sort not in orderings:
        valid = False
        errors.append(f"Unknown sort {sort!r}; choose from: {', '.join(orderings)}.")
    context = {
        **context,
        "form": form,
        "valid": valid,
        "query": params.get("q", ""),
        "sort": sort,
        "sort_links": [
            (key, ordering.label, "?" + with_param(params, sort=key, cursor=None))
            for key, ordering in orderings.items()
        ],
    }
    if valid:
        ordering = orderings[sort]
        rows = filterset.qs.order_by(*ordering.order_by())
        if params.get("cursor"):
            try:
                values = decode_cursor(params["cursor"], sort, ordering)
            except CursorError as error:
                errors.append(str(error))
                valid = False
            else:
                rows = rows.filter(ordering.beyond(values))
    if not valid:
        context.update(
            {"valid": False, "errors": errors, "first_url": "?" + with_param(params, cursor=None)}
        )
        return render(request, template, context, status=400)

    rows = list(rows[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    found = counts([row.pk for row in rows]) if rows else {}
    for row in rows:
        row.published_events = found.get(row.pk, 0)
    context.update(
        {
            "rows": rows,
            "next_url": (
                "?" + with_param(params, cursor=encode_cursor(sort, ordering.position(rows[-1])))
                if more
                else None
            ),
            "first_url": "?" + with_param(params, cursor=None) if params.get("cursor") else None,
        }
    )
    return render(request, template, context)


def _bound(filter_class, request, queryset):
    data = request.GET.copy()
    for name in ("cursor", "sort"):
        data.pop(name, None)
    return filter_class(data, queryset=queryset, request=request)


# --- Counts: one grouped query for a page's rows --------------------------------------------


def country_counts(ids):
    """Published events involving each country: the rollup cells by country and kind (grain
    `C`, kept in step by every write, published events only), a few rows per country read off
    the cells' key index, where counting involvement rows would read every event of a large
    country."""
    rows = (
        AggregateCell.objects.filter(grain="C", country_id__in=ids)
        .values("country_id")
        .annotate(n=Sum("events"))
        .order_by()
    )
    return {row["country_id"]: row["n"] for row in rows}


def actor_counts(ids):
    """Published events each actor takes part in (in any role), from the participations'
    (actor, …) index."""
    rows = (
        Participation.objects.filter(actor_id__in=ids, event__review_state=ReviewState.PUBLISHED)
        .values("actor_id")
        .annotate(n=Count("event_id", distinct=True))
        .order_by()
    )
    return {row["actor_id"]: row["n"] for row in rows}


def source_counts(ids):
    """Published events each source evidences, from the citations' (source, event) index."""
    rows = (
        Citation.objects.filter(source_id__in=ids, event__review_state=ReviewState.PUBLISHED)
        .values("source_id")
        .annotate(n=Count("event_id", distinct=True))
        .order_by()
    )
    return {row["source_id"]: row["n"] for row in rows}


# --- Pages ----------------------------------------------------------------------------------

BY_NAME = Ordering("name", (("name", False, str), ("id", False, int)))
COUNTRY_ORDERINGS = {"name": BY_NAME}
ACTOR_ORDERINGS = {
    "kind": Ordering(
        "kind, then name", (("kind", False, str), ("name", False, str), ("id", False, int))
    ),
    "name": BY_NAME,
}
SOURCE_ORDERINGS = {
    "publisher": Ordering(
        "publisher, then newest",
        (("publisher", False, str), ("date_key", True, datetime.date), ("id", True, int)),
    ),
    "date": Ordering("newest first", (("date_key", True, datetime.date), ("id", True, int))),
}


def country_index(request):
    """Every country, by name, with how many published events involve it; `?q=` finds a
    name's words or an ISO code (JP, JPN)."""
    filterset = _bound(CountryFilter, request, Country.objects.all())
    return index_page(
        request,
        filterset=filterset,
        orderings=COUNTRY_ORDERINGS,
        labels={"q": ("Search", "Japan, JP or JPN")},
        counts=country_counts,
        template="events/country_index.html",
        context={"title": "Countries"},
    )


def actor_index(request):
    """Every actor (states, agencies, people, groups, coalitions), grouped by kind or by name,
    with how many published events each takes part in; `?q=` finds words of a name, `?kind=`
    one kind, `?country=` an actor's country."""
    filterset = _bound(ActorFilter, request, Actor.objects.select_related("country"))
    return index_page(
        request,
        filterset=filterset,
        orderings=ACTOR_ORDERINGS,
        labels={"q": ("Search", "Abe"), "country": ("Country", "JP or JPN")},
        counts=actor_counts,
        template="events/actor_index.html",
        context={
            "title": "Actors",
            "kind_links": [
                (value, label, "?" + with_param(request.GET, kind=value or None, cursor=None))
                for value, label in [("", "All kinds"), *ActorKind.choices]
            ],
        },
    )


def source_index(request):
    """Every source, by publisher (newest first within each) or by date, with how many
    published events it evidences; `?q=` finds words of a title, publisher or address."""
    queryset = Source.objects.annotate(
        date_key=Coalesce(F("published_on"), Value(UNDATED, output_field=DateField()))
    )
    filterset = _bound(SourceFilter, request, queryset)
    return index_page(
        request,
        filterset=filterset,
        orderings=SOURCE_ORDERINGS,
        labels={"q": ("Search", "Japan Times")},
        counts=source_counts,
        template="events/source_index.html",
        context={"title": "Sources"},
    )
