"""Events with their participants, citations and typed links; aliases of merged events;
curators' proposed changes to published events."""

import calendar
import datetime
import functools
import json
import operator

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxLengthValidator
from django.db import NotSupportedError, models
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.urls import reverse
from simple_history.models import HistoricalRecords

from ..codes import MODES_BY_KIND, EventMode
from .base import (
    TEXT_MAX_LENGTH,
    ConstraintErrorsOnFields,
    Versioned,
    choices_constraint,
    connection_vendor,
)
from .choices import (
    ActorKind,
    DatePrecision,
    EventKind,
    EventStatus,
    LinkKind,
    ReviewState,
    Role,
)
from .reference import Actor, Country, Office, Source

# --- Events ------------------------------------------------------------------------------


def period_end(start, end, precision):
    """The last day an event's stated dates cover, given their precision."""
    last = end or start
    if precision == DatePrecision.YEAR:
        return datetime.date(last.year, 12, 31)
    if precision == DatePrecision.MONTH:
        return datetime.date(last.year, last.month, calendar.monthrange(last.year, last.month)[1])
    return last


def truncate_date(day, precision):
    """The first day of the period `day` stands for at `precision`."""
    if day is None:
        return None
    if precision == DatePrecision.YEAR:
        return day.replace(month=1, day=1)
    if precision == DatePrecision.MONTH:
        return day.replace(day=1)
    return day


class CountryIdsField(models.Field):
    """Derived country ids, sorted, or NULL for none: a `bigint[]` (the type of the country
    ids) on PostgreSQL, a JSON array elsewhere (SQLite has no arrays).

    An array rather than a jsonb document because PostgreSQL keeps per-element statistics of
    arrays: it then knows how many events a country's `@>` matches (from a few dozen to tens
    of thousands), where its estimate for jsonb containment is a guess.
    """

    description = "Country ids (bigint[] on PostgreSQL)"

    def __init__(self, *args, **kwargs):
        # Not serialized: database ids mean nothing in another database, so fixtures and
        # dumps leave them out and refresh_involvements() derives them where they are loaded.
        kwargs.update(null=True, blank=True, editable=False, serialize=False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for fixed in ("null", "blank", "editable", "serialize"):
            kwargs.pop(fixed, None)
        return name, path, args, kwargs

    def db_type(self, connection):
        return "bigint[]" if connection.vendor == "postgresql" else "text"

    def from_db_value(self, value, expression, connection):
        return json.loads(value) if isinstance(value, str) else value

    def to_python(self, value):
        return json.loads(value) if isinstance(value, str) else value

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None or connection.vendor == "postgresql":
            return value
        return json.dumps(list(value), separators=(",", ":"))

    def value_to_string(self, obj):
        return self.value_from_object(obj)


@CountryIdsField.register_lookup
class ContainsCountries(models.Lookup):
    """`field__contains=[ids]`: the array holds every one of these ids (PostgreSQL only,
    where a GIN index serves it)."""

    lookup_name = "contains"

    def as_sql(self, compiler, connection):
        raise NotSupportedError("Country-id containment needs PostgreSQL.")

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} @> {rhs}::bigint[]", [*lhs_params, *rhs_params]


class EnglishDocument(models.Func):
    """`to_tsvector('english', text)` on PostgreSQL, the expression of the stored search
    document; NULL elsewhere (SQLite has no tsvector: search() matches the text there)."""

    output_field = SearchVectorField()

    def as_sql(self, compiler, connection, **extra_context):
        return "NULL", []

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"to_tsvector('english'::regconfig, COALESCE({sql}, ''))", params


# The sort keys of the date orderings, set by EventQuerySet.with_order_keys() or involving().
ORDER_KEYS = ("date_key", "id_key")


