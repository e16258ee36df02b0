"""The event representation built from rows (events/representation.py) is the shape the API,
the CSV and the export have always shown: the same keys, order (the shape's, events/shape.py)
and values as a plain reading of the model instances, for every fixture event, to anonymous
users and to staff; in four queries for any number of events, and in chunks of four queries
when streamed."""

import datetime
import itertools

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from events import shape
from events.models import Event, EventLink, LinkKind, Participation, ReviewState, Role
from events.representation import (
    CITATION_FIELDS,
    event_rows,
    event_url_maker,
    read_rows,
    represent,
    represent_events,
    represent_in_chunks,
)
from tests.articles import load_articles
from tests.factories import make_actor, make_event, make_published_event

pytestmark = pytest.mark.django_db


def url(slug):
    return event_url_maker(None)(slug)


def shown_as_stored(event, name):
    """An event's own field as the representation shows it: a date as ISO text."""
    value = getattr(event, name)
    return value.isoformat() if isinstance(value, datetime.date) else value


def from_instances(event, shows_drafts):
    """The representation read off the model instances one relation at a time (the way it was
    built before rows): the reference the row builder must match. A field of the shape that
    is one column of the event is the instance's attribute; the others are built here."""
    country = event.location_country

    def links(direction, rows, end):
        others = sorted(
            ((ln.kind, getattr(ln, end)) for ln in rows), key=lambda x: (x[0], x[1].slug)
        )
        return [
            {"direction": direction, "kind": kind, "event": other.slug, "title": other.title}
            for kind, other in others
            if shows_drafts or other.review_state == ReviewState.PUBLISHED
        ]

    built = {
        "url": url(event.slug),
        "location": {
            "country": country.code if country else None,
            "country_name": country.name if country else None,
            "place": event.place,
        },
        "participants": [
            {
                "actor": p.actor.slug,
                "actor_name": p.actor.name,
                "actor_kind": p.actor.kind,
                "country": p.actor.country.code if p.actor.country else None,
                "role": p.role,
            }
            for p in event.participations.order_by("position", "id")
        ],
        "citations": [
            {"source": c.source_id, **c.portable_data()} for c in event.citations.order_by("id")
        ],
        "links": links("outgoing", event.outgoing_links.all(), "to_event")
        + links("incoming", event.incoming_links.all(), "from_event"),
    }
    for field in shape.MADE_FIELDS:  # the Goldstein value and quad class of the CAMEO code
        built[field.name] = field.make(*(getattr(event, name) for name in field.lookups))
    return {
        field.name: built[field.name] if field.name in built else shown_as_stored(event, field.name)
        for field in shape.FIELDS
    }


@pytest.fixture
def articles(db):
    load_articles()


@pytest.mark.parametrize("shows_drafts", [False, True])
def test_rows_give_the_shape_of_the_instances_for_every_fixture_event(articles, shows_drafts):
    events = Event.objects.order_by("-start_date", "-id")
    assert events.count() >= 25
    built = represent_events(events, shows_drafts, url)
    expected = [from_instances(event, shows_drafts) for event in events]
    assert [list(event) for event in built] == [list(event) for event in expected]  # key order
    assert built == expected
    assert any(event["links"] for event in built) and any(event["citations"] for event in built)


def test_citations_carry_the_portable_fields_of_a_citation(articles):
    event = Event.objects.filter(citations__isnull=False).first()
    citation = event.citations.order_by("id").first()
    assert list(citation.portable_data()) == list(CITATION_FIELDS)
    shown = represent_events(Event.objects.filter(pk=event.pk), True)[0]["citations"][0]
    assert shown == {"source": citation.source_id, **citation.portable_data()}


def linked_to_a_draft():
    """A published event, responding to a draft and answered by another draft and a
    published event; each with a participant in the second position first."""
    shown = make_published_event(title="Shown")
    Participation.objects.create(event=shown, actor=make_actor(slug="zz-first"), role=Role.TARGET)
    Participation.objects.filter(event=shown, role=Role.INITIATOR).update(position=1)
    draft = make_event(title="A draft", slug="b-draft")
    other_draft = make_event(title="Another draft", slug="a-draft")
    published = make_published_event(title="Published", slug="c-published")
    EventLink.objects.create(from_event=shown, to_event=draft, kind=LinkKind.RESPONDS_TO)
    EventLink.objects.create(from_event=shown, to_event=published, kind=LinkKind.RESPONDS_TO)
    EventLink.objects.create(from_event=other_draft, to_event=shown, kind=LinkKind.RESPONDS_TO)
    EventLink.objects.create(from_event=published, to_event=shown, kind=LinkKind.PART_OF)
    return shown


def test_links_to_drafts_are_hidden_unless_drafts_are_shown():
    shown = linked_to_a_draft()
    one = Event.objects.filter(pk=shown.pk)
    anonymous = represent_events(one, shows_drafts=False)[0]
    staff = represent_events(one, shows_drafts=True)[0]
    assert [(ln["direction"], ln["event"]) for ln in anonymous["links"]] == [
        ("outgoing", "c-published"),
        ("incoming", "c-published"),
    ]
    # Outgoing then incoming, each by kind and the other event's slug.
    assert [(ln["direction"], ln["kind"], ln["event"]) for ln in staff["links"]] == [
        ("outgoing", "responds_to", "b-draft"),
        ("outgoing", "responds_to", "c-published"),
        ("incoming", "part_of", "c-published"),
        ("incoming", "responds_to", "a-draft"),
    ]
    assert staff == from_instances(shown, True) | {"url": None}
    # Participants by position: the target added second comes first.
    assert [p["actor"] for p in staff["participants"]][:1] == ["zz-first"]


