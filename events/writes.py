"""The one write path: every change to events, their participants, citations and links,
actors and sources goes through these operations, and the rules live here once.

Every door calls them: the admin (event form, inlines, the child rows' own pages, actions,
import, merge, proposals), the API, `import_events`, `load_fixtures` and `generate_synthetic`.

The rules:
- anonymous never writes;
- curators create and change drafts (and their children), actors and sources;
- only editors publish, unpublish, delete, merge, or change a published event or any of its
  participants, citations and links; a curator's change to a published event is saved as a
  proposal (`propose`) that an editor accepts or rejects;
- a published event always keeps at least one participant and one citation;
- a change to a participant, citation or link is a change to its event: it raises the event's
  version and is recorded in the event's history with who made it;
- every write states the version it was based on, and a stale one is refused
  (`ConcurrentEditError`); events, actors and sources are versioned alike (`Versioned`).
"""

from contextlib import suppress
from contextvars import ContextVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from .models import (
    Actor,
    Citation,
    ConcurrentEditError,
    Event,
    EventAlias,
    EventLink,
    EventProposal,
    Participation,
    ProposalState,
    ReviewState,
    Source,
)

__all__ = ["ConcurrentEditError"]

PUBLISH_PERMISSION = "events.publish_event"


class WriteRefused(PermissionDenied):
    """This user may not make this change; the message says who may."""


class PublishError(Exception):
    """An event is not ready to publish; the message names it and says why."""


class ChildrenInvalid(Exception):
    """Some of the participants, citations or links given are invalid: `items` holds, for
    each item in order, its ValidationError or None."""

    def __init__(self, field, items):
        self.field, self.items = field, items
        super().__init__(f"Invalid {field}.")


class CommandLine:
    """Whoever runs a management command: an editor when the command says so (`--publish`),
    else a curator. History names no user for their writes."""

    is_authenticated = True
    is_active = True
    is_superuser = False
    pk = None

    def __init__(self, editor=False):
        self.editor = editor

    def has_perm(self, perm, obj=None):
        return self.editor or perm not in EDITOR_ONLY

    def __str__(self):
        return "the command line"


EDITOR_ONLY = {
    PUBLISH_PERMISSION,
    "events.delete_event",
    "events.delete_actor",
    "events.delete_source",
}


def history_user(user):
    """The user to name on a history record (None for the command line)."""
    return user if getattr(user, "pk", None) is not None else None


# --- Who may do what -----------------------------------------------------------------------


def is_editor(user):
    return bool(user and user.is_authenticated and user.has_perm(PUBLISH_PERMISSION))


def _stored_state(event):
    """The review state as stored (a form or payload may hold a new one)."""
    if event.pk is None:
        return ReviewState.DRAFT
    return (
        Event._base_manager.filter(pk=event.pk).values_list("review_state", flat=True).first()
        or ReviewState.DRAFT
    )


# While `propose()` runs a curator's change in the transaction it rolls back: (user, event)
# ids. That change may go through the door's ordinary writes, which check may_change_event.
_proposing = ContextVar("proposing", default=None)


def may_change(user, review_state):
    """Whether `user` may change an event in this (stored) review state, and its children,
    directly rather than by a proposal."""
    if not (user and user.is_authenticated and user.has_perm("events.change_event")):
        return False
    return review_state != ReviewState.PUBLISHED or is_editor(user)


def may_change_event(user, event):
    """Whether `user` may change `event` (and its children) directly, not by a proposal."""
    if not (user and user.is_authenticated and user.has_perm("events.change_event")):
        return False
    if event.pk is not None and _proposing.get() == (user.pk, event.pk):
        return True  # rolled back by propose(): only what it would look like is kept
    return may_change(user, _stored_state(event))


def may_propose(user, event):
    """Whether `user` may propose a change to the published `event`."""
    return bool(
        user
        and user.is_authenticated
        and user.has_perm("events.change_event")
        and _stored_state(event) == ReviewState.PUBLISHED
        and not is_editor(user)
    )


def require(allowed, message):
    if not allowed:
        raise WriteRefused(message)


