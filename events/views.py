"""The public pages: home, the filtered event listing, event, country, actor, source and
dyad (two countries) pages, and the code book (/codes/). The index pages of countries, actors
and sources are in events/index_pages.py.

Only published events appear, everywhere (linked events and counts included). Each page runs
a fixed number of queries whatever the number of rows: related rows come by prefetch, never
a query per row. The listing pages by keyset ("cursor"), never by OFFSET or COUNT.
"""

from urllib.parse import urlencode

from django.db.models import Count, prefetch_related_objects
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from . import aggregates, charts, glossary, series, worldmap
from .aggregates import aggregate
from .codes import QuadClass
from .filters import EVENT_ORDERINGS, EventFilter, resolve_country
from .models import (
    Actor,
    Citation,
    Country,
    Event,
    EventAlias,
    EventKind,
    EventStatus,
    LinkKind,
    Membership,
    Office,
    Participation,
    ReviewState,
    Role,
    Source,
    sides_prefetch,
)
from .pagination import CursorError, encode_cursor, keyset_page, position_field

PAGE_SIZE = 50
# Country and actor pages list this many of the latest events; the listing has the rest.
DETAIL_EVENTS = 200
API_EVENTS_URL = "/api/events/"
API_DOCS_URL = "/api/docs/"

# How a link reads from each end: outgoing "<this> responds to <other>", incoming
# "<this> is answered by <other>".
OUTGOING_PHRASES = {
    LinkKind.PART_OF: "Part of",
    LinkKind.RESPONDS_TO: "Responds to",
    LinkKind.RETALIATES_FOR: "Retaliates for",
    LinkKind.FOLLOWS_UP: "Follows up",
}
INCOMING_PHRASES = {
    LinkKind.PART_OF: "Has part",
    LinkKind.RESPONDS_TO: "Answered by",
    LinkKind.RETALIATES_FOR: "Retaliated against by",
    LinkKind.FOLLOWS_UP: "Followed up by",
}

LINK_ORDER = [
    phrase for kind in LinkKind for phrase in (OUTGOING_PHRASES[kind], INCOMING_PHRASES[kind])
]


def with_param(query, **changes):
    """`query` (a QueryDict) with some parameters replaced or (when None) removed."""
    query = query.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = value
    return query.urlencode()


# --- The filter form ----------------------------------------------------------------------

# Shown at once; the rarer filters (source, linked event, codes…) sit under "More filters".
MAIN_FILTERS = [
    "status", "date_after", "date_before", "country", "initiator", "target", "actor", "q",
    "ordering",
]  # fmt: skip
FIELD_LABELS = {
    "country": ("Country involved", "GB or GBR"),
    "initiator": ("Initiated by (country)", "GB"),
    "target": ("Target (country)", "RU"),
    "actor": ("Actor", "taro-kono"),
    "source": ("Source id", "1"),
    "linked_to": ("Linked to (event slug)", ""),
    "q": ("Words", "Skripal"),
    "ordering": ("Sort", ""),
}


def describe_fields(form, labels=FIELD_LABELS):
    """Labels and placeholders for people (`labels`: name -> (label, example)), and each
    input tied to its help and its error."""
    for name, field in form.fields.items():
        bound = form[name]
        if name in labels:
            # The bound field copied the label when the form was validated.
            field.label, placeholder = labels[name]
            bound.label = field.label
            if placeholder:
                field.widget.attrs["placeholder"] = f"e.g. {placeholder}"
        if name == "kind":
            continue
        described = [f"{bound.auto_id}-error"] if form.errors.get(name) else []
        if field.help_text:
            described.append(f"{bound.auto_id}-help")
        if described:
            field.widget.attrs["aria-describedby"] = " ".join(described)
        if form.errors.get(name):
            field.widget.attrs["aria-invalid"] = "true"


# --- Pages --------------------------------------------------------------------------------


