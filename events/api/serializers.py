"""The API's representations, and the writes that go through them.

An event has one shape in lists, details and write responses, built from rows in
representation.py (four queries for any number of events); the declared fields of
`EventSerializer` say the same shape to the OpenAPI schema and validate writes.
Writes name related records by natural keys (actor slug, country code, source id or address,
event slug) and go through the one write path (events/writes.py), which holds the rules:
who may write, publish rules, proposals and versions.
"""

from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxLengthValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.reverse import reverse

from .. import writes
from ..codes import QuadClass
from ..filters import resolve_country, whole_number
from ..models import (
    TEXT_MAX_LENGTH,
    Actor,
    ActorKind,
    ConcurrentEditError,
    Country,
    Event,
    EventKind,
    EventProposal,
    LinkKind,
    Membership,
    Office,
    ReviewState,
    Role,
    Source,
)
from ..representation import event_url_maker, represent_events
from ..shape import API_FIELDS

# How many of the events a source evidences its representation lists (newest first).
SOURCE_EVENTS_SHOWN = 50


def can_see_drafts(user):
    """Whether `user` sees draft events (the rule of `EventQuerySet.visible_to`)."""
    return bool(user and user.is_authenticated and user.has_perm("events.view_event"))


def as_drf_error(error: DjangoValidationError):
    """A model ValidationError as DRF field errors (form-wide ones under non_field_errors)."""
    if not hasattr(error, "error_dict"):
        return serializers.ValidationError({"non_field_errors": error.messages})
    return serializers.ValidationError(
        {
            ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
            for field, messages in error.message_dict.items()
        }
    )


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "This record was changed by someone else since you read it."
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = 412
    default_detail = "If-Match does not match the stored version."
    default_code = "precondition_failed"


# --- Fields that read natural keys -------------------------------------------------------


def reject_nul(value):
    # PostgreSQL text cannot hold NUL; refuse it as bad input rather than fail on the query.
    if isinstance(value, str) and "\x00" in value:
        raise serializers.ValidationError("Null characters are not allowed.")


@extend_schema_field(OpenApiTypes.STR)
class CountryCodeField(serializers.Field):
    """A country written as an ISO alpha-2 or alpha-3 code in any case (or as the filters take
    it: `cow:740`, `gw:740`, `iso3n:392`), shown as alpha-2."""

    default_error_messages = {"unknown": "Unknown country code {value!r}."}

    def to_representation(self, country):
        return country.code

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("unknown", value=data)
        reject_nul(data)
        country = resolve_country(data.strip())
        if country is None:
            self.fail("unknown", value=data)
        return country


class NaturalSlugField(serializers.SlugRelatedField):
    """A related record named by its slug; an unknown slug is an error naming it."""

    default_error_messages = {"invalid": "Give a slug (text)."}

    def __init__(self, noun, **kwargs):
        self.noun = noun
        super().__init__(slug_field="slug", **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        reject_nul(data)
        instance = self.get_queryset().filter(slug=data).first()
        if instance is None:
            raise serializers.ValidationError(f"Unknown {self.noun} {data!r}.")
        return instance


def expected_version(request, body_version):
    """The version a write is based on: If-Match (an ETag such as "3") first, else the body's
    `version`. Returns (version, whether it came from If-Match)."""
    header = request.headers.get("If-Match")
    if header:
        value = header.strip().removeprefix("W/").strip('"')
        version = whole_number(value)
        if version is None:
            raise serializers.ValidationError(
                {"If-Match": ['Send the ETag of the record you read, such as "3".']}
            )
        return version, True
    if body_version is None:
        raise serializers.ValidationError(
            {
                "version": [
                    "Send the version you read (or an If-Match header), "
                    "so that no one's change is lost."
                ]
            }
        )
    return body_version, False


@contextmanager
def api_errors(precondition=False):
    """The write path's refusals as the API's answers: 409/412 for a stale version, 400 with
    field messages for bad input (a refusal of who may write is already a 403)."""
    try:
        yield
    except ConcurrentEditError as error:
        raise (PreconditionFailed if precondition else Conflict)(str(error)) from error
    except writes.ChildrenInvalid as error:
        items = {index: as_drf_error(item).detail for index, item in enumerate(error.items) if item}
        raise serializers.ValidationError({error.field: items}) from error
    except writes.PublishError as error:
        raise serializers.ValidationError({"review_state": [str(error)]}) from error
    except DjangoValidationError as error:
        raise as_drf_error(error) from error


class VersionedRecordMixin:
    """Actors and sources: created and changed through writes.save_record, each change based
    on the version read (`version` or If-Match), a stale one refused with 409/412."""

    def get_fields(self):
        fields = super().get_fields()
        fields["version"] = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=2_147_483_647,
            help_text="Raised on every save. On update, send the version you read.",
        )
        return fields

    def create(self, validated_data):
        validated_data.pop("version", None)
        with api_errors():
            return writes.save_record(
                self.context["request"].user, self.Meta.model(**validated_data)
            )

    def update(self, instance, validated_data):
        request = self.context["request"]
        seen, precondition = expected_version(request, validated_data.pop("version", None))
        for name, value in validated_data.items():
            setattr(instance, name, value)
        with api_errors(precondition):
            return writes.save_record(request.user, instance, seen_version=seen)