def require_editor(user, what="publish or unpublish events"):
    require(is_editor(user), f"Only an editor may {what}.")


def require_change_event(user, event):
    require(user and user.is_authenticated, "Sign in to change events.")
    require(user.has_perm("events.change_event"), "You may not change events.")
    require(
        may_change_event(user, event),
        f"“{event}” is published: only an editor may change it or its participants, "
        "citations and links (a curator proposes a change instead).",
    )


def require_record_permission(user, model, action):
    """add / change / delete of an actor or source (model permissions, editors to delete)."""
    require(user and user.is_authenticated, "Sign in to change the data.")
    name = model._meta.model_name
    require(
        user.has_perm(f"events.{action}_{name}"),
        f"You may not {action} {model._meta.verbose_name_plural}."
        + (" Only an editor may delete them." if action == "delete" else ""),
    )


# --- Versions --------------------------------------------------------------------------------


def check_version(record, seen):
    """Refuse a write based on version `seen` when the stored record is at another one."""
    if record.pk is None:
        return
    stored = type(record)._base_manager.filter(pk=record.pk).values_list("version", flat=True)
    stored = stored.first()
    if seen is None:
        raise ValidationError(
            {"version": "Send the version you read, so that no one's change is lost."}
        )
    if stored is not None and int(seen) != stored:
        record.version = int(seen)
        raise ConcurrentEditError(record, stored)
    record.version = int(seen)


def stale_row_message(slug, seen, stored):
    """The import's refusal of a row exported before the event last changed."""
    return (
        f"{slug!r} changed since this file was exported "
        f"(version {seen} in the file, {stored} stored)"
    )


# --- Publishing ------------------------------------------------------------------------------


# The publish rule, as a door that checks rows before writing them words it, per field.
PUBLISHED_KEEPS = {
    "participants": "a published event keeps at least one participant",
    "citations": "a published event keeps at least one citation",
}


def publish_problems(event):
    """Why this event cannot be published (or stay published); empty when it can."""
    problems = []
    if not event.participations.exists():
        problems.append("it has no participant")
    if not event.citations.exists():
        problems.append("it cites no source")
    return problems


def ensure_publishable(event):
    """Refuse a published event without a participant or a citation (rolls back the write)."""
    if event.review_state == ReviewState.PUBLISHED:
        problems = publish_problems(event)
        if problems:
            raise PublishError(f"“{event.title}” cannot be published: {' and '.join(problems)}.")


def unpublishable(events):
    """The published events of the queryset `events` that break the publish rule, each with
    its problems: [(event, [problem, ...])], for doors that write many rows at once."""
    has_participant = models.Exists(Participation.objects.filter(event=models.OuterRef("pk")))
    has_citation = models.Exists(Citation.objects.filter(event=models.OuterRef("pk")))
    found = (
        events.filter(review_state=ReviewState.PUBLISHED)
        .annotate(has_participant=has_participant, has_citation=has_citation)
        .filter(models.Q(has_participant=False) | models.Q(has_citation=False))
        .order_by("slug")
    )
    return [
        (
            event,
            [
                problem
                for problem, missing in (
                    ("it has no participant", not event.has_participant),
                    ("it cites no source", not event.has_citation),
                )
                if missing
            ],
        )
        for event in found
    ]


def publish(user, event) -> Event:
    """Publish one event, refusing one without a participant or a citation."""
    require_editor(user)
    if event.review_state != ReviewState.PUBLISHED:
        event.review_state = ReviewState.PUBLISHED
        ensure_publishable(event)
        event._history_user = history_user(user)
        event.save()
    return event


def unpublish(user, event) -> Event:
    """Return an event to draft."""
    require_editor(user)
    if event.review_state != ReviewState.DRAFT:
        event.review_state = ReviewState.DRAFT
        event._history_user = history_user(user)
        event.save()
    return event


