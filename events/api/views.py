"""The public REST API under /api/: events, actors, countries and sources.

Anyone reads, and sees published events only; curators and editors write with their model
permissions, by token (scripts) or session (the browsable API). Shapes live in
serializers.py, paging in events/pagination.py, CSV in events/api_csv.py, routes in urls.py.
"""

from urllib.parse import unquote, urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from django.db.models import Count, F, Prefetch, Q
from django.http import (
    Http404,
    HttpResponse,
    HttpResponsePermanentRedirect,
    StreamingHttpResponse,
)
from django.urls import reverse as django_reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.drainage import set_override
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, permissions, routers, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from .. import aggregates, series, writes
from ..api_csv import CSVRenderer, stream_events
from ..codes import QuadClass
from ..filters import (
    ActorFilter,
    CountryFilter,
    EventFilter,
    NaturalKeyFilter,
    SourceFilter,
    resolve_country,
)
from ..models import (
    STATE_KINDS,
    Actor,
    ActorKind,
    Citation,
    Country,
    CountryInvolvement,
    Event,
    EventAlias,
    EventKind,
    EventProposal,
    Participation,
    ProposalState,
    ReviewState,
    Source,
)
from ..pagination import EventCursorPagination, NumberPagination
from ..representation import event_rows, event_url_maker, read_rows, represent
from .serializers import (
    SOURCE_EVENTS_SHOWN,
    ActorSerializer,
    CountrySerializer,
    EventSerializer,
    ProposalSerializer,
    ProposalSummarySerializer,
    SourceSerializer,
    api_errors,
    can_see_drafts,
)

# --- Cross-cutting: throttling, permissions, schema ----------------------------------------


class ReadAnyoneWriteWithPermissions(permissions.DjangoModelPermissionsOrAnonReadOnly):
    """Anyone reads; POST needs the model's add permission and PUT/PATCH its change one."""

    def has_permission(self, request, view):
        # A read needs no permission (perms_map asks none for GET, HEAD, OPTIONS): answer
        # without building the view's queryset, which DRF does only to learn its model.
        if request.method in permissions.SAFE_METHODS:
            return True
        return super().has_permission(request, view)


# The natural-key filters take text (an ISO code, a slug, an id) and say so in the schema.
set_override(NaturalKeyFilter, "field", OpenApiTypes.STR)

_ERROR_BODY = {
    "type": "object",
    "additionalProperties": {},
    "description": "`detail`, or each field or parameter at fault with its messages.",
}
_ERRORS = {
    "400": "Bad input: the body names each parameter or field at fault.",
    "401": "Not authenticated, or an invalid token.",
    "403": "Not permitted: the model permission is missing, or the change needs an editor.",
    "404": "No such record (drafts are hidden from anonymous users), or no such page.",
    "409": "Stale write: the `version` sent (or the proposal's) is older than the stored one.",
    "412": "Stale write: `If-Match` does not match the stored version.",
    "429": "Too many anonymous requests; retry after `Retry-After` seconds.",
}


# Permissions that let an anonymous request through for reads (GET, HEAD, OPTIONS).
_ANONYMOUS_READS = (
    permissions.IsAuthenticatedOrReadOnly,
    permissions.DjangoModelPermissionsOrAnonReadOnly,
)


