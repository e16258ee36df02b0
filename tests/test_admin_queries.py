"""The admin stays quick: the events list and the event form run as many queries with 50 events
as with 1 (no query per row, no drop-down that loads a whole table)."""

import datetime

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from events.models import EventLink, LinkKind
from tests.factories import make_actor, make_published_event, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def curator_client(client):
    user = User.objects.create_user("carla", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="curators"))
    client.force_login(user)
    return client


def make_events(count):
    """`count` published events in March 2018, each with an initiator, a target and a citation;
    the last one links to every other, so its form has a row per event."""
    events = [
        make_published_event(
            start_date=datetime.date(2018, 3, 1 + n % 28),
            initiator=make_actor(),
            target=make_actor(),
            source=make_source(),
        )
        for n in range(count)
    ]
    EventLink.objects.bulk_create(
        EventLink(from_event=events[-1], to_event=other, kind=LinkKind.RESPONDS_TO)
        for other in events[:-1]
    )
    return events


@pytest.mark.parametrize("count", [1, 50])
def test_the_events_list_runs_9_queries_for_1_or_50_events(
    curator_client, django_assert_num_queries, count
):
    make_events(count)
    curator_client.get("/admin/events/event/")  # warm the per-process content-type cache
    # 1 session, 2 user, 3-4 the user's and the groups' permissions, 5 the count (PostgreSQL,
    # unfiltered: pg_class's estimate when the table is large), 6 the page of events,
    # 7 initiators and targets of the page's events with their actors' countries,
    # 8-9 the date drill-down: first and last date, then the distinct days.
    with django_assert_num_queries(9):
        response = curator_client.get("/admin/events/event/")
    assert len(response.context["cl"].result_list) == count


@pytest.mark.parametrize("count", [1, 50])
def test_the_event_form_runs_10_queries_for_1_or_50_events(
    curator_client, django_assert_num_queries, count
):
    event = make_events(count)[-1]
    url = reverse("admin:events_event_change", args=[event.pk])
    curator_client.get(url)  # warm the per-process content-type cache
    # 1 session, 2 user, 3 the event with its location country, 4-5 the user's and the groups'
    # permissions, 6 participants with their actors, 7 citations with their sources,
    # 8 outgoing links with their target events, 9 incoming links with their source events,
    # 10 the proposals waiting for the event (the curator's own).
    # Autocomplete widgets render the selected object from these rows, not a query each.
    with django_assert_num_queries(10):
        response = curator_client.get(url)
    assert response.content.decode().count('name="outgoing_links-') >= 2 * (count - 1)


def test_the_actor_and_source_pages_run_a_fixed_number_of_queries(
    curator_client, django_assert_num_queries
):
    events = make_events(20)
    actor = events[0].participations.first().actor
    source = events[0].citations.first().source
    for event in events[1:]:
        event.participations.create(actor=actor, role="guest")
        event.citations.create(source=source, locator="para. 2")
    actor_url = reverse("admin:events_actor_change", args=[actor.pk])
    source_url = reverse("admin:events_source_change", args=[source.pk])
    curator_client.get(actor_url)
    # session, user, actor with country, 2 permissions, memberships exist?, offices,
    # the actor's events.
    with django_assert_num_queries(8):
        assert curator_client.get(actor_url).status_code == 200
    curator_client.get(source_url)
    # session, user, source, 2 permissions, the events citing it.
    with django_assert_num_queries(6):
        assert curator_client.get(source_url).status_code == 200


def test_the_year_drill_down_reads_first_and_last_dates_not_every_event(curator_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for year in (2014, 2016, 2018):
        make_published_event(start_date=datetime.date(year, 5, 1))
    with CaptureQueriesContext(connection) as captured:
        response = curator_client.get("/admin/events/event/")
    assert not [q for q in captured.captured_queries if "DISTINCT" in q["sql"].upper()]
    html = response.content.decode()
    # Every year from the first event to the last, 2015 and 2017 included (empty years).
    for year in ("2014", "2015", "2016", "2017", "2018"):
        assert f"?start_date__year={year}" in html


def test_a_search_has_no_date_drill_down_and_a_capped_count(curator_client, monkeypatch):
    from django.db import connection

    from events.admin import events as events_admin

    for n in range(4):
        make_published_event(title=f"Treaty talks {n}", start_date=datetime.date(2018, 3, 1 + n))
    monkeypatch.setattr(events_admin, "CAPPED_COUNT", 2)
    response = curator_client.get("/admin/events/event/?q=treaty")
    assert response.context["cl"].date_hierarchy is None
    html = response.content.decode()
    if connection.vendor == "postgresql":
        assert "more than 2 events" in html
    else:
        assert "4 events" in html
