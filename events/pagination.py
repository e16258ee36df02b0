"""Paging for the API: a keyset cursor for events, page numbers for the small lists.

The events list will hold millions of rows, so it never counts them and never skips rows with
OFFSET: a cursor carries the sort key of the row it stops at (`start_date, id` or `title, id`,
the orderings of `EVENT_ORDERINGS`, each served by an index) and the next page is a range
query from there.
"""

import base64
import binascii
import datetime
import json

from rest_framework import pagination, serializers
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from .filters import DEFAULT_EVENT_ORDERING, EVENT_ORDERINGS

MAX_PAGE_SIZE = 500


def read_page_size(request, default, cap=MAX_PAGE_SIZE):
    """`page_size` from the query string: a whole number from 1 to the cap, else a 400."""
    raw = request.query_params.get("page_size")
    if raw in (None, ""):
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise serializers.ValidationError(
            {"page_size": [f"A whole number from 1 to {cap}, not {raw!r}."]}
        )
    if int(raw) > cap:
        raise serializers.ValidationError(
            {"page_size": [f"At most {cap} per page (the cap); {raw} asked."]}
        )
    return int(raw)


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
        fields = EVENT_ORDERINGS[self.ordering_key]
        position, backwards = self.decode_cursor(request)

        order = [self.flip(field) for field in fields] if backwards else list(fields)
        if position is not None:
            queryset = queryset.filter(self.beyond(order, position))
        read = getattr(view, "read_rows", list)
        rows = read(queryset.order_by(*order)[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
            self.has_previous, self.has_next = more, True
        else:
            self.has_previous, self.has_next = position is not None, more
        self.rows, self.fields = rows, fields
        return rows

    # -- keyset -------------------------------------------------------------------------

    @staticmethod
    def flip(field):
        return field[1:] if field.startswith("-") else f"-{field}"

    @staticmethod
    def beyond(order, position):
        """Rows after `position` in `order`: (a, id) > (va, vid) spelt for any database."""
        from django.db.models import Q

        (first, second), (value, last_id) = order, position
        name, descending = first.lstrip("-"), first.startswith("-")
        tie, tie_descending = second.lstrip("-"), second.startswith("-")
        op, tie_op = ("lt" if descending else "gt"), ("lt" if tie_descending else "gt")
        # The redundant `a <= va` bounds the index scan: PostgreSQL cannot start an index range
        # from the OR alone, and would walk every row before the cursor (13 s, 4M rows deep).
        return Q(**{f"{name}__{op}e": value}) & (
            Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"{tie}__{tie_op}": last_id})
        )

    def position_of(self, row):
        """The cursor position of an event row (`representation.event_rows`: a dict)."""
        # The date orderings' keys are the event's start date (and id) under another name.
        name = self.fields[0].lstrip("-")
        value = row["start_date"] if name == "date_key" else row[name]
        return [value.isoformat() if isinstance(value, datetime.date) else value, row["id"]]

    # -- cursor encoding ----------------------------------------------------------------

    def encode_cursor(self, position, backwards):
        payload = {"o": self.ordering_key, "p": position, "b": backwards}
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode_cursor(self, request):
        """(position, backwards) from `cursor`, or (None, False) on the first page."""
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return None, False
        invalid = serializers.ValidationError(
            {"cursor": ["Invalid cursor: use the next and previous links as given."]}
        )
        try:
            payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            ordering, (value, last_id), backwards = payload["o"], payload["p"], payload["b"]
        except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
            raise invalid from None
        if not isinstance(payload, dict) or not isinstance(last_id, int) or last_id < 0:
            raise invalid
        if not isinstance(backwards, bool) or not isinstance(value, str) or "\x00" in value:
            raise invalid
        if ordering != self.ordering_key:
            raise serializers.ValidationError(
                {"cursor": [f"This cursor pages ordering={ordering}, not {self.ordering_key}."]}
            )
        if EVENT_ORDERINGS[ordering][0].lstrip("-") == "date_key":
            try:
                value = datetime.date.fromisoformat(value)
            except ValueError:
                raise invalid from None
        return (value, min(last_id, 2**63 - 1)), backwards

    # -- response -----------------------------------------------------------------------

    def link(self, position, backwards):
        url = self.request.build_absolute_uri()
        if position is None:
            return remove_query_param(url, self.cursor_query_param)
        return replace_query_param(
            url, self.cursor_query_param, self.encode_cursor(position, backwards)
        )

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
