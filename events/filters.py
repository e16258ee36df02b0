"""One FilterSet per resource, shared by the API and the HTML listings.

Every parameter validates its value: an unknown kind, country code, actor slug, source id or
event slug, a malformed date or an unsupported ordering is a form error naming the parameter,
never a silently unfiltered list. Country codes are ISO alpha-2 or alpha-3, in any case, or
`iso3n:392`, `cow:740`, `gw:740` (ISO numeric, Correlates of War, Gleditsch-Ward).
"""

import copy
import re

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import Q
from django.http import QueryDict

from .codes import PLOVER_TYPES, cameo_codes_under
from .models import (
    Actor,
    ActorKind,
    Citation,
    Country,
    Event,
    EventKind,
    EventLink,
    EventStatus,
    Source,
    SourceKind,
)

# Public ordering names and the database ordering each stands for; the id breaks ties so that
# keyset (cursor) pagination sees a strict order. Each is served by an index on Event, or, under
# a country filter, on CountryInvolvement: the date orderings sort on `date_key, id_key`
# (EventQuerySet.with_order_keys), the event's start date and id, read from whichever table
# the query walks.
EVENT_ORDERINGS = {
    "-date": ("-date_key", "-id_key"),
    "date": ("date_key", "id_key"),
    "title": ("title", "id"),
}
DEFAULT_EVENT_ORDERING = "-date"


class CommaSeparatedMultipleChoiceField(forms.MultipleChoiceField):
    """Accepts `?kind=a,b` (API style) as well as `?kind=a&kind=b` (HTML checkboxes)."""

    def to_python(self, value):
        values = super().to_python(value)
        return [part.strip() for item in values for part in item.split(",") if part.strip()]

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        allowed = {str(key) for key, _ in self.choices}
        unknown = [item for item in value if item not in allowed]
        if unknown:
            raise forms.ValidationError(
                "Unknown value %(value)s; choose from: %(choices)s.",
                code="invalid_choice",
                params={"value": ", ".join(unknown), "choices": ", ".join(sorted(allowed))},
            )


class CommaSeparatedMultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    field_class = CommaSeparatedMultipleChoiceField


class NaturalKeyField(forms.CharField):
    """A text field that resolves to a model instance by a natural key, or says it is unknown."""

    def __init__(self, *, resolve, noun, **kwargs):
        self.resolve, self.noun = resolve, noun
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return None
        instance = self.resolve(value.strip())
        if instance is None:
            raise forms.ValidationError(
                "Unknown %(noun)s %(value)s.",
                code="unknown",
                params={"noun": self.noun, "value": repr(value.strip())},
            )
        return instance


# ASCII digits only: str.isdigit() takes "²", which int() refuses (a 500), and both it and
# `\d` take "٣", which int() reads as 3. Eighteen digits at most: more would name no row
# (ids are 64-bit), and int() refuses more than 4,300.
WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def whole_number(text):
    """The whole number `text` spells in ASCII digits, or None if it spells none."""
    return int(text) if WHOLE_NUMBER.fullmatch(text) else None


# The other lists' codes a country is named by, written `list:number` (`cow:740`): the Country
# field each fills, and how the list's codes are written (for the error message).
COUNTRY_CODE_LISTS = {
    "iso3n": ("iso_numeric", "an ISO 3166-1 numeric code of up to three digits, e.g. iso3n:392"),
    "cow": ("cow_code", "a Correlates of War state number, e.g. cow:740"),
    "gw": ("gw_code", "a Gleditsch-Ward state number, e.g. gw:740"),
}


def resolve_country(code, strict=False):
    """The country `code` names, or None if none has it: an ISO 3166-1 alpha-2 or alpha-3 code,
    or a number of another list (`iso3n:392`, ISO numeric; `cow:740`, Correlates of War;
    `gw:740`, Gleditsch-Ward), in any case.

    A code that cannot be one (`cow:abc`, `gw:`, `iso3n:99999`, `xyz:1`) is None as well, or,
    with `strict` (the filters), a ValidationError saying what the code should look like.
    """
    if ":" not in code:
        code = code.upper()
        lookup = {"code": code} if len(code) == 2 else {"code3": code} if len(code) == 3 else None
        return Country.objects.filter(**lookup).first() if lookup else None
    prefix, _, number = code.partition(":")
    prefix, number = prefix.strip().lower(), number.strip()
    if prefix not in COUNTRY_CODE_LISTS:
        if strict:
            raise forms.ValidationError(
                "Unknown list %(prefix)s in %(code)s: give an ISO code (GB or GBR), or cow:, gw: "
                "or iso3n: and a number.",
                code="invalid",
                params={"prefix": repr(prefix), "code": repr(code)},
            )
        return None
    field, form = COUNTRY_CODE_LISTS[prefix]
    value = whole_number(number)
    if prefix == "iso3n" and value is not None:
        value = f"{value:03d}" if len(number) <= 3 else None
    if value is None:
        if strict:
            raise forms.ValidationError(
                "%(code)s is not a code: %(prefix)s: takes %(form)s.",
                code="invalid",
                params={"code": repr(code), "prefix": prefix, "form": form},
            )
        return None
    return Country.objects.filter(**{field: value}).first()


