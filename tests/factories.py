"""Small builders for test data. Each returns a saved object with sensible defaults."""

import datetime
import itertools

from events.models import (
    Actor,
    ActorKind,
    Citation,
    Country,
    Event,
    EventKind,
    Participation,
    ReviewState,
    Role,
    Source,
    SourceKind,
)

_seq = itertools.count(1)


def make_country(code="GB", code3="GBR", name="United Kingdom"):
    country, _ = Country.objects.get_or_create(code=code, defaults={"code3": code3, "name": name})
    return country


def make_actor(name=None, kind=ActorKind.STATE, country=None, **fields):
    n = next(_seq)
    name = name or f"Actor {n}"
    return Actor.objects.create(
        name=name, slug=fields.pop("slug", f"actor-{n}"), kind=kind, country=country, **fields
    )


def make_source(**fields):
    n = next(_seq)
    defaults = {
        "url": f"https://example.org/article-{n}",
        "title": f"Article {n}",
        "publisher": "Example News",
        "kind": SourceKind.NEWS,
        "published_on": datetime.date(2018, 3, 27),
    }
    defaults.update(fields)
    return Source.objects.create(**defaults)


def make_event(kind=EventKind.MEETING, **fields):
    n = next(_seq)
    defaults = {
        "kind": kind,
        "title": f"Event {n}",
        "slug": f"event-{n}",
        "start_date": datetime.date(2018, 3, 21),
    }
    defaults.update(fields)
    return Event.objects.create(**defaults)


def make_published_event(initiator=None, target=None, source=None, **fields):
    """An event ready to publish: an initiator, a target and a citation."""
    event = make_event(review_state=ReviewState.PUBLISHED, **fields)
    Participation.objects.create(event=event, actor=initiator or make_actor(), role=Role.INITIATOR)
    if target is not None:
        Participation.objects.create(event=event, actor=target, role=Role.TARGET)
    Citation.objects.create(event=event, source=source or make_source(), locator="para. 1")
    return event