class EventQuerySet(models.QuerySet):
    def get_by_natural_key(self, slug):
        return self.get(slug=slug)

    def published(self):
        return self.filter(review_state=ReviewState.PUBLISHED)

    def visible_to(self, user):
        """Published events for everyone; drafts too for staff who may see them."""
        if user is not None and user.is_authenticated and user.has_perm("events.view_event"):
            return self
        return self.published()

    def search(self, text):
        """Events whose title, summary, quoted words or participants' names match `text`.

        PostgreSQL: full-text search (websearch syntax, English stemming) on the stored
        `search_document`, served by a GIN index. Elsewhere: every word must appear,
        case-insensitively.
        """
        text = (text or "").strip()
        if not text:
            return self
        if connection_vendor(self.db) == "postgresql":
            from django.contrib.postgres.search import SearchQuery

            # The stored document: a recheck reads it instead of parsing the text again.
            return self.filter(
                search_document=SearchQuery(text, search_type="websearch", config="english")
            )
        queryset = self
        for word in text.split():
            queryset = queryset.filter(search_text__icontains=word.strip('"'))
        return queryset

    def between(self, initiator, target):
        """Events `initiator` initiated against `target` (countries). On PostgreSQL both are
        matched on the events' own arrays of initiator and target country ids (involving()'s
        `searching` path), whose GIN index intersects the two countries' postings in under a
        millisecond; the involvement join would read every initiation of one and every
        targeting of the other (34,000 rows for Russia and Japan at 5M events). SQLite joins."""
        return self.involving(initiator, as_initiator=True, searching=True).involving(
            target, as_target=True, searching=True
        )

    def involving(
        self,
        country,
        *,
        as_initiator=False,
        as_target=False,
        kinds=None,
        started_by=None,
        searching=False,
    ):
        """Events located in `country` or with a participant from it (in a role, if asked).

        `kinds` and `started_by` repeat a kind filter and a `start_date <=` bound that the
        caller applies to the events anyway, so that the involvement index can use them.

        A join on the derived CountryInvolvement rows: one per event and country, so no
        DISTINCT. The date orderings' keys (`with_order_keys`) become that row's copy of the
        start date and event id, so that a date-ordered page is read off the involvement index
        in order and stops after a page, for the first page as for a deep cursor.

        `searching`: the caller also applies a text search (`search()`), or matches a second
        country the same way (`between()`). On PostgreSQL the
        country is then matched on the event's own copy of its country ids instead, indexed
        with the search document in one GIN index: one index scan finds the events matching
        both, where the join would walk every involvement of the country and read each
        event's search document (a country takes part in tens of thousands of events).
        """
        if searching and connection_vendor(self.db) == "postgresql":
            # (kinds and started_by need no repeating: the caller filters the events by them.)
            sides = {"initiator_country_ids__contains": [country.pk]} if as_initiator else {}
            if as_target:
                sides["target_country_ids__contains"] = [country.pk]
            return self.filter(**(sides or {"involved_country_ids__contains": [country.pk]}))
        flags = {"involvements__as_initiator": True} if as_initiator else {}
        if as_target:
            flags["involvements__as_target"] = True
        if kinds:
            # The event's kind, repeated on the involvement row: the (country, kind,
            # start_date) indexes then read only that kind's rows, in date order.
            flags["involvements__kind__in"] = list(kinds)
        if started_by is not None:
            # The event's start_date bound, on the row's copy: the index walk starts there.
            flags["involvements__start_date__lte"] = started_by
        queryset = self.filter(involvements__country=country, **flags)
        if ORDER_KEYS[0] not in self.query.annotations:
            queryset = queryset.alias(
                date_key=F("involvements__start_date"), id_key=F("involvements__event_id")
            )
        return queryset

    def with_actor(self, actor):
        """Events `actor` takes part in, in any role.

        A join on the actor's participations, whose copy of the event's start date makes the
        date orderings' keys (as `involving()` does for countries): the newest page is read
        off (actor, start_date, event) in order and stops after a page. An actor in two roles
        of one event has two participations; only its first (lowest id) is joined, so that
        each event comes once without a DISTINCT (which would sort every match).
        """
        # In the same filter() call as the join, so that the subquery's reference to the
        # joined row reuses that join.
        later_role = Participation.objects.filter(
            event_id=OuterRef("pk"), actor=actor, pk__lt=OuterRef("acting__pk")
        )
        queryset = self.alias(
            acting=models.FilteredRelation(
                "participations", condition=Q(participations__actor=actor)
            )
        ).filter(Q(acting__isnull=False) & ~Exists(later_role))
        if ORDER_KEYS[0] not in self.query.annotations:
            queryset = queryset.alias(
                date_key=F("acting__start_date"), id_key=F("acting__event_id")
            )
        return queryset

    def with_order_keys(self):
        """`date_key` and `id_key`, what the date orderings sort on (filters.EVENT_ORDERINGS):
        the event's start date and id, unless `involving()` already set them to the same
        values read from the joined involvement row."""
        if ORDER_KEYS[0] in self.query.annotations:
            return self
        return self.alias(date_key=F("start_date"), id_key=F("id"))

    def listed(self):
        """Events as listings show them: the initiator and target countries (`sides_prefetch`)
        and the published expulsions each is part of, for the who-expelled-whom chart."""
        return self.prefetch_related(sides_prefetch(), part_of_prefetch())

    def for_event_page(self):
        """Everything the public event page shows: participants with the offices they held,
        citations, and links (only to published events)."""
        published = ReviewState.PUBLISHED
        return self.select_related("location_country").prefetch_related(
            models.Prefetch(
                "participations",
                queryset=Participation.objects.select_related("actor__country")
                .prefetch_related(
                    models.Prefetch(
                        "actor__offices",
                        queryset=Office.objects.select_related("country", "organisation"),
                    )
                )
                .order_by("position", "id"),
            ),
            models.Prefetch(
                "citations",
                queryset=Citation.objects.select_related("source").order_by("source_id", "id"),
            ),
            models.Prefetch(
                "outgoing_links",
                queryset=EventLink.objects.filter(to_event__review_state=published)
                .select_related("to_event")
                .order_by("kind", "to_event__start_date", "id"),
            ),
            models.Prefetch(
                "incoming_links",
                queryset=EventLink.objects.filter(from_event__review_state=published)
                .select_related("from_event")
                .order_by("kind", "from_event__start_date", "id"),
            ),
        )