# --- Countries ---------------------------------------------------------------------------

KindCounts = type(
    "KindCounts",
    (serializers.Serializer,),
    {kind: serializers.IntegerField(min_value=0) for kind in EventKind.values},
)
RoleCounts = type(
    "RoleCounts",
    (serializers.Serializer,),
    {role: serializers.IntegerField(min_value=0) for role in Role.values},
)


class EventCountsSerializer(serializers.Serializer):
    by_kind = KindCounts(help_text="Events the country is involved in (location or participant).")
    by_role = RoleCounts(help_text="Events in which an actor of the country has this role.")


class CountrySerializer(serializers.ModelSerializer):
    """An ISO country, its codes in other lists (ISO numeric, Correlates of War, Gleditsch-Ward:
    null where a list has no such state), and the events (visible to you) it is involved in,
    counted."""

    url = serializers.HyperlinkedIdentityField(view_name="api:country-detail", lookup_field="code")
    event_counts = serializers.SerializerMethodField()

    class Meta:
        model = Country
        fields = [
            "code",
            "code3",
            "name",
            "iso_numeric",
            "cow_code",
            "gw_code",
            "url",
            "event_counts",
        ]

    @extend_schema_field(EventCountsSerializer)
    def get_event_counts(self, country):
        counts = self.context["event_counts"].get(country.pk, {})
        return {
            "by_kind": {kind: counts.get(("kind", kind), 0) for kind in EventKind.values},
            "by_role": {role: counts.get(("role", role), 0) for role in Role.values},
        }


# --- Actors ------------------------------------------------------------------------------


class OfficeSerializer(serializers.ModelSerializer):
    country = CountryCodeField(read_only=True, allow_null=True)
    organisation = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Office
        fields = ["title", "country", "organisation", "start_date", "end_date"]


