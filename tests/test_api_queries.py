"""Every API list and detail runs a fixed number of queries, with 1 event or with 50."""

import itertools

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from events.models import ActorKind, EventLink, LinkKind, Membership, Office
from tests.factories import make_actor, make_country, make_published_event, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_throttle_carry_over():
    cache.clear()


def build(n):
    """n published events, each with two participants, a citation and a link to the next."""
    gb, ru = make_country(), make_country("RU", "RUS", "Russia")
    uk = make_actor("United Kingdom", country=gb, slug="uk")
    russia = make_actor("Russia", country=ru, slug="russia")
    person = make_actor("A minister", kind=ActorKind.PERSON, country=gb, slug="minister")
    Office.objects.create(holder=person, title="Foreign Secretary", country=gb)
    bloc = make_actor("A bloc", kind=ActorKind.BLOC, slug="bloc")
    Membership.objects.create(bloc=bloc, country=gb)
    source = make_source()
    events = [
        make_published_event(initiator=uk, target=russia, source=source, location_country=gb)
        for _ in range(n)
    ]
    for before, after in itertools.pairwise(events):
        EventLink.objects.create(from_event=after, to_event=before, kind=LinkKind.RESPONDS_TO)
    return events, source


# Events list or detail, anonymous (no session, no user query), as rows (representation.py):
#   1. the events of the page, with their location country joined; on PostgreSQL with their
#      participants, citations and links as JSON built in the same query
#   2. (elsewhere) their participants with the actor and the actor's country joined
#   3. their citations with the source joined
#   4. their links in both directions with the other event joined (one query)
# The list never counts the table (cursor paging).
EVENT_QUERIES = 1 if connection.vendor == "postgresql" else 4
# The CSV streams chunks of plain rows: four queries for a chunk on either database.
CSV_QUERIES = 4


@pytest.mark.parametrize("n", [1, 50])
def test_events_list_and_detail(django_assert_num_queries, n):
    events, _ = build(n)
    client = APIClient()
    with django_assert_num_queries(EVENT_QUERIES):
        response = client.get("/api/events/?page_size=500")
    assert len(response.json()["results"]) == n
    with django_assert_num_queries(EVENT_QUERIES):
        assert client.get(f"/api/events/{events[-1].slug}/").status_code == 200


@pytest.mark.parametrize("n", [1, 50])
def test_events_csv(django_assert_num_queries, n):
    build(n)
    with django_assert_num_queries(CSV_QUERIES):  # one chunk
        response = APIClient().get("/api/events/?format=csv")
        assert len(b"".join(response.streaming_content).splitlines()) == n + 1


@pytest.mark.parametrize("n", [1, 50])
def test_sources_list_and_detail(django_assert_num_queries, n):
    _, source = build(n)
    client = APIClient()
    # 1. count 2. sources with their event count 3. their newest citations with the event
    with django_assert_num_queries(3):
        assert client.get("/api/sources/").json()["results"][0]["event_count"] == n
    with django_assert_num_queries(2):
        assert len(client.get(f"/api/sources/{source.pk}/").json()["events"]) == n


@pytest.mark.parametrize("n", [1, 50])
def test_countries_list_and_detail(django_assert_num_queries, n):
    build(n)
    client = APIClient()
    # 1. count 2. countries of the page 3. their events by kind 4. their events by role
    with django_assert_num_queries(4):
        client.get("/api/countries/")
    # 1. the country 2. its events by kind 3. by role
    with django_assert_num_queries(3):
        counts = client.get("/api/countries/gb/").json()["event_counts"]
    assert counts["by_kind"]["meeting"] == n and counts["by_role"]["initiator"] == n


@pytest.mark.parametrize("n", [1, 50])
def test_actors_list_and_detail(django_assert_num_queries, n):
    build(n)
    client = APIClient()
    # 1. count 2. actors with their country 3. offices with country and organisation
    # 4. memberships with country
    with django_assert_num_queries(4):
        client.get("/api/actors/")
    # The same without the count.
    with django_assert_num_queries(3):
        assert client.get("/api/actors/minister/").json()["offices"]