def set_review_state(user, events, state):
    """Publish or unpublish each event (saving each, so history records it).

    Returns (changed events, refusals), each refusal a message naming its event.
    """
    require_editor(user)
    action = publish if state == ReviewState.PUBLISHED else unpublish
    changed, refused = [], []
    for event in events:
        try:
            with transaction.atomic():
                before = event.review_state
                action(user, event)
                if event.review_state != before:
                    changed.append(event)
        except (PublishError, ConcurrentEditError) as error:
            refused.append(str(error))
    return changed, refused


# --- Events and their children ---------------------------------------------------------------


def touch(event, user, reason):
    """Record a change to an event's children as a change to the event: its version goes up
    and its history names who and why."""
    event._history_user = history_user(user)
    event._change_reason = reason
    event.save()


# The foreign keys by which a participant, citation or link belongs to its event(s).
CHILD_EVENT_FIELDS = {
    Participation: ("event",),
    Citation: ("event",),
    EventLink: ("from_event", "to_event"),
}


def lock_events(events):
    """Lock the rows of `events` until the transaction ends, in id order, before a child is
    written: every door then takes the event before its children (the event form saves the
    event, then its inlines), so two writers never wait on each other in opposite orders."""
    ids = sorted({event.pk for event in events if event.pk is not None})
    list(Event.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))


def _events_of(row):
    return [getattr(row, name) for name in CHILD_EVENT_FIELDS[type(row)]]


def child_events(row):
    """The events a participant, citation or link belongs to: for a stored row, first those
    it is stored with (the first is the one its version is checked against), then those it
    is moved to. Each is a fresh copy, so saving it records the change."""
    rows = [row]
    if row.pk is not None:
        stored = type(row)._base_manager.filter(pk=row.pk).first()
        if stored is not None:
            rows.insert(0, stored)
    ids = []
    for each in rows:
        for event in _events_of(each):
            if event.pk not in ids:
                ids.append(event.pk)
    events = Event._base_manager.in_bulk(ids)
    return [events[pk] for pk in ids]


def save_child(user, row, *, seen_version=None, reason=None):
    """Add or change one participant, citation or link, as a change to its event(s): those
    it was stored with and those it is moved to. A published event keeps at least one
    participant and one citation.

    `seen_version` is the version, read when the change began, of its (stored) event (for a
    link, its `from_event`).
    """
    events = child_events(row)
    for event in events:
        require_change_event(user, event)
    with transaction.atomic():
        lock_events(events)
        if seen_version is not None:
            check_version(events[0], seen_version)
        row.full_clean()
        row._history_user = history_user(user)
        row.save()
        for event in events:
            ensure_publishable(event)
            touch(event, user, reason or f"Changed {row._meta.verbose_name}: {row}")
    return row


def delete_child(user, row, *, seen_version=None, reason=None):
    """Remove one participant, citation or link, as a change to its event(s); a published
    event keeps at least one participant and one citation."""
    events = child_events(row)
    for event in events:
        require_change_event(user, event)
    description = f"Removed {row._meta.verbose_name}: {row}"
    with transaction.atomic():
        lock_events(events)
        if seen_version is not None:
            check_version(events[0], seen_version)
        row._history_user = history_user(user)
        row.delete()
        for event in events:
            ensure_publishable(event)
            touch(event, user, reason or description)


def item_errors(count, errors):
    """Per-item errors of a list of `count` items: None for the valid ones."""
    return [errors.get(index) for index in range(count)]


def _id(value):
    """A model instance's id, or the id itself."""
    return getattr(value, "pk", value)


def child_changes(stored, wanted):
    """What replacing an event's rows of one kind changes: (dropped, saved) lists of rows.

    `stored` maps a row's natural key to the stored row; `wanted` maps the key of each row
    wanted to (row, changed), as the *_rows functions below build it. Stored rows not wanted
    are dropped; new rows and changed ones are saved; rows left as they were are not saved
    again, so history records only real changes. The import applies the same changes in bulk.
    """
    dropped = [row for key, row in stored.items() if key not in wanted]
    saved = [row for key, (row, changed) in wanted.items() if key not in stored or changed]
    return dropped, saved