class MemberSerializer(serializers.ModelSerializer):
    country = CountryCodeField(read_only=True)
    country_name = serializers.CharField(source="country.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["country", "country_name", "joined_on", "left_on"]


class ActorSerializer(VersionedRecordMixin, serializers.ModelSerializer):
    """An actor; a person with the offices held, a group or coalition of states with its
    members (a coalition's: those the sources name, and a lower bound of how many)."""

    url = serializers.HyperlinkedIdentityField(view_name="api:actor-detail", lookup_field="slug")
    country = CountryCodeField(
        required=False, allow_null=True, help_text="ISO alpha-2 or alpha-3 code, any case."
    )
    offices = OfficeSerializer(many=True, read_only=True, help_text="Offices a person held.")
    members = MemberSerializer(
        many=True,
        read_only=True,
        source="memberships",
        help_text="For a group of states: its member countries; for a coalition: the members "
        "the sources name.",
    )

    class Meta:
        model = Actor
        fields = [
            "slug",
            "url",
            "kind",
            "name",
            "country",
            "description",
            "offices",
            "members",
            "member_count_low",
            "version",
        ]


# --- Sources -----------------------------------------------------------------------------


class EventReferenceSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    url = serializers.URLField()
    kind = serializers.ChoiceField(EventKind.choices)
    title = serializers.CharField()
    start_date = serializers.DateField()


class SourceSerializer(VersionedRecordMixin, serializers.ModelSerializer):
    """A source (`url` is its address, `api_url` this record) and the events it evidences."""

    api_url = serializers.HyperlinkedIdentityField(view_name="api:source-detail")
    event_count = serializers.IntegerField(
        read_only=True, help_text="How many (visible) events cite this source."
    )
    events = serializers.SerializerMethodField(
        help_text=f"The newest events citing this source, at most {SOURCE_EVENTS_SHOWN}."
    )

    class Meta:
        model = Source
        fields = [
            "id",
            "api_url",
            "url",
            "title",
            "publisher",
            "author",
            "kind",
            "published_on",
            "language",
            "event_count",
            "events",
            "version",
        ]

    @extend_schema_field(EventReferenceSerializer(many=True))
    def get_events(self, source):
        request = self.context.get("request")
        shown, seen = [], set()
        for citation in getattr(source, "shown_citations", []):
            event = citation.event
            if event.pk not in seen:
                seen.add(event.pk)
                shown.append(
                    {
                        "slug": event.slug,
                        "url": reverse("api:event-detail", args=[event.slug], request=request),
                        "kind": event.kind,
                        "title": event.title,
                        "start_date": event.start_date.isoformat(),
                    }
                )
        return shown


# --- Events ------------------------------------------------------------------------------


class LocationSerializer(serializers.Serializer):
    country = CountryCodeField(
        required=False, allow_null=True, help_text="ISO alpha-2 (alpha-3 accepted on writes)."
    )
    country_name = serializers.CharField(read_only=True, allow_null=True)
    place = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="City or site."
    )


class NestedItemSerializer(serializers.Serializer):
    """An item of a nested list: its required fields stay required in a PATCH (which DRF
    would otherwise skip inside a partial update), and its defaults apply."""

    always_required: tuple[str, ...] = ()
    defaults: dict[str, str] = {}

    def validate(self, attrs):
        missing = {name: ["This field is required."] for name in self.always_required}
        missing = {name: error for name, error in missing.items() if name not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        return {**self.defaults, **attrs}


class ParticipantSerializer(NestedItemSerializer):
    always_required = ("actor", "role")

    actor = NaturalSlugField("actor", queryset=Actor.objects.all())
    actor_name = serializers.CharField(read_only=True)
    actor_kind = serializers.ChoiceField(ActorKind.choices, read_only=True)
    country = serializers.CharField(
        read_only=True, allow_null=True, help_text="The actor's country (ISO alpha-2)."
    )
    role = serializers.ChoiceField(Role.choices)


class CitationSerializer(NestedItemSerializer):
    always_required = ("locator",)
    defaults = {"note": ""}

    source = serializers.PrimaryKeyRelatedField(
        queryset=Source.objects.all(), required=False, help_text="Source id (or give source_url)."
    )
    source_url = serializers.URLField(
        max_length=500, required=False, help_text="The source's address (or give its id)."
    )
    source_title = serializers.CharField(read_only=True)
    source_publisher = serializers.CharField(read_only=True)
    source_published_on = serializers.DateField(read_only=True, allow_null=True)
    locator = serializers.CharField(max_length=100, help_text='Where in the source: "para. 9".')
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        validators=[MaxLengthValidator(TEXT_MAX_LENGTH)],
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        source, address = attrs.get("source"), attrs.pop("source_url", None)
        if address is not None:
            reject_nul(address)
            by_address = Source.objects.filter(url=address).first()
            if by_address is None:
                raise serializers.ValidationError({"source_url": f"Unknown source {address!r}."})
            if source is not None and source != by_address:
                raise serializers.ValidationError(
                    {"source_url": f"This is not the address of source {source.pk}."}
                )
            attrs["source"] = by_address
        elif source is None:
            raise serializers.ValidationError(
                {"source": "Give the source's id (source) or its address (source_url)."}
            )
        return attrs


class LinkSerializer(NestedItemSerializer):
    always_required = ("kind", "event")
    defaults = {"direction": "outgoing"}

    direction = serializers.ChoiceField(
        [("outgoing", "This event <kind> the other"), ("incoming", "The other <kind> this event")],
        default="outgoing",
    )
    kind = serializers.ChoiceField(LinkKind.choices)
    event = NaturalSlugField(
        "event", queryset=Event.objects.all(), help_text="The other event's slug."
    )
    title = serializers.CharField(read_only=True, help_text="The other event's title.")


def duplicates(items, key):
    """Index -> message for items whose `key` repeats an earlier item's."""
    seen, repeated = set(), {}
    for index, item in enumerate(items):
        value = key(item)
        if value in seen:
            repeated[index] = value
        seen.add(value)
    return repeated


def item_errors(count, errors):
    """DRF's shape for errors in a nested list: {index of the item: its errors}."""
    return {index: errors[index] for index in range(count) if index in errors}


def expelled_estimate_field(help_text):
    """An estimate of people expelled: null, or a whole number from 1 (the constraint's rule,
    with its message) to PostgreSQL's integer limit."""
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2_147_483_647,
        error_messages={"min_value": Event.constraint_message("event_expelled_positive")},
        help_text=f"Expulsions only: {help_text}",
    )


