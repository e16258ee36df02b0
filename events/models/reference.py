"""Reference data: countries, actors (with offices and bloc memberships) and sources."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from .base import Versioned, choices_constraint
from .choices import STATE_KINDS, ActorKind, SourceKind

# --- Countries ---------------------------------------------------------------------------


class CountryManager(models.Manager):
    def get_by_natural_key(self, code):
        return self.get(code=code.upper())


class Country(models.Model):
    """An ISO 3166-1 country, with the codes researchers join other data sets on.

    The ISO numeric, Correlates of War (COW) and Gleditsch-Ward (GW) codes in
    fixtures/countries.json come from the codelist of the R package `countrycode`
    (github.com/vincentarelbundock/countrycode, dictionary/codelist_without_cldr.csv: iso3n,
    cown, gwn). Two codes it leaves empty are taken from the state lists in the same repository,
    which hold them in their latest year under a predecessor's name: Serbia's COW 345
    (dictionary/data_cow.csv, "Yugoslavia", to 2016) and Yemen's GW 678
    (dictionary/data_gw.csv, "Yemen (Arab Republic of Yemen)", to 2017). A country outside a
    state list (a territory, a microstate GW leaves out) has no code there.
    """

    code = models.CharField(
        "ISO alpha-2 code", max_length=2, unique=True, help_text="ISO 3166-1 alpha-2, e.g. GB."
    )
    code3 = models.CharField(
        "ISO alpha-3 code", max_length=3, unique=True, help_text="ISO 3166-1 alpha-3, e.g. GBR."
    )
    name = models.CharField(max_length=100, help_text="ISO 3166-1 short name.")
    # Nullable so that a country added without its codes (a test's, a script's) is no clash of
    # empty values under the unique constraints.
    iso_numeric = models.CharField(
        "ISO numeric code",
        max_length=3,
        unique=True,
        null=True,
        blank=True,
        help_text="ISO 3166-1 numeric, three digits, e.g. 392.",
    )
    cow_code = models.PositiveSmallIntegerField(
        "COW code",
        unique=True,
        null=True,
        blank=True,
        help_text="Correlates of War state number, e.g. 740; empty if not a COW state.",
    )
    gw_code = models.PositiveSmallIntegerField(
        "Gleditsch-Ward code",
        unique=True,
        null=True,
        blank=True,
        help_text="Gleditsch-Ward state number, e.g. 740; empty if not a GW state.",
    )

    objects = CountryManager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z]{2}$"),
                name="country_code_format",
                violation_error_message="The alpha-2 code is two capital letters.",
            ),
            models.CheckConstraint(
                condition=Q(code3__regex=r"^[A-Z]{3}$"),
                name="country_code3_format",
                violation_error_message="The alpha-3 code is three capital letters.",
            ),
            models.CheckConstraint(
                condition=Q(iso_numeric__isnull=True) | Q(iso_numeric__regex=r"^[0-9]{3}$"),
                name="country_iso_numeric_format",
                violation_error_message="The ISO numeric code is three digits, e.g. 036.",
            ),
            models.CheckConstraint(
                condition=Q(cow_code__isnull=True) | Q(cow_code__gte=1),
                name="country_cow_code_positive",
                violation_error_message="A COW state number is a positive whole number.",
            ),
            models.CheckConstraint(
                condition=Q(gw_code__isnull=True) | Q(gw_code__gte=1),
                name="country_gw_code_positive",
                violation_error_message="A Gleditsch-Ward state number is a positive whole number.",
            ),
        ]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.code,)


# --- Actors ------------------------------------------------------------------------------


class ActorQuerySet(models.QuerySet):
    def get_by_natural_key(self, slug):
        return self.get(slug=slug)

    def with_related(self):
        """An actor with its country, offices held and (a group's) member countries."""
        return self.select_related("country").prefetch_related(
            models.Prefetch(
                "offices", queryset=Office.objects.select_related("country", "organisation")
            ),
            models.Prefetch("memberships", queryset=Membership.objects.select_related("country")),
        )


class Actor(Versioned):
    kind = models.CharField(max_length=20, choices=ActorKind.choices)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True, help_text="Public identifier.")
    country = models.ForeignKey(
        Country,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="actors",
        help_text="The state a state actor or ministry belongs to; for a person, their "
        "citizenship (an office held at the time, not citizenship, makes a state a party).",
    )
    description = models.TextField(blank=True)
    member_countries = models.ManyToManyField(
        Country,
        through="Membership",
        related_name="blocs",
        blank=True,
        help_text="For a group or a coalition of states: its members (a coalition's: those "
        "the sources name).",
    )
    member_count_low = models.PositiveIntegerField(
        "members, at least",
        null=True,
        blank=True,
        help_text="For a coalition only: a lower bound of how many states it counts, as the "
        'sources give it ("more than 20 countries" is 21). Empty when not known.',
    )

    objects = ActorQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            choices_constraint("kind", ActorKind, "actor"),
            models.CheckConstraint(
                condition=Q(member_count_low__isnull=True)
                | Q(kind=ActorKind.COALITION, member_count_low__gte=1),
                name="actor_member_count_low_coalition",
                violation_error_message="Only a coalition has a number of members, at least 1.",
            ),
        ]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.slug,)

    @property
    def is_coalition(self):
        return self.kind == ActorKind.COALITION

    @property
    def members_text(self):
        """A coalition's size as the sources give it: "more than 20 countries"."""
        if self.member_count_low is None:
            return ""
        if self.member_count_low == 1:
            return "at least 1 country"
        return f"more than {self.member_count_low - 1} countries"

    def acting_country(self, start, end):
        """The country this actor makes a party to an event of the period `start`–`end`, or
        None: a state's or an agency's own country; for a person, the country of a state office
        held at some time in that period (from the prefetched offices); nobody else's. The rule
        of INVOLVEMENT_SQL (events/models/derived.py), for rows already loaded."""
        if self.kind in STATE_KINDS:
            return self.country
        if self.kind != ActorKind.PERSON:
            return None
        for office in self.offices.all():
            if office.country_id and office.overlaps(start, end):
                return office.country
        return None