def resolve_country_strictly(code):
    """`resolve_country` for a filter: a malformed code is an error, not an unknown country."""
    return resolve_country(code, strict=True)


def resolve_actor(slug):
    return Actor.objects.filter(slug=slug).first()


def resolve_event(slug, events=None):
    """The event of `events` (default: the published ones) with this slug, or None."""
    events = Event.objects.published() if events is None else events
    return events.filter(slug=slug).only("id", "slug").first()


def resolve_source(value):
    pk = whole_number(value)
    return None if pk is None else Source.objects.filter(pk=pk).first()


class NaturalKeyFilter(django_filters.Filter):
    field_class = NaturalKeyField

    def __init__(self, *args, resolve, noun, **kwargs):
        super().__init__(*args, resolve=resolve, noun=noun, **kwargs)


class EventFilterForm(forms.Form):
    """The checks between fields, for every door that filters events (the HTML listing, the
    API's list, aggregates and CSV, the export command): each field's own checks are its
    filter's."""

    def clean(self):
        cleaned = super().clean()
        after, before = cleaned.get("date_after"), cleaned.get("date_before")
        if after and before and after > before:
            # On "From", next to the value to change; a reversed range would otherwise match
            # nothing, or, through a coarse event's long period, something unexpected.
            self.add_error(
                "date_after",
                forms.ValidationError(
                    "“From” (%(after)s) is after “To” (%(before)s): give a start on or before "
                    "the end.",
                    code="reversed_range",
                    params={"after": after.isoformat(), "before": before.isoformat()},
                ),
            )
        return cleaned