def home(request):
    """The home page: what the database holds, published events by kind, the latest ones."""
    published = Event.objects.published()
    counts = dict(published.order_by().values_list("kind").annotate(n=Count("id")))
    kinds = [(value, label, counts.get(value, 0)) for value, label in EventKind.choices]
    latest = published.select_related("location_country").order_by("-start_date", "-id")[:10]
    return render(
        request,
        "events/home.html",
        {
            "kinds": kinds,
            "total": sum(counts.values()),
            "latest": latest,
            "api_docs_url": API_DOCS_URL,
        },
    )


# The countries shown as the most frequent initiators and targets of the listed events.
TOP_COUNTRIES = 5


def all_countries():
    """{alpha-2: (name, ISO numeric)} of every country, for names and the map: one query of
    some 250 short rows, whatever the number of events."""
    return {
        code: (name, number)
        for code, name, number in Country.objects.values_list("code", "name", "iso_numeric")
    }


def map_measure_url(params, measure):
    """The page with the map shaded by `measure` (`country` is the default, left out)."""
    value = None if measure == worldmap.DEFAULT_MEASURE else measure
    return "?" + with_param(params, map=value) + "#map"


def facets(filter_params, filterset, countries):
    """Counts beside the filters: how many events each kind and each status would give under
    the other filters, and the countries most often initiator and target of the events listed.
    Exact from the rollup cells where they answer; else counted in a sample of the matching
    events and said to be an estimate (events/aggregates.py `counts`). Four reads; the
    countries' names come from `countries` ({alpha-2: (name, ISO numeric)}). Also returns
    the counts by initiator and target as `side_counts`, for the map."""
    found, sampled = {}, {}
    for name in ("kind", "status"):
        # The other filters' values as cleaned already (no code or slug resolved again).
        cleaned = {**filterset.form.cleaned_data, name: None}
        queryset = Event.objects.published().listed()
        for other, value in cleaned.items():
            queryset = filterset.filters[other].filter(queryset, value)
        found[name], sampled[name] = aggregates.counts(queryset, name, cleaned)
    top = {}
    for side in ("initiator", "target"):
        found[side], sampled[side] = aggregates.counts(
            filterset.qs, side, filterset.form.cleaned_data
        )
        ranked = [(code, n) for code, n in found[side].items() if code and ":" not in code]
        ranked.sort(key=lambda item: (-item[1], item[0]))
        top[side] = ranked[:TOP_COUNTRIES]
    form = filterset.form
    return {
        "side_counts": {side: (found[side], sampled[side]) for side in ("initiator", "target")},
        "kind_choices": [
            (checkbox, found["kind"].get(checkbox.data["value"], 0)) for checkbox in form["kind"]
        ],
        "kind_sampled": sampled["kind"],
        "status_counts": [
            (
                label,
                found["status"].get(value, 0),
                "?" + with_param(filter_params, status=value),
                form.cleaned_data.get("status") == value,
            )
            for value, label in EventStatus.choices
        ],
        "status_sampled": sampled["status"],
        "top_countries": [
            (
                label,
                [
                    (
                        countries[code][0] if code in countries else code,
                        count,
                        "?" + with_param(filter_params, **{side: code}),
                    )
                    for code, count in top[side]
                ],
                sampled[side],
            )
            for side, label in (
                ("initiator", "Most often initiator"),
                ("target", "Most often target"),
            )
        ],
    }