class MembershipManager(models.Manager):
    def get_by_natural_key(self, bloc_slug, country_code):
        return self.get(bloc__slug=bloc_slug, country__code=country_code)


class Membership(models.Model):
    """A country's membership of a group of states, optionally dated; or a state a coalition's
    sources name among its members."""

    bloc = models.ForeignKey(Actor, on_delete=models.CASCADE, related_name="memberships")
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="memberships")
    joined_on = models.DateField(null=True, blank=True)
    left_on = models.DateField(null=True, blank=True)

    objects = MembershipManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["bloc", "country__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["bloc", "country"],
                name="membership_unique_country",
                violation_error_message="This country is already a member of this group.",
            ),
            models.CheckConstraint(
                condition=Q(left_on__isnull=True)
                | Q(joined_on__isnull=True)
                | Q(left_on__gte=F("joined_on")),
                name="membership_left_after_joined",
                violation_error_message="A country cannot leave before it joins.",
            ),
        ]

    def __str__(self):
        return f"{self.country} in {self.bloc}"

    def natural_key(self):
        return self.bloc.natural_key() + self.country.natural_key()

    natural_key.dependencies = ["events.actor", "events.country"]

    def clean(self):
        if self.bloc_id and self.bloc.kind not in (ActorKind.BLOC, ActorKind.COALITION):
            raise ValidationError(
                {"bloc": "Only a group or a coalition of states has member countries."}
            )


class OfficeManager(models.Manager):
    def get_by_natural_key(self, person_slug, title, start_date):
        return self.get(holder__slug=person_slug, title=title, start_date=start_date)


class Office(models.Model):
    """An office a person holds over time: "Foreign Minister" of Japan from a date to a date."""

    holder = models.ForeignKey(Actor, on_delete=models.CASCADE, related_name="offices")
    title = models.CharField(
        max_length=200, help_text='As the sources give it: "Foreign Minister".'
    )
    country = models.ForeignKey(
        Country, on_delete=models.PROTECT, null=True, blank=True, related_name="offices"
    )
    organisation = models.ForeignKey(
        Actor,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="posts",
        help_text="The body the office belongs to, when not a state (a university, a ministry).",
    )
    start_date = models.DateField(null=True, blank=True, help_text="Empty when not known.")
    end_date = models.DateField(
        null=True, blank=True, help_text="Empty when still held or not known."
    )

    objects = OfficeManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["holder", "start_date", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(end_date__gte=F("start_date")),
                name="office_end_after_start",
                violation_error_message="An office cannot end before it starts.",
            ),
        ]

    def __str__(self):
        where = self.country or self.organisation
        return f"{self.title} ({where})" if where else self.title

    def natural_key(self):
        start = self.start_date.isoformat() if self.start_date else None
        return (*self.holder.natural_key(), self.title, start)

    natural_key.dependencies = ["events.actor"]

    def overlaps(self, start, end):
        """Whether the office was held at some time from `start` to `end`; unknown bounds do
        not exclude."""
        return (self.start_date is None or self.start_date <= end) and (
            self.end_date is None or start <= self.end_date
        )

    def held_on(self, day):
        """Whether the office was held on `day`; unknown bounds do not exclude."""
        return (self.start_date is None or self.start_date <= day) and (
            self.end_date is None or day <= self.end_date
        )


# --- Sources -----------------------------------------------------------------------------


class SourceManager(models.Manager):
    def get_by_natural_key(self, url):
        return self.get(url=url)


class Source(Versioned):
    url = models.URLField("address", max_length=500, unique=True)
    title = models.CharField(max_length=500)
    publisher = models.CharField(max_length=200)
    author = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    published_on = models.DateField("publication date", null=True, blank=True)
    language = models.CharField(
        max_length=10, default="en", help_text="BCP 47 language tag, e.g. en, ja, ru."
    )

    objects = SourceManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-published_on", "title"]
        constraints = [choices_constraint("kind", SourceKind, "source")]

    def __str__(self):
        return f"{self.title} ({self.publisher})"

    def natural_key(self):
        return (self.url,)