def sides_prefetch():
    """Initiators and targets with their countries: what a listing row and the chart show.

    A person acts for the state of an office held at the time of the event (the involvement
    rule, CountryInvolvement): that office's country code and name come with each row
    (`office_country`, Participation.acting_country), so no query per person."""
    held = Office.objects.filter(
        Q(start_date__isnull=True) | Q(start_date__lte=OuterRef("event__period_end")),
        Q(end_date__isnull=True) | Q(end_date__gte=OuterRef("event__start_date")),
        holder=OuterRef("actor"),
        country__isnull=False,
    ).order_by("start_date", "id")[:1]
    return models.Prefetch(
        "participations",
        queryset=Participation.objects.filter(role__in=[Role.INITIATOR, Role.TARGET])
        .select_related("actor__country")
        .annotate(
            office_country_code=Subquery(held.values("country__code")),
            office_country_name=Subquery(held.values("country__name")),
        )
        .order_by("position", "id"),
    )


def part_of_prefetch():
    """Which published expulsion each event is part of, for the who-expelled-whom chart."""
    return models.Prefetch(
        "outgoing_links",
        queryset=EventLink.objects.filter(
            kind=LinkKind.PART_OF, to_event__review_state=ReviewState.PUBLISHED
        ).select_related("to_event"),
    )


# The estimates of people expelled, low to high, and the pairs that must be in that order
# wherever both are given.
EXPELLED = ("expelled_low", "expelled_best", "expelled_high")
EXPELLED_ORDER = (
    ("expelled_low", "expelled_best"),
    ("expelled_best", "expelled_high"),
    ("expelled_low", "expelled_high"),
)