class ApiSchema(AutoSchema):
    """drf-spectacular's schema, with every error response an operation can give and
    authentication optional where anonymous users may call."""

    def get_auth(self):
        """Authentication is optional (an empty requirement, `{}`, among the operation's
        `security`) where every permission of the view lets an anonymous request through.
        drf-spectacular knows only AllowAny and IsAuthenticatedOrReadOnly itself, not the
        public reads of ReadAnyoneWriteWithPermissions."""
        auths = super().get_auth()
        if {} not in auths and all(
            isinstance(permission, permissions.AllowAny)
            or (
                self.method in permissions.SAFE_METHODS and isinstance(permission, _ANONYMOUS_READS)
            )
            for permission in self.view.get_permissions()
        ):
            auths.append({})
        return auths

    def error_codes(self):
        codes = ["401", "429"]
        versioned = getattr(self.view, "versioned", False)
        if self.method == "GET":
            # A list, or a view that reads query parameters (aggregates): a bad one is a 400.
            reads_parameters = self._is_list_view() or getattr(self.view, "reads_parameters", False)
            codes += ["400", "404"] if reads_parameters else ["404"]
        elif self.method == "POST":
            # A POST to a record (accepting or rejecting a proposal) may find none, or a stale one.
            codes += ["400", "403"] + ([] if self._is_create_operation() else ["404", "409"])
        elif self.method in ("PUT", "PATCH"):
            codes += ["400", "403", "404"] + (["409", "412"] if versioned else [])
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        content = responses.get("200", {}).get("content", {})
        if "text/csv" in content:
            content["text/csv"] = {"schema": {"type": "string"}}
        media_types = ["application/json"]
        if getattr(self.view, "csv_export", False) and (
            self._is_list_view() or getattr(self.view, "reads_parameters", False)
        ):
            media_types.append("text/csv")
        for code in self.error_codes():
            response = {
                "description": _ERRORS[code],
                "content": {media: {"schema": _ERROR_BODY} for media in media_types},
            }
            if code == "429":
                response["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}
                }
            responses.setdefault(code, response)
        return responses


class ApiRoot(routers.APIRootView):
    """The API's resources, its OpenAPI schema and its interactive documentation."""

    @extend_schema(
        responses=inline_serializer(
            "ApiRoot",
            {
                **{
                    name: serializers.URLField()
                    for name in (
                        "events",
                        "aggregates",
                        "actors",
                        "countries",
                        "sources",
                        "schema",
                        "docs",
                    )
                },
                "dyads": serializers.CharField(
                    help_text="A URI template (RFC 6570): put two country codes for {a} and {b}."
                ),
            },
        )
    )
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response.data["aggregates"] = reverse("api:event-aggregates", request=request)
        # A template, as GitHub's API root gives its addresses that take a parameter.
        response.data["dyads"] = unquote(
            reverse("api:dyad", kwargs={"a": "{a}", "b": "{b}"}, request=request)
        )
        response.data["schema"] = reverse("api:schema", request=request)
        response.data["docs"] = reverse("api:docs", request=request)
        return response


class WriteViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Read by anyone, created and updated with model permissions; nothing is deleted here."""

    permission_classes = [ReadAnyoneWriteWithPermissions]
    filter_backends = [DjangoFilterBackend]
    pagination_class = NumberPagination
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    # Any identifier reaches the view, so that an unknown one is the API's JSON 404.
    lookup_value_regex = "[^/]+"

    def filter_queryset(self, queryset):
        # Filters belong to lists; a detail is found by its identifier alone.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def refetched(self, instance):
        """The saved record as reads show it (with the relations the list prefetches)."""
        return self.get_queryset().get(pk=instance.pk)

    def perform_create(self, serializer):
        serializer.instance = self.refetched(serializer.save())

    def perform_update(self, serializer):
        serializer.instance = self.refetched(serializer.save())

    def finalize_response(self, request, response, *args, **kwargs):
        # A versioned record's ETag is its version: what If-Match sends back on a change.
        data = getattr(response, "data", None)
        versioned = isinstance(data, dict) and "version" in data
        if self.detail and response.status_code < 300 and versioned and "ETag" not in response:
            response["ETag"] = f'"{data["version"]}"'
        return super().finalize_response(request, response, *args, **kwargs)


class FastJSONRenderer(JSONRenderer):
    """JSON by orjson: a page of 500 events renders several times faster than with the
    standard library. Same output (compact, UTF-8); what orjson does not know (lazy translated
    messages, decimals) goes through DRF's encoder."""

    _default = JSONEncoder().default

    def render(self, data, accepted_media_type=None, renderer_context=None):
        import orjson

        if data is None:
            return b""
        indent = self.get_indent(accepted_media_type, renderer_context or {})
        # Non-string keys: errors in a nested list are keyed by the item's index.
        option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
        return orjson.dumps(data, default=self._default, option=option)