def test_the_api_hides_draft_links_from_anonymous_users_and_shows_them_to_staff(admin_user):
    cache.clear()
    shown = linked_to_a_draft()
    anonymous = APIClient().get(f"/api/events/{shown.slug}/").json()
    staff_client = APIClient()
    staff_client.force_authenticate(admin_user)
    staff = staff_client.get(f"/api/events/{shown.slug}/").json()
    assert {ln["event"] for ln in anonymous["links"]} == {"c-published"}
    assert {ln["event"] for ln in staff["links"]} == {"a-draft", "b-draft", "c-published"}
    listed = staff_client.get("/api/events/?page_size=500").json()["results"]
    assert next(e for e in listed if e["slug"] == shown.slug) == staff


def build(n):
    events = [make_published_event(location_country=None) for _ in range(n)]
    for before, after in itertools.pairwise(events):
        EventLink.objects.create(from_event=after, to_event=before, kind=LinkKind.RESPONDS_TO)
    return Event.objects.order_by("-start_date", "-id")


# 1. the events with their location country (on PostgreSQL with their participants,
# citations and links as JSON, in the same query); elsewhere 2. their participants with actor
# and country 3. their citations with source 4. their links both ways with the other event
EVENT_QUERIES = 1 if connection.vendor == "postgresql" else 4


@pytest.mark.parametrize("n", [1, 50])
def test_one_query_on_postgresql_four_elsewhere_for_any_number_of_events(
    django_assert_num_queries, n
):
    events = build(n)
    with django_assert_num_queries(EVENT_QUERIES):
        built = represent_events(events, shows_drafts=False)
    assert len(built) == n and all(event["participants"] for event in built)
    assert sum(len(event["links"]) for event in built) == 2 * (n - 1)


@pytest.mark.parametrize("shows_drafts", [False, True])
def test_rows_read_with_their_related_rows_equal_plain_rows(articles, shows_drafts):
    """On PostgreSQL the related rows come as JSON built by the events' query: the same
    representation as the three queries give (elsewhere both are the plain path)."""
    events = event_rows(Event.objects.order_by("title", "id"))
    with_related = read_rows(events, shows_drafts)
    plain = list(events)
    assert [row["id"] for row in with_related] == [row["id"] for row in plain]
    assert represent(with_related, shows_drafts, url) == represent(plain, shows_drafts, url)


@pytest.mark.parametrize("ordering", ["-date", "date", "title"])
def test_api_pages_in_every_ordering_show_the_representation(admin_user, articles, ordering):
    cache.clear()
    staff = APIClient()
    staff.force_authenticate(admin_user)
    for client, shows_drafts in ((APIClient(), False), (staff, True)):
        shown, page = [], f"/api/events/?ordering={ordering}&page_size=7"
        while page:
            body = client.get(page).json()
            shown += body["results"]
            page = body["next"]
        slugs = [event["slug"] for event in shown]
        expected = represent_events(
            Event.objects.filter(slug__in=slugs),
            shows_drafts,
            lambda s: f"http://testserver{url(s)}",
        )
        assert shown == sorted(expected, key=lambda event: slugs.index(event["slug"]))
        assert (
            len(slugs)
            == len(set(slugs))
            == (Event.objects.count() if shows_drafts else Event.objects.published().count())
        )


def test_no_events_is_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert represent_events(Event.objects.filter(pk=0), shows_drafts=True) == []


def test_chunks_give_the_same_events_in_four_queries_each(django_assert_num_queries):
    events = build(7)
    whole = represent_events(events, shows_drafts=True)
    # One query for the event rows of every chunk (one cursor, fetched chunk by chunk), then
    # for each of the three chunks (3, 3, 1 events) its participants, citations and links.
    with django_assert_num_queries(10):
        chunks = list(represent_in_chunks(events, shows_drafts=True, chunk_size=3))
    assert [len(chunk) for chunk in chunks] == [3, 3, 1]
    assert [event for chunk in chunks for event in chunk] == whole


def test_a_write_answers_with_the_stored_event_in_the_same_shape(admin_user):
    cache.clear()
    client = APIClient()
    client.force_authenticate(admin_user)
    event = make_published_event(start_date=datetime.date(2020, 1, 1))
    body = client.get(f"/api/events/{event.slug}/").json()
    response = client.patch(
        f"/api/events/{event.slug}/",
        {"title": "Renamed", "version": body["version"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == body | {"title": "Renamed", "version": body["version"] + 1}
    assert response["ETag"] == f'"{body["version"] + 1}"'


def test_the_browsable_api_renders_the_list_and_a_detail(admin_user):
    cache.clear()
    event = linked_to_a_draft()
    staff = APIClient()
    staff.force_authenticate(admin_user)
    for client in (APIClient(), staff):
        listed = client.get("/api/events/?format=api&page_size=2")
        detail = client.get(f"/api/events/{event.slug}/?format=api")
        assert listed.status_code == detail.status_code == 200
        assert listed["Content-Type"].startswith("text/html")
        assert event.slug in detail.content.decode()