def expelled_wording(low, best, high):
    """The estimates of people expelled in words, as the pages and the chart show them: "60"
    (60/60/60, or a best estimate alone), "more than 100" (a low of 101 alone), "60–80" (a
    range), "70 (60–80)" (a best estimate within a range); "" when none is known."""
    if best is None:
        if low is not None and high is not None:
            return str(low) if low == high else f"{low}–{high}"
        if low is not None:
            return f"more than {low - 1}" if low > 1 else "at least 1"
        return f"at most {high}" if high is not None else ""
    low = None if low == best else low
    high = None if high == best else high
    if low is not None and high is not None:
        return f"{best} ({low}–{high})"
    if low is not None:
        return f"{best} (more than {low - 1})" if low > 1 else f"{best} (at least 1)"
    if high is not None:
        return f"{best} (at most {high})"
    return str(best)


class Event(Versioned, ConstraintErrorsOnFields):
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    mode = models.CharField(
        max_length=30,
        choices=EventMode.choices,
        default=EventMode.UNSPECIFIED,
        blank=True,
        help_text="Refines the kind for its CAMEO and PLOVER codes: a visit, a multilateral "
        "summit, an accusation…",
    )
    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=200, unique=True, help_text="Public identifier.")
    summary = models.TextField(
        blank=True,
        validators=[MaxLengthValidator(TEXT_MAX_LENGTH)],
        help_text="The curator's own summary, not a source's words.",
    )

    start_date = models.DateField(
        help_text="At month or year precision, the first day of that month or year."
    )
    end_date = models.DateField(null=True, blank=True, help_text="Empty for a one-period event.")
    date_precision = models.CharField(
        max_length=10,
        choices=DatePrecision.choices,
        default=DatePrecision.DAY,
        help_text="How precisely the sources date the event: May 2018 is month precision.",
    )
    period_end = models.DateField(
        editable=False,
        help_text="Derived: the last day the dates cover at their precision; serves range filters.",
    )
    status = models.CharField(
        max_length=20, choices=EventStatus.choices, default=EventStatus.OCCURRED
    )

    location_country = models.ForeignKey(
        Country,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events_located",
        verbose_name="location (country)",
    )
    place = models.CharField(
        max_length=200, blank=True, help_text="A city or site: Tokyo, Salisbury."
    )

    # People expelled as UCDP GED stores deaths: a low, a best and a high estimate, each
    # optional. "60" is 60/60/60; "in excess of 100" is a low of 101 and nothing else.
    expelled_low = models.PositiveIntegerField(
        "people expelled: low estimate",
        null=True,
        blank=True,
        help_text='Expulsions only: the fewest the sources allow ("in excess of 100": 101).',
    )
    expelled_best = models.PositiveIntegerField(
        "people expelled: best estimate",
        null=True,
        blank=True,
        help_text='Expulsions only: the sources\' figure ("60": 60); empty when they give '
        "only a bound.",
    )
    expelled_high = models.PositiveIntegerField(
        "people expelled: high estimate",
        null=True,
        blank=True,
        help_text="Expulsions only: the most the sources allow; empty when they give no upper "
        "bound.",
    )
    quoted_words = models.TextField(
        blank=True,
        validators=[MaxLengthValidator(TEXT_MAX_LENGTH)],
        help_text="Words quoted from a statement or call, exactly as the sources give them. "
        "The participant with the role 'speaker' said them.",
    )

    review_state = models.CharField(
        max_length=10, choices=ReviewState.choices, default=ReviewState.DRAFT
    )
    cameo_code = models.CharField(
        "CAMEO code",
        max_length=4,
        editable=False,
        default="",
        help_text="Derived from kind, mode and status (events/codes.py).",
    )
    plover_type = models.CharField("PLOVER event type", max_length=12, editable=False, default="")
    plover_mode = models.CharField("PLOVER mode", max_length=20, editable=False, default="")
    search_text = models.TextField(
        editable=False,
        blank=True,
        default="",
        help_text="Derived: title, summary, quoted words and participants' names, for text search.",
    )
    search_document = models.GeneratedField(
        expression=EnglishDocument("search_text"),
        output_field=SearchVectorField(null=True),
        db_persist=True,
        help_text="Derived by the database from the search text: its English tsvector on "
        "PostgreSQL (NULL on SQLite), so that a search reads it instead of parsing every text.",
    )
    # Derived from the CountryInvolvement rows by refresh_involvements(), for a text search
    # with a country, initiator or target filter on PostgreSQL (EventQuerySet.involving).
    involved_country_ids = CountryIdsField(
        help_text="Derived: the ids of the countries involved (located or taking part)."
    )
    initiator_country_ids = CountryIdsField(
        help_text="Derived: the ids of the initiating participants' countries."
    )
    target_country_ids = CountryIdsField(
        help_text="Derived: the ids of the targeted participants' countries."
    )
    linked_events = models.ManyToManyField(
        "self", through="EventLink", symmetrical=False, related_name="linked_from", blank=True
    )

    objects = EventQuerySet.as_manager()
    history = HistoricalRecords(
        excluded_fields=[
            "period_end",
            "search_text",
            "search_document",
            "involved_country_ids",
            "initiator_country_ids",
            "target_country_ids",
            "cameo_code",
            "plover_type",
            "plover_mode",
        ]
    )

    constraint_fields = {
        "event_end_after_start": "end_date",
        # A rule over the three estimates is reported on one of them: the admin shows the
        # three in one row, and the admin, the API and the import check each number's
        # positivity on its own field before the constraint runs.
        "event_expelled_positive": "expelled_low",
        "event_expelled_estimates_ordered": "expelled_best",
        "event_expelled_expulsion_only": "expelled_low",
        "event_kind_valid": "kind",
        "event_status_valid": "status",
        "event_date_precision_valid": "date_precision",
        "event_review_state_valid": "review_state",
        "event_mode_valid": "mode",
        "event_mode_fits_kind": "mode",
    }

    class Meta:
        ordering = ["-start_date", "-id"]
        constraints = [
            choices_constraint("kind", EventKind, "event"),
            choices_constraint("date_precision", DatePrecision, "event"),
            choices_constraint("status", EventStatus, "event"),
            choices_constraint("review_state", ReviewState, "event"),
            choices_constraint("mode", EventMode, "event"),
            models.CheckConstraint(
                condition=Q(mode="")
                | functools.reduce(
                    operator.or_,
                    (
                        Q(kind=kind, mode__in=[mode for mode in modes if mode])
                        for kind, modes in sorted(MODES_BY_KIND.items())
                        if any(modes)
                    ),
                ),
                name="event_mode_fits_kind",
                violation_error_message="This mode does not apply to this kind of event.",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="event_end_after_start",
                violation_error_message="An event cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=functools.reduce(
                    operator.and_,
                    (
                        Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gte": 1})
                        for name in EXPELLED
                    ),
                ),
                name="event_expelled_positive",
                violation_error_message="The number of people expelled is at least 1.",
            ),
            models.CheckConstraint(
                condition=functools.reduce(
                    operator.and_,
                    (
                        Q(**{f"{lower}__isnull": True})
                        | Q(**{f"{upper}__isnull": True})
                        | Q(**{f"{lower}__lte": F(upper)})
                        for lower, upper in EXPELLED_ORDER
                    ),
                ),
                name="event_expelled_estimates_ordered",
                violation_error_message="The estimates of people expelled are in order: low ≤ "
                "best ≤ high.",
            ),
            models.CheckConstraint(
                condition=Q(kind=EventKind.EXPULSION)
                | Q(**{f"{name}__isnull": True for name in EXPELLED}),
                name="event_expelled_expulsion_only",
                violation_error_message="Only an expulsion has a number of people expelled.",
            ),
        ]
        permissions = [("publish_event", "Can publish and unpublish events")]
        indexes = [
            # Listing order (newest first) and date-range filters: WHERE start_date <= …
            # ORDER BY start_date DESC, id DESC.
            models.Index(fields=["-start_date", "-id"], name="event_start_date_idx"),
            # Date-range overlap filter: WHERE period_end >= date_after.
            models.Index(fields=["period_end"], name="event_period_end_idx"),
            # Kind filter with date order: WHERE kind IN (…) ORDER BY start_date DESC.
            models.Index(fields=["kind", "-start_date"], name="event_kind_date_idx"),
            # cameo and plover filters with date order.
            models.Index(fields=["cameo_code", "-start_date"], name="event_cameo_date_idx"),
            models.Index(fields=["plover_type", "-start_date"], name="event_plover_date_idx"),
            # Ordering by title (API `ordering=title`, admin sort): ORDER BY title, id.
            models.Index(fields=["title", "id"], name="event_title_idx"),
            # Drafts and published separately by date: WHERE review_state = … ORDER BY start_date.
            models.Index(
                fields=["review_state", "-start_date", "-id"], name="event_review_date_idx"
            ),
            # Text search on PostgreSQL: WHERE search_document @@ query, served by the GIN
            # index event_search_document_idx, created by migration 0008 on PostgreSQL only
            # (SQLite has no GIN).
            # A text search with a country, initiator or target filter on PostgreSQL: WHERE
            # search_document @@ query AND initiator_country_ids @> ARRAY[id], served by the
            # GIN index event_search_countries_idx over the document and the three country-id
            # columns, created by migration 0009 on PostgreSQL only: one index scan intersects
            # the word's entries with the country's.
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("event-detail", kwargs={"slug": self.slug})

    def natural_key(self):
        return (self.slug,)

    @property
    def is_published(self):
        return self.review_state == ReviewState.PUBLISHED

    @property
    def expelled_display(self):
        """People expelled in words ("60", "more than 100", "60–80"); "" when not known."""
        return expelled_wording(self.expelled_low, self.expelled_best, self.expelled_high)

    @property
    def expelled_figure(self):
        """The one number that stands for the estimates (the best, else the low), or None:
        what a bar's length shows."""
        return self.expelled_best if self.expelled_best is not None else self.expelled_low

    def clean(self):
        errors = {}
        if (
            self.start_date
            and truncate_date(self.start_date, self.date_precision) != self.start_date
        ):
            unit = "month" if self.date_precision == DatePrecision.MONTH else "year"
            errors["start_date"] = (
                f"At {unit} precision the start date is the first day of its {unit}."
            )
        if self.end_date and truncate_date(self.end_date, self.date_precision) != self.end_date:
            unit = "month" if self.date_precision == DatePrecision.MONTH else "year"
            errors["end_date"] = f"At {unit} precision the end date is the first day of its {unit}."
        if errors:
            raise ValidationError(errors)

    def constraint_problems(self):
        """The named CHECK constraints of this model, evaluated in Python: {field: [message]}.

        Django validates a CheckConstraint with a query per constraint; a bulk import checking
        hundreds of thousands of rows uses this instead. The database still enforces them.
        """
        rules = {
            "event_end_after_start": self.end_date is None
            or self.start_date is None
            or self.end_date >= self.start_date,
            "event_expelled_positive": all(
                getattr(self, name) is None or getattr(self, name) >= 1 for name in EXPELLED
            ),
            "event_expelled_estimates_ordered": all(
                getattr(self, lower) is None
                or getattr(self, upper) is None
                or getattr(self, lower) <= getattr(self, upper)
                for lower, upper in EXPELLED_ORDER
            ),
            "event_expelled_expulsion_only": self.kind == EventKind.EXPULSION
            or all(getattr(self, name) is None for name in EXPELLED),
            "event_mode_fits_kind": not self.mode or self.mode in MODES_BY_KIND.get(self.kind, []),
        }
        problems = {}
        for constraint in self._meta.constraints:
            if rules.get(constraint.name, True) is False:
                field = self.constraint_fields.get(constraint.name, NON_FIELD_ERRORS)
                problems.setdefault(field, []).append(str(constraint.violation_error_message))
        return problems


class ParticipationManager(models.Manager):
    def get_by_natural_key(self, event_slug, actor_slug, role):
        return self.get(event__slug=event_slug, actor__slug=actor_slug, role=role)


class Participation(ConstraintErrorsOnFields):
    """An actor taking part in an event, in one role."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="participations")
    actor = models.ForeignKey(Actor, on_delete=models.PROTECT, related_name="participations")
    role = models.CharField(max_length=20, choices=Role.choices)
    position = models.PositiveSmallIntegerField(default=0, help_text="Display order.")
    start_date = models.DateField(
        null=True,
        blank=True,
        editable=False,
        help_text="Derived: the event's start date, for the actor filter's date order. Kept in "
        "step by refresh_involvements() (empty until it runs after a bulk write).",
    )

    objects = ParticipationManager()
    history = HistoricalRecords(excluded_fields=["start_date"])

    constraint_fields = {
        "participation_unique_actor_role": "role",
        "participation_role_valid": "role",
    }

    class Meta:
        ordering = ["event", "position", "id"]
        constraints = [
            choices_constraint("role", Role, "participation"),
            models.UniqueConstraint(
                fields=["event", "actor", "role"],
                name="participation_unique_actor_role",
                violation_error_message="This actor already has this role in this event.",
            ),
        ]
        indexes = [
            # "Events an actor takes part in" in a role (duplicates, the actor's admin page).
            models.Index(fields=["actor", "role"], name="participation_actor_role_idx"),
            # ?actor=: WHERE actor_id = … ORDER BY start_date DESC, event_id DESC LIMIT 50.
            models.Index(
                fields=["actor", "-start_date", "-event"], name="participation_actor_date_idx"
            ),
        ]

    def __str__(self):
        return f"{self.actor} ({self.get_role_display()})"

    def acting_country(self):
        """(code, name) of the country this participant makes a party to its event, or None:
        the involvement rule (CountryInvolvement), for the rows a page shows. A person's office
        comes from sides_prefetch()'s annotation when loaded through it, else from the
        person's (prefetched) offices and the event's dates."""
        actor = self.actor
        if actor.kind != ActorKind.PERSON:
            country = actor.acting_country(None, None)
        elif hasattr(self, "office_country_code"):
            code = self.office_country_code
            return (code, self.office_country_name) if code else None
        else:
            event = self.event
            country = actor.acting_country(event.start_date, event.period_end or event.start_date)
        return (country.code, country.name) if country else None

    def natural_key(self):
        return self.event.natural_key() + self.actor.natural_key() + (self.role,)

    natural_key.dependencies = ["events.event", "events.actor"]


class CitationManager(models.Manager):
    def get_by_natural_key(self, event_slug, source_url, locator):
        return self.get(event__slug=event_slug, source__url=source_url, locator=locator)


class Citation(ConstraintErrorsOnFields):
    """A source that evidences an event, with where in it and the curator's note."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="citations")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="citations")
    locator = models.CharField(
        max_length=100, help_text='Where in the source: "para. 9". Not the source\'s text.'
    )
    note = models.TextField(
        blank=True,
        validators=[MaxLengthValidator(TEXT_MAX_LENGTH)],
        help_text="What the passage supports, in the curator's words.",
    )

    objects = CitationManager()
    history = HistoricalRecords()

    constraint_fields = {"citation_unique_source_locator": "locator"}

    class Meta:
        ordering = ["event", "source", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "source", "locator"],
                name="citation_unique_source_locator",
                violation_error_message=(
                    "This source is already cited at this locator in this event."
                ),
            ),
        ]
        indexes = [
            # "Events a source evidences" and the source filter.
            models.Index(fields=["source", "event"], name="citation_source_event_idx"),
        ]

    def __str__(self):
        return f"{self.source.title}, {self.locator}"

    def natural_key(self):
        return self.event.natural_key() + self.source.natural_key() + (self.locator,)

    natural_key.dependencies = ["events.event", "events.source"]

    def portable_data(self):
        """The citation by its source's address (no database id): the API and CSV shape."""
        published = self.source.published_on
        return {
            "source_url": self.source.url,
            "source_title": self.source.title,
            "source_publisher": self.source.publisher,
            "source_published_on": published.isoformat() if published else None,
            "locator": self.locator,
            "note": self.note,
        }