# --- Events ------------------------------------------------------------------------------


_EVENT_LIST_PARAMETERS = [
    *[
        OpenApiParameter(name, str, description=field.extra.get("help_text", ""))
        for name, field in EventFilter.base_filters.items()
        if isinstance(field, NaturalKeyFilter)
    ],
    OpenApiParameter(
        "format",
        str,
        enum=["json", "csv"],
        description="csv streams the filtered events as CSV (columns: docs/csv.md).",
    ),
]


@extend_schema_view(
    list=extend_schema(
        summary="Events, filtered, by cursor pages",
        parameters=_EVENT_LIST_PARAMETERS,
    ),
    retrieve=extend_schema(summary="One event (ETag: its version)"),
    create=extend_schema(summary="Create an event (curators, editors)"),
    update=extend_schema(
        summary="Replace an event; send `version` or If-Match",
        responses={200: EventSerializer, 202: ProposalSerializer},
    ),
    partial_update=extend_schema(
        summary="Change an event; send `version` or If-Match",
        responses={200: EventSerializer, 202: ProposalSerializer},
    ),
)
class EventViewSet(WriteViewSet):
    """Diplomatic events with participants, citations and links, in one shape.

    The list filters on kind, status, dates, countries, actors, sources, links and text, pages
    by cursor, and with `?format=csv` streams the filtered events as CSV.
    """

    serializer_class = EventSerializer
    queryset = Event.objects.all()
    lookup_field = "slug"
    filterset_class = EventFilter
    pagination_class = EventCursorPagination
    renderer_classes = [FastJSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    csv_export = True
    versioned = True

    def get_queryset(self):
        # Reads select the representation's columns (representation.event_rows); a write
        # works on an instance, and its response reads the stored rows back.
        return Event.objects.visible_to(self.request.user)

    def get_renderers(self):
        # CSV is an export of the list; a detail or a write answers in JSON.
        if getattr(self, "action", None) != "list":
            return [FastJSONRenderer(), BrowsableAPIRenderer()]
        return super().get_renderers()

    def refetched(self, event):
        # The response reads the stored rows back (EventSerializer.to_representation): the
        # writer sees what was written, whatever its review state.
        return event

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        shows_drafts = can_see_drafts(request.user)
        if request.accepted_renderer.format == "csv":
            response = StreamingHttpResponse(
                stream_events(queryset, shows_drafts), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = 'attachment; filename="events.csv"'
            return response
        # 1. the page's event rows (the filtered, keyset-bounded query), on PostgreSQL with
        # their participants, citations and links; elsewhere 2-4. those: at any page size.
        rows = self.paginate_queryset(event_rows(queryset))
        events = represent(rows, shows_drafts, event_url_maker(request), queryset.db)
        return self.get_paginated_response(events)

    def read_rows(self, queryset):
        """The page's event rows (EventCursorPagination reads them through this)."""
        return read_rows(queryset, can_see_drafts(self.request.user))

    def retrieve(self, request, *args, **kwargs):
        queryset = self.get_queryset()
        rows = self.read_rows(event_rows(queryset.filter(slug=kwargs["slug"])))
        if not rows:
            # The slug of an event merged into another one leads to the kept event.
            kept = (
                EventAlias.objects.filter(slug=kwargs["slug"], event__in=queryset)
                .values_list("event__slug", flat=True)
                .first()
            )
            if kept is None:
                raise Http404
            # DRF's reverse keeps a `?format=` the request had.
            url = reverse("api:event-detail", kwargs={"slug": kept}, request=request)
            return HttpResponsePermanentRedirect(url)
        shows_drafts = can_see_drafts(request.user)
        event = represent(rows, shows_drafts, event_url_maker(request), queryset.db)[0]
        return Response(event, headers={"ETag": f'"{event["version"]}"'})

    def update(self, request, *args, **kwargs):
        """A change, or for a curator's change to a published event a proposal (202)."""
        serializer = self.get_serializer(
            self.get_object(), data=request.data, partial=kwargs.pop("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        result = serializer.save()
        if isinstance(result, EventProposal):
            proposal = ProposalSerializer(result, context=self.get_serializer_context()).data
            return Response(proposal, status=202, headers={"Location": proposal["url"]})
        data = serializer.data
        return Response(data, headers={"ETag": f'"{data["version"]}"'})


# --- Actors, sources, countries ----------------------------------------------------------


class ActorViewSet(WriteViewSet):
    """People, states, ministries, organisations and groups of states.

    A person shows the offices held; a group of states shows its member countries.
    """

    serializer_class = ActorSerializer
    versioned = True
    lookup_field = "slug"
    filterset_class = ActorFilter
    queryset = Actor.objects.with_related().order_by("name", "id")


class SourceViewSet(WriteViewSet):
    """Documents that evidence events, each with the newest events it evidences."""

    serializer_class = SourceSerializer
    versioned = True
    filterset_class = SourceFilter
    queryset = Source.objects.all()

    def get_queryset(self):
        user = self.request.user
        events = Event.objects.visible_to(user).order_by()
        cited = Citation.objects.filter(event__in=events).select_related("event")
        shown = cited.order_by("-event__start_date", "-event_id")[:SOURCE_EVENTS_SHOWN]
        counted = (
            None
            if can_see_drafts(user)
            else Q(citations__event__review_state=ReviewState.PUBLISHED)
        )
        return (
            Source.objects.annotate(
                event_count=Count("citations__event", distinct=True, filter=counted)
            )
            .prefetch_related(Prefetch("citations", queryset=shown, to_attr="shown_citations"))
            .order_by("-published_on", "title", "id")
        )


class CountryViewSet(viewsets.ReadOnlyModelViewSet):
    """ISO countries (by alpha-2 code, any case) with their counts of events by kind and role."""

    serializer_class = CountrySerializer
    queryset = Country.objects.order_by("name", "id")
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    filter_backends = [DjangoFilterBackend]
    filterset_class = CountryFilter
    pagination_class = NumberPagination

    def get_object(self):
        self.kwargs["code"] = self.kwargs["code"].upper()
        return super().get_object()

    def get_serializer(self, *args, **kwargs):
        if args:
            countries = list(args[0]) if kwargs.get("many") else [args[0]]
            kwargs["context"] = {
                **self.get_serializer_context(),
                "event_counts": country_event_counts(
                    [country.pk for country in countries],
                    Event.objects.visible_to(self.request.user),
                ),
            }
        return super().get_serializer(*args, **kwargs)


def country_event_counts(country_ids, events):
    """{country id: {("kind", kind): n, ("role", role): n}} over `events`, in two queries.

    By kind: the events a country is involved in, as the `country` filter means it (the
    derived involvement rows), each counted once. By role: the events in which a participant
    acting for the country has that role (the involvement rule: a state or agency of it, or a
    person in an office of it at the time of the event).
    """
    counts = {pk: {} for pk in country_ids}
    if not country_ids:
        return counts
    events = events.order_by()
    kinds = (
        CountryInvolvement.objects.filter(event__in=events, country_id__in=country_ids)
        .order_by()
        .values_list("country_id", "kind")
        .annotate(n=Count("event_id"))
    )
    for country_id, kind, n in kinds:
        counts[country_id][("kind", kind)] = n
    taking_part = Participation.objects.filter(event__in=events).order_by()
    as_state = taking_part.filter(
        actor__kind__in=STATE_KINDS, actor__country_id__in=country_ids
    ).values(c=F("actor__country_id"), r=F("role"), e=F("event_id"))
    in_office = taking_part.filter(
        Q(actor__offices__start_date__isnull=True)
        | Q(actor__offices__start_date__lte=F("event__period_end")),
        Q(actor__offices__end_date__isnull=True)
        | Q(actor__offices__end_date__gte=F("event__start_date")),
        actor__kind=ActorKind.PERSON,
        actor__offices__country_id__in=country_ids,
    ).values(c=F("actor__offices__country_id"), r=F("role"), e=F("event_id"))
    # UNION (not UNION ALL) keeps each (country, role, event) once however it is reached.
    roles = as_state.union(in_office)
    sql, params = roles.query.sql_with_params()
    with connections[roles.db].cursor() as cursor:
        cursor.execute(f"SELECT c, r, COUNT(*) FROM ({sql}) roles GROUP BY c, r", params)
        for country_id, role, n in cursor.fetchall():
            counts[country_id][("role", role)] = n
    return counts


# --- Proposed changes to published events --------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Proposals: an editor's queue, a curator's own"),
    retrieve=extend_schema(summary="One proposal with its field-by-field difference"),
)
class ProposalViewSet(viewsets.ReadOnlyModelViewSet):
    """Curators' changes to published events, waiting for an editor (writes.propose).

    Editors see every proposal, curators their own; `?state=pending` for the queue. An editor
    accepts one (`POST …/accept/`: the change is written, version check included: a proposal
    made from an older version is refused with 409) or rejects it with a reason
    (`POST …/reject/` with `{"reason": …}`).
    """

    serializer_class = ProposalSerializer
    queryset = EventProposal.objects.all()  # for the schema; get_queryset() narrows it
    permission_classes = [permissions.IsAuthenticated]
    pagination_class = NumberPagination

    def get_serializer_class(self):
        # The difference costs the event's representation: the list leaves it to the detail.
        return ProposalSummarySerializer if self.action == "list" else ProposalSerializer

    def get_queryset(self):
        proposals = EventProposal.objects.select_related("event", "proposed_by", "decided_by")
        if not writes.is_editor(self.request.user):
            proposals = proposals.filter(proposed_by=self.request.user)
        state = self.request.query_params.get("state")
        if state:
            if state not in ProposalState.values:
                raise serializers.ValidationError(
                    {"state": [f"One of {', '.join(ProposalState.values)}, not {state!r}."]}
                )
            proposals = proposals.filter(state=state)
        return proposals.order_by("-proposed_at", "-id")

    @extend_schema(request=None, responses={200: EventSerializer})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        proposal = self.get_object()
        with api_errors():
            event = writes.accept_proposal(request.user, proposal)
        data = EventSerializer(event, context=self.get_serializer_context()).data
        return Response(data, headers={"ETag": f'"{data["version"]}"'})

    @extend_schema(
        request=inline_serializer("Rejection", {"reason": serializers.CharField()}),
        responses={200: ProposalSerializer},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        proposal = self.get_object()
        reason = request.data.get("reason") if hasattr(request.data, "get") else None
        with api_errors():
            writes.reject_proposal(
                request.user, proposal, reason if isinstance(reason, str) else ""
            )
        return Response(self.get_serializer(proposal).data)


# --- Aggregates --------------------------------------------------------------------------


_MEASURE_FIELDS = {
    "events": serializers.IntegerField(help_text="Matching events in the group."),
    "people_expelled": serializers.IntegerField(
        allow_null=True,
        help_text="Sum of best estimates (each falling back to the low one), parts not "
        "counted twice; null when no event in the group gives a figure.",
    ),
    "people_expelled_low": serializers.IntegerField(allow_null=True),
    "people_expelled_high": serializers.IntegerField(
        allow_null=True, help_text="Null when an event counted gives no high estimate."
    ),
    "people_expelled_high_missing": serializers.IntegerField(
        help_text="Events counted with a figure but no high estimate."
    ),
    "people_expelled_is_lower_bound": serializers.BooleanField(
        help_text="A figure the sums rest on is only a lower bound ('more than 100')."
    ),
    "goldstein_sum": serializers.FloatField(allow_null=True),
    "goldstein_mean": serializers.FloatField(allow_null=True),
}


class EventAggregateView(APIView):
    """Counts of the events `/api/events/` lists with the same filters, grouped by
    `group_by`: events, people expelled (best, low, high, lower-bound flag) and Goldstein sum
    and mean. An event's parts are not counted twice, an event is put only in periods its
    date precision allows (`too_coarse` counts those left out), drafts count only for staff
    who may see them. Rules: README, "Counting events"."""

    renderer_classes = [FastJSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    permission_classes = [permissions.AllowAny]
    reads_parameters = True
    csv_export = True

    @extend_schema(
        summary="Counts of events, grouped",
        parameters=[
            *_EVENT_LIST_PARAMETERS,
            OpenApiParameter(
                "group_by",
                str,
                description="One or more of "
                + ", ".join(aggregates.GROUP_BY)
                + f", comma-separated or repeated; at most {aggregates.MAX_GROUPS:,} groups.",
            ),
        ],
        responses=inline_serializer(
            "EventAggregates",
            {
                "group_by": serializers.ListField(child=serializers.CharField()),
                "too_coarse": serializers.IntegerField(
                    help_text="Matching events whose date is too coarse for the period asked."
                ),
                "total": inline_serializer("AggregateTotal", _MEASURE_FIELDS),
                "groups": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request):
        queryset = Event.objects.visible_to(request.user)
        filterset = EventFilter(request.query_params, queryset=queryset, request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        try:
            dimensions = aggregates.parse_group_by(request.query_params.getlist("group_by"))
            result = aggregates.aggregate(
                filterset.qs,
                dimensions,
                can_see_drafts(request.user),
                filters=filterset.form.cleaned_data,
            )
        except aggregates.GroupingError as error:
            raise ValidationError({"group_by": [str(error)]}) from error
        if request.accepted_renderer.format == "csv":
            response = HttpResponse(
                aggregates.as_csv(result), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = 'attachment; filename="event-aggregates.csv"'
            return response
        return Response(
            {
                "group_by": dimensions,
                "too_coarse": result.too_coarse,
                "total": result.total,
                "groups": result.groups,
            }
        )


# --- Dyads -------------------------------------------------------------------------------


_COUNTS = serializers.DictField(child=serializers.IntegerField())
_DYAD_COUNTRY = inline_serializer(
    "DyadCountry",
    {
        "code": serializers.CharField(help_text="ISO 3166-1 alpha-2."),
        "name": serializers.CharField(),
        "url": serializers.URLField(help_text="The country in the API."),
        "page": serializers.URLField(help_text="The country's page."),
    },
)
_DYAD_DIRECTION = inline_serializer(
    "DyadDirection",
    {
        "initiator": serializers.CharField(help_text="Alpha-2 code of the initiator country."),
        "target": serializers.CharField(help_text="Alpha-2 code of the target country."),
        "events": serializers.IntegerField(help_text="Events initiator → target, all dates."),
        "too_coarse": serializers.IntegerField(
            help_text="Of those, events known only to the year: in no month of `monthly`."
        ),
        "total": inline_serializer("DyadTotal", _MEASURE_FIELDS),
        "by_kind": _COUNTS,
        "by_quad_class": _COUNTS,
        "monthly": serializers.ListField(
            child=inline_serializer(
                "DyadMonth",
                {
                    "month": serializers.CharField(help_text="YYYY-MM."),
                    "events": serializers.IntegerField(),
                    "by_kind": _COUNTS,
                    "by_quad_class": _COUNTS,
                },
            )
        ),
        "events_url": serializers.URLField(help_text="These events in the API."),
        "listing_url": serializers.URLField(help_text="These events in the HTML listing."),
    },
)


class DyadView(APIView):
    """Everything between two countries, each way: for `a` → `b` (events with a participant
    acting for `a` as initiator and one acting for `b` as target, as
    `/api/events/?initiator=a&target=b` lists them) and for `b` → `a`, the totals by kind and
    by quad class and a monthly series by kind and by quad class, following ICEWS practice:
    directed, by month, every month from the first to the last either direction has, months
    with no event as zeros. Events known only to the year are in the totals and `too_coarse`,
    never in a month. Counted by the aggregates (README, "Counting events"); drafts count only
    for staff who may see them."""

    renderer_classes = [FastJSONRenderer, BrowsableAPIRenderer]
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        summary="Everything between two countries, each way, with monthly series",
        parameters=[
            OpenApiParameter(
                name,
                str,
                OpenApiParameter.PATH,
                description="Country code: ISO alpha-2 or alpha-3 (JP, JPN), iso3n:392, "
                "cow:740 or gw:740.",
            )
            for name in ("a", "b")
        ],
        responses={
            200: inline_serializer(
                "Dyad",
                {
                    "a": _DYAD_COUNTRY,
                    "b": _DYAD_COUNTRY,
                    "page": serializers.URLField(help_text="The dyad's HTML page."),
                    "kinds": serializers.DictField(
                        child=serializers.CharField(), help_text="Each kind's label."
                    ),
                    "quad_classes": serializers.DictField(
                        child=serializers.CharField(),
                        help_text="Each quad class's label: 1 verbal cooperation, 2 material "
                        "cooperation, 3 verbal conflict, 4 material conflict.",
                    ),
                    "months": serializers.ListField(
                        child=serializers.CharField(),
                        help_text="YYYY-MM, from the first to the last month either direction "
                        "has; the months of each `monthly`.",
                    ),
                    "directions": serializers.ListField(
                        child=_DYAD_DIRECTION, help_text="a → b, then b → a."
                    ),
                },
            ),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="An unknown or malformed country code (the body names `a` or "
                "`b`), or the same country twice.",
            ),
        },
    )
    def get(self, request, a, b):
        errors, countries = {}, []
        for name, code in (("a", a), ("b", b)):
            try:
                country = resolve_country(code, strict=True)
            except DjangoValidationError as error:
                errors[name] = error.messages
                continue
            if country is None:
                errors[name] = [f"Unknown country code {code!r}."]
            countries.append(country)
        if errors:
            raise ValidationError(errors)
        first, second = countries
        if first == second:
            raise ValidationError({"b": [f"{b!r} is {a!r} again: a dyad is two countries."]})
        shows_drafts = can_see_drafts(request.user)
        dyad = series.dyad(Event.objects.visible_to(request.user), first, second, shows_drafts)

        # Django's reverse, not DRF's: DRF's would carry this request's `?format=` along.
        def address(name, query="", **kwargs):
            url = django_reverse(name, kwargs=kwargs or None)
            return request.build_absolute_uri(url + (f"?{query}" if query else ""))

        def country(item):
            return {
                "code": item.code,
                "name": item.name,
                "url": address("api:country-detail", code=item.code),
                "page": address("country-detail", code=item.code),
            }

        def direction(item):
            query = urlencode({"initiator": item.initiator.code, "target": item.target.code})
            return {
                "initiator": item.initiator.code,
                "target": item.target.code,
                "events": item.events,
                "too_coarse": item.too_coarse,
                "total": item.total,
                "by_kind": item.by_kind,
                "by_quad_class": item.by_quad_class,
                "monthly": item.monthly(dyad.months),
                "events_url": address("api:event-list", query),
                "listing_url": address("event-list", query),
            }

        return Response(
            {
                "a": country(first),
                "b": country(second),
                "page": address("dyad-detail", a=first.code, b=second.code),
                "kinds": dict(EventKind.choices),
                "quad_classes": {str(value): label for value, label in QuadClass.choices},
                "months": dyad.months,
                "directions": [direction(item) for item in dyad.directions],
            }
        )
