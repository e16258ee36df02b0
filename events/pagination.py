"""Keyset ("cursor") pages of events, for the API and the HTML listing alike, and page numbers
for the API's small lists.

The events list will hold millions of rows, so it never counts them and never skips rows with
OFFSET: a cursor carries the sort key of the row a page stops at (`start_date, id` or `title, id`,
the orderings of `EVENT_ORDERINGS`, each served by an index) and the next page is a range
query from there. The API and the pages share one cursor format and one page walk.
"""

import base64
import binascii
import datetime
import json
import re

from django.db.models import Q
from rest_framework import pagination, serializers
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from .filters import DEFAULT_EVENT_ORDERING, EVENT_ORDERINGS, whole_number

MAX_PAGE_SIZE = 500
INVALID_CURSOR = "Invalid cursor: use the next and previous links as given."


def read_page_size(request, default, cap=MAX_PAGE_SIZE):
    """`page_size` from the query string: a whole number from 1 to the cap, else a 400."""
    raw = request.query_params.get("page_size")
    if raw in (None, ""):
        return default
    size = whole_number(raw)
    if size is None or size < 1:
        raise serializers.ValidationError(
            {"page_size": [f"A whole number from 1 to {cap}, not {raw!r}."]}
        )
    if size > cap:
        raise serializers.ValidationError(
            {"page_size": [f"At most {cap} per page (the cap); {raw} asked."]}
        )
    return size


# -- The cursor --------------------------------------------------------------------------


class CursorError(ValueError):
    """A `cursor` that no link gave for the ordering in force; the message says why."""


def position_field(ordering):
    """The event field whose value a cursor in `ordering` holds, beside the event's id."""
    # The date orderings' key, `date_key`, is the event's start date under another name.
    return "title" if EVENT_ORDERINGS[ordering][0] == "title" else "start_date"


def encode_cursor(ordering, position, backwards):
    """The cursor of the page after `position` (a row's `position_field` value and id), or of
    the page before it when `backwards`."""
    value, pk = position
    if isinstance(value, datetime.date):
        value = value.isoformat()
    raw = json.dumps({"o": ordering, "p": [value, pk], "b": backwards}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# What no database compares in text: PostgreSQL refuses a NUL, and a lone surrogate (JSON's
# "\ud800") has no UTF-8 for either database.
UNCOMPARABLE = re.compile("[\x00\ud800-\udfff]")


def decode_cursor(cursor, ordering):
    """(position, backwards) from a cursor `encode_cursor` made for `ordering`, else
    CursorError: the cursor arrives from the query string, so anything may be in it."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        made_for, (value, pk), backwards = payload["o"], payload["p"], payload["b"]
    # RecursionError: JSON nested a thousand deep, in a cursor of 1.3 kB.
    except (binascii.Error, ValueError, TypeError, KeyError, RecursionError):
        raise CursorError(INVALID_CURSOR) from None
    well_formed = (
        isinstance(made_for, str)
        and made_for in EVENT_ORDERINGS
        and isinstance(backwards, bool)
        and isinstance(value, str)
        and not UNCOMPARABLE.search(value)
        and type(pk) is int  # not a bool
        and pk >= 0
    )
    if not well_formed:
        raise CursorError(INVALID_CURSOR)
    if made_for != ordering:
        raise CursorError(f"This cursor pages ordering={made_for}, not {ordering}.")
    if position_field(ordering) == "start_date":
        try:
            value = datetime.date.fromisoformat(value)
        except ValueError:
            raise CursorError(INVALID_CURSOR) from None
    # Past the largest id there is no row; a larger number would overflow the database's.
    return (value, min(pk, 2**63 - 1)), backwards


# -- The page walk -----------------------------------------------------------------------


def flip(field):
    return field[1:] if field.startswith("-") else f"-{field}"


def beyond(order, position):
    """Rows after `position` in `order`: (a, id) > (va, vid) spelt for any database."""
    (first, second), (value, last_id) = order, position
    name, descending = first.lstrip("-"), first.startswith("-")
    tie, tie_descending = second.lstrip("-"), second.startswith("-")
    op, tie_op = ("lt" if descending else "gt"), ("lt" if tie_descending else "gt")
    # The redundant `a <= va` bounds the index scan: PostgreSQL cannot start an index range
    # from the OR alone, and would walk every row before the cursor (13 s, 4M rows deep).
    return Q(**{f"{name}__{op}e": value}) & (
        Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"{tie}__{tie_op}": last_id})
    )


def keyset_page(queryset, ordering, cursor, size, read=list):
    """One page of `queryset` in `ordering` from `cursor` (empty: the first page), as (rows,
    whether a page comes before them, whether one comes after). CursorError for a bad cursor.

    Reads one row more than a page to know whether another follows: no COUNT, no OFFSET, so
    page 10,000 costs what page 1 costs. `read` makes the list of the sliced queryset (the API
    reads each event's related rows in the same query).
    """
    fields = EVENT_ORDERINGS[ordering]
    position, backwards = decode_cursor(cursor, ordering) if cursor else (None, False)
    order = [flip(field) for field in fields] if backwards else list(fields)
    if position is not None:
        queryset = queryset.filter(beyond(order, position))
    rows = read(queryset.order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
        return rows, more, True
    return rows, position is not None, more


# -- The API's pagination class ----------------------------------------------------------


class EventCursorPagination(pagination.BasePagination):
    """Keyset pages over the validated `ordering`, with `next` and `previous` links."""

    page_size = 50
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None):
        """The page's rows of `queryset`, a `values()` queryset of the event rows (the
        representation's own columns, which hold the order keys a cursor needs), read by the
        view's `read_rows(queryset)` if it has one (one query with the related rows)."""
        self.request = request
        size = read_page_size(request, self.page_size)
        # EventFilter has validated `ordering` already (a bad one is a 400 before we get here).
        self.ordering_key = request.query_params.get("ordering") or DEFAULT_EVENT_ORDERING
        if self.ordering_key not in EVENT_ORDERINGS:
            self.ordering_key = DEFAULT_EVENT_ORDERING
        cursor = request.query_params.get(self.cursor_query_param)
        read = getattr(view, "read_rows", list)
        try:
            self.rows, self.has_previous, self.has_next = keyset_page(
                queryset, self.ordering_key, cursor, size, read
            )
        except CursorError as error:
            raise serializers.ValidationError({"cursor": [str(error)]}) from None
        return self.rows

    def position_of(self, row):
        """The cursor position of an event row (`representation.event_rows`: a dict)."""
        return row[position_field(self.ordering_key)], row["id"]

    # -- response -----------------------------------------------------------------------

    def link(self, position, backwards):
        url = self.request.build_absolute_uri()
        if position is None:
            return remove_query_param(url, self.cursor_query_param)
        cursor = encode_cursor(self.ordering_key, position, backwards)
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_next_link(self):
        if not self.has_next:
            return None
        if not self.rows:
            return self.link(None, False)
        return self.link(self.position_of(self.rows[-1]), False)

    def get_previous_link(self):
        if not self.has_previous or not self.rows:
            return None
        return self.link(self.position_of(self.rows[0]), True)

    def get_paginated_response(self, data):
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position from a `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": "page_size",
                "required": False,
                "in": "query",
                "description": f"Events per page, 1 to {MAX_PAGE_SIZE} (default "
                f"{self.page_size}); more is a 400.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        ]


class NumberPagination(pagination.PageNumberPagination):
    """Numbered pages for the small lists (actors, sources, countries)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        return read_page_size(request, self.page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == "page_size":
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}
            if parameter["name"] == "page":
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