def participation_rows(event, stored, items):
    """Wanted participations of `event`: `items` are (actor, role) pairs in display order (an
    actor or its id). Keys: (actor id, role)."""
    wanted = {}
    for position, (actor, role) in enumerate(items):
        key = (_id(actor), role)
        row = stored.get(key)
        if row is None:
            row = Participation(event=event, actor_id=key[0], role=role)
            if isinstance(actor, Actor):
                row.actor = actor
        changed = row.position != position
        row.position = position
        wanted[key] = (row, changed)
    return wanted


def citation_rows(event, stored, items):
    """Wanted citations of `event`: `items` are (source, locator, note) (a source or its id).
    Keys: (source id, locator)."""
    wanted = {}
    for source, locator, note in items:
        key = (_id(source), locator)
        row = stored.get(key)
        if row is None:
            row = Citation(event=event, source_id=key[0], locator=locator)
            if isinstance(source, Source):
                row.source = source
        changed = row.note != (note or "")
        row.note = note or ""
        wanted[key] = (row, changed)
    return wanted


def link_rows(stored, items):
    """Wanted links: `items` are (from event, to event, kind) (events or their ids). Keys:
    (from id, to id, kind)."""
    wanted = {}
    for source, target, kind in items:
        key = (_id(source), _id(target), kind)
        if key in stored:
            wanted[key] = (stored[key], False)
        else:
            wanted[key] = (EventLink(from_event_id=key[0], to_event_id=key[1], kind=kind), True)
    return wanted


def _replace(field, stored, wanted):
    """Apply child_changes row by row (each cleaned first, saved through the model, so that
    history and the derived rows follow)."""
    dropped, saved = child_changes(stored, wanted)
    for row in dropped:
        row.delete()
    positions = {id(row): index for index, (row, _) in enumerate(wanted.values())}
    errors = {}
    for row in saved:
        try:
            row.full_clean()
        except ValidationError as error:
            errors[positions[id(row)]] = error
            continue
        row.save()
    if errors:
        raise ChildrenInvalid(field, item_errors(len(wanted), errors))


def stored_participations(event):
    return {(p.actor_id, p.role): p for p in event.participations.all()}


def stored_citations(event):
    return {(c.source_id, c.locator): c for c in event.citations.all()}


def stored_links(event):
    links = list(event.outgoing_links.all()) + list(event.incoming_links.all())
    return {(link.from_event_id, link.to_event_id, link.kind): link for link in links}


def replace_participants(event, items):
    """`items`: dicts with `actor` and `role`, in display order."""
    items = [(item["actor"], item["role"]) for item in items]
    stored = stored_participations(event)
    _replace("participants", stored, participation_rows(event, stored, items))


def replace_citations(event, items):
    """`items`: dicts with `source`, `locator` and optionally `note`."""
    items = [(item["source"], item["locator"], item.get("note", "")) for item in items]
    stored = stored_citations(event)
    _replace("citations", stored, citation_rows(event, stored, items))


def replace_links(event, items):
    """`items`: dicts with `direction` (outgoing/incoming), `event` and `kind`."""
    items = [
        (event, item["event"], item["kind"])
        if item["direction"] == "outgoing"
        else (item["event"], event, item["kind"])
        for item in items
    ]
    stored = stored_links(event)
    _replace("links", stored, link_rows(stored, items))


CHILD_WRITERS = {
    "participants": replace_participants,
    "citations": replace_citations,
    "links": replace_links,
}


def replace_children(event, children):
    """The one writer of an event's children: each list given (not None) replaces the stored
    rows, keeping unchanged rows as they are."""
    for name, writer in CHILD_WRITERS.items():
        if children.get(name) is not None:
            writer(event, children[name])
    event._prefetched_objects_cache = {}


def _set_fields(event, fields):
    """Set and validate an event's fields from a door that did not validate them (the API)."""
    for name, value in fields.items():
        setattr(event, name, value)
    event.full_clean(exclude=[f.name for f in Event._meta.fields if not f.editable])


def create_event(user, fields, children=None, *, reason=None) -> Event:
    """A new event with its children; only an editor creates it published."""
    event = Event()
    _set_fields(event, fields)
    return save_event(
        user, event, save_children=lambda: replace_children(event, children or {}), reason=reason
    )