def event_list(request):
    """The events, filtered by the API's FilterSet, a page at a time, with a timeline, a chart
    of who expelled whom and a link to the same set as CSV.

    An invalid filter value shows the form with the error next to its field and no results
    (status 400), never an unfiltered list; so does a page link (`cursor`) that is not ours.
    """
    params = request.GET
    filter_params = params.copy()
    filter_params.pop("cursor", None)
    # `timeline=whole`: the timeline over every listed event's whole period (no filter).
    whole_timeline = filter_params.pop("timeline", None) == ["whole"]
    # `map`: what the map counts (events involving, initiated by or targeting each country).
    measure = worldmap.measure_of((filter_params.pop("map", None) or [None])[-1])
    # Always bound (even to no parameters) so that the default ordering applies. Published
    # events only, even for staff: a draft's slug in `linked_to` is unknown here.
    filterset = EventFilter(
        filter_params, queryset=Event.objects.published().listed(), request=request
    )
    # `kind` is a column of the event itself, so its filter needs no DISTINCT; DISTINCT would
    # stop PostgreSQL from reading the first page straight off the ordering's index.
    filterset.filters["kind"].distinct = False
    valid = filterset.is_valid()
    describe_fields(filterset.form)
    form = filterset.form
    more = [form[name] for name in form.fields if name not in [*MAIN_FILTERS, "kind"]]
    context = {
        "filter": filterset,
        "form": form,
        "main_fields": [form[name] for name in MAIN_FILTERS if name in form.fields],
        "more_fields": more,
        "more_open": any(field.value() or field.errors for field in more),
        "valid": valid,
        "api_docs_url": API_DOCS_URL,
        "filtered": bool(filter_params),
    }
    if not valid:
        return render(request, "events/event_list.html", context, status=400)

    ordering = filterset.ordering_key
    query = filter_params.urlencode()
    first_url = "?" + query if params.get("cursor") else None
    try:
        rows, more_before, more_after = keyset_page(
            filterset.qs, ordering, params.get("cursor", ""), PAGE_SIZE
        )
    except CursorError as error:
        context.update({"valid": False, "cursor_error": str(error), "first_url": first_url})
        return render(request, "events/event_list.html", context, status=400)

    def page_url(event, backwards):
        position = (getattr(event, position_field(ordering)), event.pk)
        return "?" + with_param(params, cursor=encode_cursor(ordering, position, backwards))

    csv_query = urlencode({"format": "csv"}) + ("&" + query if query else "")
    # The table of events is the chart's table too: an expulsion there says what it is part of,
    # as its bar does.
    parents = charts.part_of_parents(rows)
    for row in rows:
        row.part_of_event = parents.get(row.pk)
    countries = all_countries()
    facet_counts = facets(filter_params, filterset, countries)
    side_counts = facet_counts.pop("side_counts")
    if measure in side_counts:
        found, sampled = side_counts[measure]
    else:
        found, sampled = aggregates.counts(filterset.qs, measure, filterset.form.cleaned_data)
    context.update(
        {
            "events": rows,
            "ordering": ordering,
            "previous_url": page_url(rows[0], True) if rows and more_before else None,
            "next_url": page_url(rows[-1], False) if rows and more_after else None,
            "first_url": first_url,
            "csv_url": f"{API_EVENTS_URL}?{csv_query}",
            "sort_links": [
                (key, label, "?" + with_param(filter_params, ordering=key))
                for key, label in (
                    ("-date", "newest first"),
                    ("date", "oldest first"),
                    ("title", "title"),
                )
            ],
            **facet_counts,
            # Every event the filters match, not only this page's, as the monthly series.
            "map": worldmap.world_map(
                found,
                countries,
                measure=measure,
                list_url=lambda code: "/events/?" + with_param(filter_params, **{measure: code}),
                measure_url=lambda key: map_measure_url(params, key),
                sampled=sampled,
            ),
            "timeline": charts.timeline(rows, whole=whole_timeline),
            "timeline_whole_url": "?" + with_param(params, timeline="whole") + "#timeline",
            "timeline_focus_url": "?" + with_param(params, timeline=None) + "#timeline",
            "whole_timeline_shown": whole_timeline and charts.focus_range(rows) is not None,
            "expulsions": charts.expulsions(rows, parents),
            # Every event the filters match, not only this page's.
            "monthly": monthly_series(filterset.qs, filterset.form.cleaned_data),
        }
    )
    return render(request, "events/event_list.html", context)


