"""Writes that the admin, the API and commands share: publishing and unpublishing."""

from django.db import models, transaction

from .models import Event, EventAlias, EventLink, Participation, ReviewState, Role, period_end


class PublishError(Exception):
    """An event is not ready to publish; the message names it and says why."""


def publish(event: Event) -> Event:
    """Publish one event, refusing one without a participant or a citation."""
    problems = event.publish_problems()
    if problems:
        raise PublishError(f"“{event.title}” cannot be published: {' and '.join(problems)}.")
    if event.review_state != ReviewState.PUBLISHED:
        event.review_state = ReviewState.PUBLISHED
        event.save()
    return event


def unpublish(event: Event) -> Event:
    """Return an event to draft."""
    if event.review_state != ReviewState.DRAFT:
        event.review_state = ReviewState.DRAFT
        event.save()
    return event


def set_review_state(events, state):
    """Publish or unpublish each event (saving each, so history records it).

    Returns (changed events, refusals), each refusal a message naming its event.
    """
    action = publish if state == ReviewState.PUBLISHED else unpublish
    changed, refused = [], []
    for event in events:
        try:
            with transaction.atomic():
                before = event.review_state
                action(event)
                if event.review_state != before:
                    changed.append(event)
        except PublishError as error:
            refused.append(str(error))
    return changed, refused


# --- Duplicates and merging ------------------------------------------------------------------


def find_duplicates(kind, start_date, end_date, precision, initiators, targets, exclude=None):
    """Events that look like the same event: same kind, overlapping dates, and the same
    initiator and target actors (every one given). Without an initiator or a target nothing
    is flagged: kind and date alone say too little.

    `initiators` and `targets` are actor ids.
    """
    if not initiators and not targets:
        return Event.objects.none()
    last_day = period_end(start_date, end_date, precision)
    queryset = Event.objects.filter(kind=kind, start_date__lte=last_day, period_end__gte=start_date)
    for role, actors in ((Role.INITIATOR, initiators), (Role.TARGET, targets)):
        for actor_id in set(actors):
            queryset = queryset.filter(
                pk__in=Participation.objects.filter(role=role, actor_id=actor_id).values("event_id")
            )
    if exclude is not None:
        queryset = queryset.exclude(pk=exclude)
    return queryset.order_by("start_date", "id")


def duplicates_of(event):
    """Other events that look like `event` (see find_duplicates)."""
    roles = {Role.INITIATOR: [], Role.TARGET: []}
    for actor_id, role in event.participations.filter(role__in=roles).values_list(
        "actor_id", "role"
    ):
        roles[role].append(actor_id)
    return find_duplicates(
        event.kind,
        event.start_date,
        event.end_date,
        event.date_precision,
        roles[Role.INITIATOR],
        roles[Role.TARGET],
        exclude=event.pk,
    )


@transaction.atomic
def merge_events(keep: Event, merged: Event, user=None) -> Event:
    """Merge `merged` into `keep`: participants, citations and links move to `keep`, the merged
    slug (and its own aliases) redirect to `keep`, and both histories record the merge.

    Rows the kept event already has (the same actor in the same role, the same source at the
    same locator, the same link) are not duplicated; nothing a citation depended on is lost.
    """
    if keep.pk == merged.pk:
        raise ValueError("An event cannot be merged into itself.")
    existing = set(keep.participations.values_list("actor_id", "role"))
    for participation in merged.participations.all():
        if (participation.actor_id, participation.role) in existing:
            participation.delete()
        else:
            participation.event = keep
            participation.save()
    existing = set(keep.citations.values_list("source_id", "locator"))
    for citation in merged.citations.all():
        if (citation.source_id, citation.locator) in existing:
            citation.delete()
        else:
            citation.event = keep
            citation.save()
    links = {
        (link.from_event_id, link.to_event_id, link.kind)
        for link in EventLink.objects.all().filter(
            models.Q(from_event=keep) | models.Q(to_event=keep)
        )
    }
    for link in EventLink.objects.filter(models.Q(from_event=merged) | models.Q(to_event=merged)):
        source = keep.pk if link.from_event_id == merged.pk else link.from_event_id
        target = keep.pk if link.to_event_id == merged.pk else link.to_event_id
        if source == target or (source, target, link.kind) in links:
            link.delete()
            continue
        link.from_event_id, link.to_event_id = source, target
        link.save()
        links.add((source, target, link.kind))
    EventAlias.objects.filter(event=merged).update(event=keep)
    EventAlias.objects.create(slug=merged.slug, event=keep)
    if user is not None:
        keep._history_user = merged._history_user = user
    merged._change_reason = f"Merged into {keep.slug}"
    merged.delete()
    keep._change_reason = f"Merged {merged.slug} into this event"
    keep.save()
    return keep