def update_event(user, event, fields, children=None, *, seen_version, reason=None):
    """Change an event and (the lists given of) its children, based on `seen_version`.

    Returns the event, or, for a curator changing a published event, the EventProposal that
    holds the change for an editor.
    """
    if fields.get("review_state", event.review_state) != _stored_state(event):
        require_editor(user, "publish or unpublish an event")

    def apply():
        _set_fields(event, fields)
        return save_event(
            user,
            event,
            seen_version=seen_version,
            save_children=lambda: replace_children(event, children or {}),
            reason=reason,
        )

    if may_propose(user, event):
        return propose(user, event, seen_version, lambda: apply() or True)
    require_change_event(user, event)
    return apply()


def save_event(user, event, *, seen_version=None, save_children=None, reason=None) -> Event:
    """Save an event whose fields are set and validated, then its children through
    `save_children()` (the API's lists, the admin form's inlines), as one change: who may,
    the version check, one history record naming `user`, and the publish rule checked on what
    was saved (else all is rolled back)."""
    if event.pk is None:
        require(user and user.is_authenticated, "Sign in to add events.")
        require(user.has_perm("events.add_event"), "You may not add events.")
        if event.review_state == ReviewState.PUBLISHED:
            require_editor(user, "publish an event")
    else:
        require_change_event(user, event)
        if event.review_state != _stored_state(event):
            require_editor(user)
    with transaction.atomic():
        if event.pk is not None:
            check_version(event, seen_version)
        event._history_user = history_user(user)
        if reason:
            event._change_reason = reason
        event.save()
        if save_children is not None:
            save_children()
        ensure_publishable(event)
    return event


def delete_event(user, event, *, seen_version=None):
    require_editor(user, "delete events")
    with transaction.atomic():
        if seen_version is not None:
            check_version(event, seen_version)
        event._history_user = history_user(user)
        event.delete()


# --- Actors and sources ----------------------------------------------------------------------


def save_record(user, record, *, seen_version=None, reason=None):
    """Create or change an actor or a source, refusing a stale copy."""
    model = type(record)
    assert model in (Actor, Source)
    require_record_permission(user, model, "add" if record.pk is None else "change")
    with transaction.atomic():
        if record.pk is not None:
            check_version(record, seen_version)
        record.full_clean()
        record._history_user = history_user(user)
        if reason:
            record._change_reason = reason
        record.save()
    return record


def delete_record(user, record, *, seen_version=None):
    require_record_permission(user, type(record), "delete")
    with transaction.atomic():
        if seen_version is not None:
            check_version(record, seen_version)
        record._history_user = history_user(user)
        record.delete()


# --- Proposed changes ------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def event_document(event):
    """The event in the API's shape, as an editor sees it: what a proposal stores."""
    from .representation import represent_events

    return represent_events(Event.objects.filter(pk=event.pk), True)[0]


# Keys of the document that are derived or volatile: not part of a proposed difference.
NOT_PROPOSED = {"url", "version", "cameo_code", "plover_type", "plover_mode", "review_state"}


def propose(user, event, seen_version, apply):
    """Save a curator's change to a published event as a proposal, not as a change.

    `apply()` makes the change as the door always would (validation included) and returns
    whether it succeeded; it runs in a transaction that is rolled back, and what the event
    would have looked like is kept as the proposal's document. Returns the proposal, or None
    when `apply()` reported failure (its errors are the door's to show).
    """
    require(
        may_propose(user, event),
        "Only a curator's change to a published event is saved as a proposal.",
    )
    check_version(event, seen_version)
    document = None
    proposing = _proposing.set((user.pk, event.pk))
    try:
        with suppress(_Rollback), transaction.atomic():
            if apply():
                document = event_document(event)
            raise _Rollback
    finally:
        _proposing.reset(proposing)
    if document is None:
        return None
    event.refresh_from_db()
    document = {key: value for key, value in document.items() if key not in NOT_PROPOSED}
    return EventProposal.objects.create(
        event=event, proposed_by=user, based_on_version=int(seen_version), document=document
    )