class EventLinkManager(models.Manager):
    def get_by_natural_key(self, from_slug, to_slug, kind):
        return self.get(from_event__slug=from_slug, to_event__slug=to_slug, kind=kind)


class EventLink(ConstraintErrorsOnFields):
    """A typed link: `from_event` <kind> `to_event`, e.g. an expulsion responds to a poisoning."""

    from_event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="outgoing_links")
    to_event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="incoming_links")
    kind = models.CharField(max_length=20, choices=LinkKind.choices)

    objects = EventLinkManager()
    history = HistoricalRecords()

    constraint_fields = {
        "eventlink_not_self": "to_event",
        "eventlink_unique": "to_event",
        "eventlink_kind_valid": "kind",
    }

    class Meta:
        ordering = ["from_event", "kind", "id"]
        constraints = [
            choices_constraint("kind", LinkKind, "eventlink"),
            models.UniqueConstraint(
                fields=["from_event", "to_event", "kind"],
                name="eventlink_unique",
                violation_error_message="These events are already linked this way.",
            ),
            models.CheckConstraint(
                condition=~Q(from_event=F("to_event")),
                name="eventlink_not_self",
                violation_error_message="An event cannot be linked to itself.",
            ),
        ]
        indexes = [
            # Links into an event ("answered by …") and the linked_to filter.
            models.Index(fields=["to_event", "kind"], name="eventlink_to_event_idx"),
        ]

    def __str__(self):
        return f"{self.from_event} {self.get_kind_display().lower()} {self.to_event}"

    def natural_key(self):
        return self.from_event.natural_key() + self.to_event.natural_key() + (self.kind,)

    natural_key.dependencies = ["events.event"]


