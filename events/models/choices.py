"""The choices of the data model, each backed by a CHECK constraint (choices_constraint)."""

from django.db import models

# --- Choices -----------------------------------------------------------------------------


class ActorKind(models.TextChoices):
    PERSON = "person", "Person"
    STATE = "state", "State or government"
    AGENCY = "agency", "Ministry or agency"
    ORGANISATION = "organisation", "International organisation"
    BLOC = "bloc", "Group of states"
    # Several states acting together in one event ("the United Kingdom's international partners:
    # more than 20 countries"): its named members and a lower bound of how many.
    COALITION = "coalition", "Coalition of states"
    ACADEMIC = "academic", "Academic institution or think tank"
    MEDIA = "media", "Media"


# The kinds through which a country itself acts: a state, and its ministries and agencies (by
# the actor's country). A person involves a state only through an office of it held at the
# time of the event; a coalition, a group, an organisation, a university or a newspaper
# involves no country by itself (events/models/derived.py, INVOLVEMENT_SQL).
STATE_KINDS = (ActorKind.STATE, ActorKind.AGENCY)


class SourceKind(models.TextChoices):
    NEWS = "news", "News"
    COMMENTARY = "commentary", "Commentary"
    OFFICIAL_STATEMENT = "official_statement", "Official statement"
    REPORT = "report", "Report"


class EventKind(models.TextChoices):
    EXPULSION = "expulsion", "Expulsion"
    SUMMIT = "summit", "Summit"
    MEETING = "meeting", "Meeting"
    PHONE_CALL = "phone_call", "Phone call"
    STATEMENT = "statement", "Statement"
    SANCTION = "sanction", "Sanction"
    AGREEMENT = "agreement", "Agreement"
    INCIDENT = "incident", "Incident"


class DatePrecision(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"
    YEAR = "year", "Year"


class EventStatus(models.TextChoices):
    OCCURRED = "occurred", "Occurred"
    PLANNED = "planned", "Planned"
    POSTPONED = "postponed", "Postponed"
    CANCELLED = "cancelled", "Cancelled"


class ReviewState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class Role(models.TextChoices):
    INITIATOR = "initiator", "Initiator"
    TARGET = "target", "Target"
    HOST = "host", "Host"
    GUEST = "guest", "Guest"
    PARTICIPANT = "participant", "Participant"
    SPEAKER = "speaker", "Speaker"


class LinkKind(models.TextChoices):
    PART_OF = "part_of", "Part of"
    RESPONDS_TO = "responds_to", "Responds to"
    RETALIATES_FOR = "retaliates_for", "Retaliates for"
    FOLLOWS_UP = "follows_up", "Follows up"