class EventFilter(django_filters.FilterSet):
    kind = CommaSeparatedMultipleChoiceFilter(
        choices=EventKind.choices,
        # kind is a column of the event itself: no join, so no DISTINCT (which would defeat
        # the (kind, start_date) index at scale).
        distinct=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="One or several kinds, comma-separated: expulsion,phone_call.",
    )
    status = django_filters.ChoiceFilter(choices=EventStatus.choices, empty_label="Any status")
    date_after = django_filters.DateFilter(
        method="filter_date_after",
        label="From",
        help_text="ISO date. Events whose period (at its precision) ends on or after it.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_before = django_filters.DateFilter(
        method="filter_date_before",
        label="To",
        help_text="ISO date. Events whose period starts on or before it.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    country = NaturalKeyFilter(
        method="filter_country",
        resolve=resolve_country_strictly,
        noun="country code",
        help_text="ISO alpha-2 or alpha-3 code (GB, GBR), or iso3n:826, cow:200, gw:200: the "
        "event's location or a participant's country.",
    )
    initiator = NaturalKeyFilter(
        method="filter_initiator",
        resolve=resolve_country_strictly,
        noun="country code",
        help_text="Country code (GB, GBR, iso3n:826, cow:200, gw:200) of a participant in the "
        "role initiator.",
    )
    target = NaturalKeyFilter(
        method="filter_target",
        resolve=resolve_country_strictly,
        noun="country code",
        help_text="Country code (RU, RUS, iso3n:643, cow:365, gw:365) of a participant in the "
        "role target.",
    )
    actor = NaturalKeyFilter(
        method="filter_actor",
        resolve=resolve_actor,
        noun="actor",
        help_text="Actor slug, in any role.",
    )
    source = NaturalKeyFilter(
        method="filter_source",
        resolve=resolve_source,
        noun="source id",
        help_text="Id of a source the event cites.",
    )
    linked_to = NaturalKeyFilter(
        method="filter_linked_to",
        resolve=resolve_event,
        noun="event",
        help_text="Slug of an event linked to this one, in either direction.",
    )
    q = django_filters.CharFilter(
        method="filter_text",
        label="Text",
        help_text="Words in the title, summary, quoted words or participants' names.",
    )
    cameo = django_filters.CharFilter(
        method="filter_cameo",
        label="CAMEO code",
        help_text="CAMEO event code, e.g. 041; a shorter code matches its subcodes (04).",
        validators=[RegexValidator(r"^[0-9]{2,4}$", "A CAMEO code is 2 to 4 digits, e.g. 041.")],
    )
    plover = django_filters.ChoiceFilter(
        field_name="plover_type",
        choices=[(value, value) for value in PLOVER_TYPES],
        label="PLOVER type",
        help_text="PLOVER event type, e.g. CONSULT or SANCTION.",
    )
    ordering = django_filters.ChoiceFilter(
        method="filter_ordering",
        choices=[("-date", "Newest first"), ("date", "Oldest first"), ("title", "Title")],
        empty_label=None,
        help_text="date, -date (default) or title.",
    )

    class Meta:
        model = Event
        fields = []
        form = EventFilterForm

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        # django-filter's own __init__ deep-copies every filter for each request (~660
        # deepcopy calls, a third of the filter's time); a filter's per-request state is its
        # `model` and `parent`, set here on a shallow copy.
        if queryset is None:
            queryset = Event.objects.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {name: copy.copy(filter_) for name, filter_ in self.base_filters.items()}
        for filter_ in self.filters.values():
            filter_.model, filter_.parent = queryset.model, self
            if filter_.method is not None:
                # Its FilterMethod, which finds the method on `parent`, for this copy.
                filter_.method = filter_.method

    _form_classes = {}

    def get_form_class(self):
        # Built once per class: its fields carry no per-request state (the linked_to field's
        # resolver is set on each form's own copy of the field, in `form`).
        cls = type(self)
        if cls not in EventFilter._form_classes:
            EventFilter._form_classes[cls] = super().get_form_class()
        return EventFilter._form_classes[cls]

    @property
    def form(self):
        if not hasattr(self, "_form"):
            form = super().form
            # A slug names an event of the list's own set: the API's `visible_to(user)`, the
            # pages' `published()`. A draft's slug then reads exactly as an unknown one to
            # whoever the list hides drafts from, and the link look-up runs no prefetch.
            events = self.queryset.select_related(None).prefetch_related(None)
            form.fields["linked_to"].resolve = lambda slug: resolve_event(slug, events)
        return self._form

    def filter_date_after(self, queryset, name, value):
        return queryset.filter(period_end__gte=value)

    def filter_date_before(self, queryset, name, value):
        return queryset.filter(start_date__lte=value)

    # The country filters join CountryInvolvement (one row per event and country), whose copy
    # of the event's start date (and kind) the date orderings sort on: PostgreSQL reads the
    # newest rows straight off an involvement index, in the list's date order, and stops at a
    # page. The kind and date_before filters, applied to the events already, are repeated on
    # the involvement row so that its (country, kind, start_date) index can bound the walk.
    def filter_country(self, queryset, name, country):
        return queryset.involving(country, **self.involvement_bounds())

    def filter_initiator(self, queryset, name, country):
        return queryset.involving(country, as_initiator=True, **self.involvement_bounds())

    def filter_target(self, queryset, name, country):
        return queryset.involving(country, as_target=True, **self.involvement_bounds())

    def involvement_bounds(self):
        # Unbound (the admin's text filters call these methods): no other parameter applies.
        # With a text search, PostgreSQL matches the country on the event row instead
        # (EventQuerySet.involving), so that the search's index and the country's combine.
        data = getattr(self.form, "cleaned_data", None) or {}
        return {
            "kinds": data.get("kind") or None,
            "started_by": data.get("date_before"),
            "searching": bool((data.get("q") or "").strip()),
        }

    def filter_actor(self, queryset, name, actor):
        return queryset.with_actor(actor)

    def filter_source(self, queryset, name, source):
        return queryset.filter(pk__in=Citation.objects.filter(source=source).values("event_id"))

    def filter_linked_to(self, queryset, name, event):
        # The few linked ids first (one query on the two link indexes): an OR of two IN
        # subqueries would make PostgreSQL test every event of the date index against both.
        pairs = EventLink.objects.filter(Q(to_event=event) | Q(from_event=event)).values_list(
            "from_event_id", "to_event_id"
        )
        linked = {other for pair in pairs for other in pair if other != event.pk}
        return queryset.filter(pk__in=sorted(linked))

    def filter_text(self, queryset, name, value):
        return queryset.search(value)

    def filter_cameo(self, queryset, name, value):
        # A code and its subcodes, as an IN list that the (cameo_code, start_date) index serves.
        return queryset.filter(cameo_code__in=cameo_codes_under(value))

    def filter_ordering(self, queryset, name, value):
        # Applied in `filter_queryset` so that every list has a strict order, even unasked.
        return queryset

    @property
    def ordering_key(self):
        """The public ordering name in force: the validated parameter or the default."""
        if self.is_bound and self.is_valid():
            return self.form.cleaned_data.get("ordering") or DEFAULT_EVENT_ORDERING
        return DEFAULT_EVENT_ORDERING

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return queryset.with_order_keys().order_by(*EVENT_ORDERINGS[self.ordering_key])


class ActorFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name")
    kind = django_filters.ChoiceFilter(choices=ActorKind.choices, empty_label="Any kind")
    country = NaturalKeyFilter(
        field_name="country",
        resolve=resolve_country_strictly,
        noun="country code",
        help_text="ISO code (GB, GBR), or iso3n:, cow: or gw: and a number.",
    )

    class Meta:
        model = Actor
        fields = []


class SourceFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_text", label="Text", help_text="Words in the title, publisher or address."
    )
    kind = django_filters.ChoiceFilter(choices=SourceKind.choices, empty_label="Any kind")

    class Meta:
        model = Source
        fields = []

    def filter_text(self, queryset, name, value):
        return queryset.filter(
            Q(title__icontains=value) | Q(publisher__icontains=value) | Q(url__icontains=value)
        )


class CountryFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_text", label="Text", help_text="Words in the name, or an ISO code."
    )

    class Meta:
        model = Country
        fields = []

    def filter_text(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(name__icontains=value) | Q(code__iexact=value) | Q(code3__iexact=value)
        )