def event_detail(request, slug):
    """One event: what, when (at its precision), where, who in which role and office, how many
    were expelled, the words quoted, every source cited, and the events linked either way."""
    event = Event.objects.published().for_event_page().filter(slug=slug).first()
    if event is None:
        # A slug an event had before it was merged into another one still leads there.
        alias = EventAlias.objects.filter(slug=slug, event__review_state=ReviewState.PUBLISHED)
        target = alias.values_list("event__slug", flat=True).first()
        if target is None:
            raise Http404("No published event has this address.")
        return redirect("event-detail", slug=target, permanent=True)
    by_role = {}
    for participation in event.participations.all():
        offices = [
            office
            for office in participation.actor.offices.all()
            if office.held_on(event.start_date)
        ]
        by_role.setdefault(participation.role, []).append((participation, offices))
    roles = [(Role(role).label, by_role[role]) for role in Role.values if role in by_role]
    speakers = [participation.actor for participation, _ in by_role.get(Role.SPEAKER, [])]

    links = {}
    for link in event.outgoing_links.all():
        links.setdefault(OUTGOING_PHRASES[link.kind], []).append(link.to_event)
    for link in event.incoming_links.all():
        links.setdefault(INCOMING_PHRASES[link.kind], []).append(link.from_event)

    chart = None
    if event.kind == EventKind.EXPULSION:
        # This expulsion with the expulsions it is part of or that are part of it.
        related = {
            other.pk: other
            for phrase in ("Part of", "Has part")
            for other in links.get(phrase, [])
            if other.kind == EventKind.EXPULSION
        }
        if related:
            # One query for the initiators and targets of all of them.
            prefetch_related_objects(list(related.values()), sides_prefetch())
        parents = {
            other.pk: event for other in related.values() if other in links.get("Has part", [])
        }
        for parent in links.get("Part of", []):
            parents[event.pk] = parent
        chart = charts.expulsions([event, *related.values()], parents)

    return render(
        request,
        "events/event_detail.html",
        {
            "event": event,
            "roles": roles,
            "speakers": speakers,
            "links": [(phrase, links[phrase]) for phrase in LINK_ORDER if phrase in links],
            "citations": event.citations.all(),
            "expulsions": chart,
            "expelled": charts.expelled_label(event),
        },
    )