class EventSerializer(serializers.ModelSerializer):
    """An event with its participants, citations and links, for reading and writing.

    On update, `version` (or an `If-Match` header) must carry the version the change is based
    on: a stale one is refused (409 for `version`, 412 for `If-Match`). Participants,
    citations and links, when given, replace the stored ones; PATCH leaves out what it omits.
    """

    url = serializers.URLField(read_only=True, help_text="This event in the API.")
    location = LocationSerializer(required=False)
    participants = ParticipantSerializer(many=True, required=False)
    # People expelled as three estimates (UCDP GED's low, best and high): "60" is 60, 60, 60;
    # "in excess of 100" is a low of 101 with no best or high. The order (low ≤ best ≤ high)
    # and "expulsions only" are the model's constraints, checked against the stored values
    # too on a PATCH.
    expelled_low = expelled_estimate_field(
        'The fewest people expelled the sources allow ("in excess of 100": 101).'
    )
    expelled_best = expelled_estimate_field(
        'The sources\' figure of people expelled ("60": 60); null when they give only a bound.'
    )
    expelled_high = expelled_estimate_field(
        "The most people expelled the sources allow; null when they give no upper bound."
    )
    citations = CitationSerializer(many=True, required=False)
    links = LinkSerializer(many=True, required=False)
    review_state = serializers.ChoiceField(
        ReviewState.choices,
        required=False,
        help_text="published needs the publish permission and a participant and a citation.",
    )
    cameo_code = serializers.CharField(read_only=True, help_text="Derived from kind and mode.")
    plover_type = serializers.CharField(read_only=True, help_text="Derived from kind and mode.")
    plover_mode = serializers.CharField(read_only=True, help_text="Derived from kind and mode.")
    goldstein = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="Goldstein scale value (-10 conflict to +10 cooperation) of the CAMEO code.",
    )
    quad_class = serializers.ChoiceField(
        QuadClass.choices,
        read_only=True,
        allow_null=True,
        help_text="GDELT quad class of the CAMEO code: 1 verbal cooperation, 2 material "
        "cooperation, 3 verbal conflict, 4 material conflict.",
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2_147_483_647,
        help_text="Raised on every save. On update, send the version you read.",
    )

    class Meta:
        model = Event
        fields = API_FIELDS  # the event's shape, listed once (events/shape.py)

    # -- reading ------------------------------------------------------------------------

    def shows_drafts(self):
        if "shows_drafts" not in self.context:
            request = self.context.get("request")
            self.context["shows_drafts"] = can_see_drafts(getattr(request, "user", None))
        return self.context["shows_drafts"]

    def event_url(self):
        if "event_url" not in self.context:
            self.context["event_url"] = event_url_maker(self.context.get("request"))
        return self.context["event_url"]

    def to_representation(self, event):
        # Read back from the database as rows, whatever the instance holds (a write's
        # response shows what was stored): the one shape, built in representation.py.
        found = represent_events(
            Event.objects.filter(pk=event.pk), self.shows_drafts(), self.event_url()
        )
        return found[0]

    # -- writing ------------------------------------------------------------------------

    def validate_participants(self, items):
        repeated = duplicates(items, lambda item: (item["actor"].pk, item["role"]))
        if repeated:
            message = "This actor already has this role in this event."
            raise serializers.ValidationError(
                item_errors(len(items), {i: {"role": [message]} for i in repeated})
            )
        return items

    def validate_citations(self, items):
        repeated = duplicates(items, lambda item: (item["source"].pk, item["locator"]))
        if repeated:
            message = "This source is already cited at this locator in this event."
            raise serializers.ValidationError(
                item_errors(len(items), {i: {"locator": [message]} for i in repeated})
            )
        return items

    def validate_links(self, items):
        errors = {}
        for index in duplicates(
            items, lambda item: (item["direction"], item["event"].pk, item["kind"])
        ):
            errors[index] = {"event": ["These events are already linked this way."]}
        if self.instance is not None:
            for index, item in enumerate(items):
                if item["event"].pk == self.instance.pk:
                    errors[index] = {"event": ["An event cannot be linked to itself."]}
        if errors:
            raise serializers.ValidationError(item_errors(len(items), errors))
        return items

    def validate(self, attrs):
        if "location" in attrs:
            location = attrs.pop("location")
            if "country" in location or not self.partial:
                attrs["location_country"] = location.get("country")
            if "place" in location or not self.partial:
                attrs["place"] = location.get("place", "")
        return attrs

    def create(self, validated_data):
        validated_data.pop("version", None)
        children = {name: validated_data.pop(name, None) for name in CHILDREN}
        with api_errors():
            return writes.create_event(self.context["request"].user, validated_data, children)

    def update(self, event, validated_data):
        """The event, or the EventProposal a curator's change to a published event became."""
        request = self.context["request"]
        seen, precondition = expected_version(request, validated_data.pop("version", None))
        children = {name: validated_data.pop(name, None) for name in CHILDREN}
        with api_errors(precondition):
            return writes.update_event(
                request.user, event, validated_data, children, seen_version=seen
            )


