"""The data model, a module per concern:

- base: constraint messages on fields, versions (Versioned), the text limit;
- choices: the TextChoices, each backed by a CHECK constraint;
- reference: countries, actors (offices, bloc memberships), sources;
- events: events, participants, citations, links, aliases, proposals;
- derived: the rows and columns derived from them, and the signals that keep them in step;
- rollups: the tallies and cells the aggregates read (kept in step by events/rollups.py);
- jobs: the admin's background imports (run by events/tasks.py).

Everything is importable from `events.models`, as before the split.
"""

from .base import (
    TEXT_MAX_LENGTH,
    ConcurrentEditError,
    Versioned,
)
from .choices import (
    STATE_KINDS,
    ActorKind,
    DatePrecision,
    EventKind,
    EventStatus,
    LinkKind,
    ReviewState,
    Role,
    SourceKind,
)
from .derived import (
    CountryInvolvement,
    build_search_text,
    derive_codes,
    refresh_involvements,
    refresh_search_text,
)
from .events import (
    Citation,
    CountryIdsField,
    EnglishDocument,
    Event,
    EventAlias,
    EventLink,
    EventProposal,
    EventQuerySet,
    Participation,
    ProposalState,
    period_end,
    sides_prefetch,
)
from .jobs import ImportFormat, ImportJob, JobState
from .reference import (
    Actor,
    Country,
    Membership,
    Office,
    Source,
)
from .rollups import AggregateCell, EventTally, TallyKey, TallyPart

__all__ = [
    "STATE_KINDS",
    "TEXT_MAX_LENGTH",
    "Actor",
    "ActorKind",
    "AggregateCell",
    "Citation",
    "ConcurrentEditError",
    "Country",
    "CountryIdsField",
    "CountryInvolvement",
    "DatePrecision",
    "EnglishDocument",
    "Event",
    "EventAlias",
    "EventKind",
    "EventLink",
    "EventProposal",
    "EventQuerySet",
    "EventStatus",
    "EventTally",
    "ImportFormat",
    "ImportJob",
    "JobState",
    "LinkKind",
    "Membership",
    "Office",
    "Participation",
    "ProposalState",
    "ReviewState",
    "Role",
    "Source",
    "SourceKind",
    "TallyKey",
    "TallyPart",
    "Versioned",
    "build_search_text",
    "derive_codes",
    "period_end",
    "refresh_involvements",
    "refresh_search_text",
    "sides_prefetch",
]