class EventAliasManager(models.Manager):
    def get_by_natural_key(self, slug):
        return self.get(slug=slug)


class EventAlias(models.Model):
    """A slug that used to name an event (one merged into it): its URLs redirect there."""

    slug = models.SlugField(max_length=200, unique=True)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="aliases")

    objects = EventAliasManager()

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "event aliases"

    def __str__(self):
        return f"{self.slug} → {self.event.slug}"

    def natural_key(self):
        return (self.slug,)


# --- Proposed changes to published events ------------------------------------------------


class ProposalState(models.TextChoices):
    PENDING = "pending", "Waiting for an editor"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class ProposalQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(state=ProposalState.PENDING)


class EventProposal(models.Model):
    """A curator's change to a published event, waiting for an editor.

    `document` is the whole proposed event in the API's write shape (fields by name, and the
    participants, citations and links by natural key), so that accepting it is an ordinary
    write (events/writes.py) and the difference is taken against the event as it is now.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="proposals")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="event_proposals",
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    based_on_version = models.PositiveIntegerField(
        help_text="The event's version the curator edited; accepting refuses a stale one."
    )
    document = models.JSONField(help_text="The proposed event, in the API's write shape.")
    state = models.CharField(
        max_length=10, choices=ProposalState.choices, default=ProposalState.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="event_proposals_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="Why it was rejected; the curator sees it.")

    objects = ProposalQuerySet.as_manager()

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [
            choices_constraint("state", ProposalState, "eventproposal"),
            models.CheckConstraint(
                condition=~Q(state=ProposalState.REJECTED) | ~Q(reason=""),
                name="eventproposal_rejection_has_reason",
                violation_error_message="Say why the proposal is rejected.",
            ),
        ]
        indexes = [
            # The editors' queue and an event's waiting proposals: WHERE state = 'pending'.
            models.Index(fields=["state", "event"], name="eventproposal_state_idx"),
        ]

    def __str__(self):
        return f"Proposed change to “{self.event}” by {self.proposed_by}"

    def get_absolute_url(self):
        return reverse("admin:events_eventproposal_change", args=[self.pk])