def country_detail(request, code):
    """A country: its groups (G7, EU), counts of its events by kind, its most frequent
    partners (each linking to their dyad), what it initiated and what targeted it, a timeline
    with its events per month and, where it expelled or was expelled, who expelled whom.

    Its address is the ISO alpha-2 code in any case (`/countries/jp/`); the other codes the
    filters take (JPN, iso3n:392, cow:740, gw:740) redirect to it."""
    if len(code) != 2 or not code.isalpha():
        # Printable ASCII only: PostgreSQL refuses a NUL byte in a query (a 500).
        country = resolve_country(code) if code.isascii() and code.isprintable() else None
        if country is None:
            raise Http404("No country has this code.")
        return redirect("country-detail", code=country.code, permanent=True)
    country = get_object_or_404(Country, code=code.upper())
    blocs = Membership.objects.filter(country=country).select_related("bloc").order_by("bloc__name")

    events = Event.objects.published().involving(country)
    # Involved, initiated and targeted as the involvement rule has it (a state, its agencies,
    # its officials in office at the time): published events by kind, from the rollup cells
    # the `country`, `initiator` and `target` filters count with (three reads of a few rows).
    counts = {}
    for side, column in (("country", "total"), ("initiator", "initiated"), ("target", "targeted")):
        matching = (
            events
            if side == "country"
            else Event.objects.published().involving(country, **{f"as_{side}": True})
        )
        for group in aggregate(matching, ["kind"], False, filters={side: country}).groups:
            counts.setdefault(group["kind"], dict.fromkeys(("total", "initiated", "targeted"), 0))
            counts[group["kind"]][column] = group["events"]
    kinds = [
        {"kind": kind, "label": kind.label, **counts[kind]} for kind in EventKind if kind in counts
    ]
    total = sum(row["total"] for row in kinds)
    latest = list(
        events.listed().with_order_keys().order_by(*EVENT_ORDERINGS["-date"])[:DETAIL_EVENTS]
    )

    def in_role(event, role):
        return any(
            p.role == role and (p.acting_country() or (None,))[0] == country.code
            for p in event.participations.all()
        )

    initiated = [event for event in latest if in_role(event, Role.INITIATOR)]
    targeted = [event for event in latest if in_role(event, Role.TARGET)]
    others = [event for event in latest if event not in initiated and event not in targeted]
    expelled_none = total and not sum(
        row["initiated"] for row in kinds if row["kind"] == EventKind.EXPULSION
    )
    ranked = series.partners(country)
    countries = all_countries()
    partners = [
        {
            "code": code,
            "name": countries[code][0],
            "towards": towards,
            "from": from_,
            "total": towards + from_,
            "url": reverse("dyad-detail", kwargs={"a": country.code, "b": code}),
        }
        for code, towards, from_ in ranked
        if code in countries
    ]
    # The map: the other countries of its events, by the measure chosen; a country's events
    # with this one are its dyad page (involved), or the listing (initiated, targeted).
    measure = worldmap.measure_of(request.GET.get("map"))
    found, sampled = aggregates.counts(events, measure, {"country": country})

    def list_url(code):
        if measure == "country":
            return reverse("dyad-detail", kwargs={"a": country.code, "b": code})
        return "/events/?" + urlencode({"country": country.code, measure: code})

    world = worldmap.world_map(
        found,
        countries,
        measure=measure,
        list_url=list_url,
        measure_url=lambda key: map_measure_url(request.GET, key),
        sampled=sampled,
        this=country.code,
    )
    return render(
        request,
        "events/country_detail.html",
        {
            "country": country,
            "blocs": blocs,
            "kinds": kinds,
            "total": total,
            "shown": len(latest),
            "initiated": initiated,
            "targeted": targeted,
            "others": others,
            "expelled_none": expelled_none,
            "timeline": charts.timeline(latest),
            "timeline_caption": (
                f"Timeline of the {'latest ' if len(latest) < total else ''}{len(latest)} "
                f"events involving {country.name}; each mark links to its event."
            ),
            "expulsions": charts.expulsions(latest, charts.part_of_parents(latest)),
            "monthly": monthly_series(events, {"country": country}),
            "partners": partners,
            "map": world,
            "list_url": "/events/?" + urlencode({"country": country.code}),
        },
    )


def actor_detail(request, slug):
    """An actor: the offices a person held, a group's members, and its events by role, with a
    timeline and its events per month."""
    actor = get_object_or_404(Actor.objects.select_related("country"), slug=slug)
    offices = Office.objects.filter(holder=actor).select_related("country", "organisation")
    members = Membership.objects.filter(bloc=actor).select_related("country")
    participations = list(
        Participation.objects.filter(actor=actor, event__review_state=ReviewState.PUBLISHED)
        .select_related("event")
        .order_by("-event__start_date", "-event__id", "id")[:DETAIL_EVENTS]
    )
    by_role = {}
    for participation in participations:
        by_role.setdefault(participation.role, []).append(participation.event)
    roles = [(Role(role).label, by_role[role]) for role in Role.values if role in by_role]
    events = list({p.event.pk: p.event for p in participations}.values())
    return render(
        request,
        "events/actor_detail.html",
        {
            "actor": actor,
            "offices": offices,
            "members": members,
            "roles": roles,
            "count": len(events),
            "timeline": charts.timeline(events),
            "monthly": monthly_series(Event.objects.published().with_actor(actor)),
            "list_url": "/events/?" + urlencode({"actor": actor.slug}),
        },
    )


def source_detail(request, pk):
    """A source: its address, publisher and date, and every published event it evidences."""
    source = get_object_or_404(Source, pk=pk)
    citations = (
        Citation.objects.filter(source=source, event__review_state=ReviewState.PUBLISHED)
        .select_related("event")
        .order_by("event__start_date", "event__id", "id")
    )
    return render(
        request,
        "events/source_detail.html",
        {
            "source": source,
            "citations": citations,
            "list_url": "/events/?" + urlencode({"source": source.pk}),
        },
    )