CHILDREN = ("participants", "citations", "links")


# --- Proposals ---------------------------------------------------------------------------


class DifferenceSerializer(serializers.Serializer):
    field = serializers.CharField()
    current = serializers.JSONField(allow_null=True)
    proposed = serializers.JSONField(allow_null=True)


class ProposalSerializer(serializers.ModelSerializer):
    """A curator's proposed change to a published event, and what accepting it would change."""

    url = serializers.HyperlinkedIdentityField(view_name="api:proposal-detail")
    event = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    proposed_by = serializers.StringRelatedField()
    decided_by = serializers.StringRelatedField()
    difference = serializers.SerializerMethodField(
        help_text="Field by field: the event now and as proposed (lists compared whole)."
    )

    class Meta:
        model = EventProposal
        fields = [
            "id",
            "url",
            "event",
            "proposed_by",
            "proposed_at",
            "based_on_version",
            "state",
            "decided_by",
            "decided_at",
            "reason",
            "document",
            "difference",
        ]
        read_only_fields = fields

    @extend_schema_field(DifferenceSerializer(many=True))
    def get_difference(self, proposal):
        return [
            {"field": field, "current": now, "proposed": proposed}
            for field, now, proposed in writes.proposal_difference(proposal)
        ]


class ProposalSummarySerializer(ProposalSerializer):
    """A proposal in a list: who, when, which event, its state (the difference is in the
    detail)."""

    class Meta(ProposalSerializer.Meta):
        fields = [f for f in ProposalSerializer.Meta.fields if f not in ("document", "difference")]
        read_only_fields = fields