def proposal_difference(proposal):
    """Field by field, what accepting `proposal` would change: [(field, now, proposed)].

    Lists (participants, citations, links) are compared as whole lists.
    """
    current = event_document(proposal.event)
    difference = []
    for key, proposed in proposal.document.items():
        now = current.get(key)
        if now != proposed:
            difference.append((key, now, proposed))
    return difference


def accept_proposal(user, proposal) -> Event:
    """Apply a waiting proposal through the ordinary write path (version check included)."""
    from .api.serializers import EventSerializer

    require_editor(user, "accept proposals")
    require(proposal.state == ProposalState.PENDING, "This proposal was already decided.")
    event = proposal.event
    serializer = EventSerializer(
        event,
        data={**proposal.document, "version": proposal.based_on_version},
        context={"request": _Caller(user)},
    )
    # The history of the change names the editor; its reason names the proposal.
    event._change_reason = f"Accepted proposal {proposal.pk} by {proposal.proposed_by}"
    with transaction.atomic():
        serializer.is_valid(raise_exception=True)
        event = serializer.save()
        proposal.state = ProposalState.ACCEPTED
        proposal.decided_by, proposal.decided_at = user, timezone.now()
        proposal.save()
    return event


def reject_proposal(user, proposal, reason):
    require_editor(user, "reject proposals")
    require(proposal.state == ProposalState.PENDING, "This proposal was already decided.")
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the proposal is rejected."})
    proposal.state = ProposalState.REJECTED
    proposal.reason = reason.strip()
    proposal.decided_by, proposal.decided_at = user, timezone.now()
    proposal.save()
    return proposal


class _Caller:
    """The request-shaped context the API's serializer reads: who writes, no headers."""

    headers = {}

    def __init__(self, user):
        self.user = user


# --- Duplicates and merging ------------------------------------------------------------------


def merge_events(user, keep: Event, merged: Event) -> Event:
    """Merge `merged` into `keep`: participants, citations and links move to `keep`, the merged
    slug (and its own aliases) redirect to `keep`, and both histories record the merge.

    Rows the kept event already has (the same actor in the same role, the same source at the
    same locator, the same link) are not duplicated; nothing a citation depended on is lost.
    """
    require_editor(user, "merge events")
    if keep.pk == merged.pk:
        raise ValueError("An event cannot be merged into itself.")
    with transaction.atomic():
        return _merge(user, keep, merged)


def _merge(user, keep, merged):
    # The kept event's children, then those of the merged one that it lacks (links re-pointed
    # to the kept event, those between the two dropped), written by the children's one writer.
    participants = stored_participations(keep)
    for key, row in stored_participations(merged).items():
        participants.setdefault(key, row)
    citations = stored_citations(keep)
    for key, row in stored_citations(merged).items():
        citations.setdefault(key, row)
    links = stored_links(keep)
    for (source, target, kind), row in stored_links(merged).items():
        source, target = (keep.pk if e == merged.pk else e for e in (source, target))
        if source != target:
            links.setdefault((source, target, kind), row)
    keep._history_user = merged._history_user = history_user(user)
    for rows in (
        merged.participations.all(),
        merged.citations.all(),
        EventLink.objects.filter(models.Q(from_event=merged) | models.Q(to_event=merged)),
    ):
        for row in rows:
            row.delete()
    replace_participants(keep, [{"actor": a, "role": role} for a, role in participants])
    replace_citations(
        keep,
        [
            {"source": source, "locator": locator, "note": row.note}
            for (source, locator), row in citations.items()
        ],
    )
    stored = stored_links(keep)
    _replace("links", stored, link_rows(stored, list(links)))
    keep._prefetched_objects_cache = {}
    EventAlias.objects.filter(event=merged).update(event=keep)
    EventAlias.objects.create(slug=merged.slug, event=keep)
    merged._change_reason = f"Merged into {keep.slug}"
    merged.delete()
    keep._change_reason = f"Merged {merged.slug} into this event"
    keep.save()
    return keep