def codes(request):
    """The code book in words: what each event kind, mode, CAMEO code (the twenty roots and
    every code this project assigns), PLOVER type and mode, the Goldstein scale and the quad
    classes mean, each entry with an anchor that the codes shown elsewhere link to. No query."""
    return render(request, "events/codes.html", glossary.code_book())


# --- Monthly series and dyads --------------------------------------------------------------


def monthly_series(events, filters=None):
    """The published `events` per month as a small chart (one aggregate), with how many are
    known only to the year and so in no month; None when none has a month. `filters` (the
    filter values that selected `events`) let the aggregates read their rollups."""
    counts = series.monthly(events, False, filters)
    if not counts.months:
        return None
    chart = charts.series(
        counts.months, [("Events", charts.SERIES_COLOUR, counts.counts)], height=130
    )
    return {"chart": chart, "too_coarse": counts.too_coarse, "total": counts.total}


QUAD_CLASS_LABELS = {str(value): label for value, label in QuadClass.choices}
QUAD_CLASS_LABELS[series.NO_QUAD_CLASS] = "No quad class"


def dyad_detail(request, a, b):
    """Two countries: who initiated what against whom, each way (counts by kind and quad
    class), the monthly series of each direction by kind and by quad class as charts with
    their tables, and links to the events. Codes as the filters take them (JP, JPN, cow:740);
    other forms than the alpha-2 codes redirect to them."""
    first, second = resolve_country(a), resolve_country(b)
    if first is None or second is None:
        raise Http404("No country has this code.")
    if first == second:
        raise Http404("A dyad is two different countries.")
    if (a, b) != (first.code, second.code):
        return redirect("dyad-detail", a=first.code, b=second.code, permanent=True)

    dyad = series.dyad(Event.objects.published(), first, second, False)
    directions = []
    for direction in dyad.directions:
        rows = direction.monthly(dyad.months)
        code = f"{direction.initiator.code}-{direction.target.code}".lower()
        between = f"{direction.initiator.name} → {direction.target.name}"
        query = {"initiator": direction.initiator.code, "target": direction.target.code}
        kind_layers = [
            (kind.label, charts.KIND_STYLES[kind][0], [row["by_kind"][kind] for row in rows])
            for kind in EventKind
        ]
        quad_layers = [
            (
                QUAD_CLASS_LABELS[quad],
                charts.QUAD_CLASS_COLOURS[quad],
                [row["by_quad_class"].get(quad, 0) for row in rows],
            )
            for quad in [*series.QUAD_CLASSES, series.NO_QUAD_CLASS]
        ]
        directions.append(
            {
                "direction": direction,
                "id": code,
                "between": between,
                "by_kind": charts.series(dyad.months, kind_layers),
                "by_quad_class": charts.series(dyad.months, quad_layers),
                "quad_classes": [
                    (QUAD_CLASS_LABELS[quad], count)
                    for quad, count in direction.by_quad_class.items()
                    if count
                ],
                "list_url": "/events/?" + urlencode(query),
                "api_url": API_EVENTS_URL + "?" + urlencode(query),
            }
        )
    there, back = dyad.directions
    kinds = [
        {
            "label": kind.label,
            "counts": [
                (
                    d.by_kind[kind],
                    "/events/?"
                    + urlencode(
                        {"initiator": d.initiator.code, "target": d.target.code, "kind": kind}
                    ),
                )
                for d in dyad.directions
            ],
        }
        for kind in EventKind
        if there.by_kind[kind] or back.by_kind[kind]
    ]
    return render(
        request,
        "events/dyad_detail.html",
        {
            "a": first,
            "b": second,
            "dyad": dyad,
            "directions": directions,
            "kinds": kinds,
            "total": there.events + back.events,
            "api_url": reverse("api:dyad", kwargs={"a": first.code, "b": second.code}),
            "reverse_url": reverse("dyad-detail", kwargs={"a": second.code, "b": first.code}),
        },
    )
