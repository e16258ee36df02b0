"""Writes that the admin, the API and commands share: publishing and unpublishing."""

from django.db import transaction

from .models import Event, ReviewState


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
