"""Each public page runs the same number of queries for 1 related row as for 30."""

import datetime

import pytest

from events.models import Citation, EventLink, Membership, Office, Participation, Role
from tests.factories import make_actor, make_country, make_published_event, make_source

pytestmark = pytest.mark.django_db


def build(n):
    """`n` published expulsions by Japan against Russia, each citing the same source and each
    part of one coordinated expulsion, whose page then has `n` participants (people with an
    office), `n` citations and `n` links."""
    japan = make_country("JP", "JPN", "Japan")
    russia = make_country("RU", "RUS", "Russian Federation")
    bloc = make_actor(name="G7", kind="bloc", slug="g7")
    Membership.objects.create(bloc=bloc, country=japan)
    tokyo = make_actor(name="Japan", country=japan, slug="japan")
    moscow = make_actor(name="Russia", country=russia, slug="russia")
    source = make_source()
    whole = make_published_event(
        initiator=tokyo, target=moscow, source=source, kind="expulsion", expelled_low=101,
        slug="whole",
    )  # fmt: skip
    for i in range(n):
        part = make_published_event(
            initiator=tokyo,
            target=moscow,
            source=source,
            kind="expulsion",
            expelled_low=i + 1,
            expelled_best=i + 1,
            expelled_high=i + 1,
            start_date=datetime.date(2018, 3, 1) + datetime.timedelta(days=i % 28),
        )
        EventLink.objects.create(from_event=part, to_event=whole, kind="part_of")
        person = make_actor(kind="person", country=japan, slug=f"person-{i}")
        Office.objects.create(holder=person, title="Minister", country=japan)
        Participation.objects.create(event=whole, actor=person, role=Role.PARTICIPANT)
        Citation.objects.create(event=whole, source=make_source(), locator=f"para. {i}")
    return source


@pytest.mark.parametrize("n", [1, 30])
def test_query_counts_do_not_grow_with_rows(client, django_assert_num_queries, n):
    source = build(n)

    # 1 counts by kind (GROUP BY), 2 the latest ten.
    with django_assert_num_queries(2):
        assert client.get("/").status_code == 200

    # 1 the page of events (LIMIT page size + 1, no COUNT), 2 their initiators and targets with
    # actor and country, 3 the wider expulsions they are part of, 4 every country's name and
    # ISO number (for the facets and the map), 5-8 the counts beside the filters (facets): by
    # kind without the kind filter, by status without the status filter, by initiator, by
    # target (four aggregates), 9 the map's counts of countries involved (one aggregate),
    # 10 the monthly series of all the matching events (one aggregate: its groups and its
    # total in one statement).
    with django_assert_num_queries(10):
        assert client.get("/events/").status_code == 200
    # The map by initiator or target takes the facets' counts: one query fewer.
    for measure in ("initiator", "target"):
        with django_assert_num_queries(9):
            assert client.get(f"/events/?map={measure}").status_code == 200

    # The same, plus 1 query per natural-key filter value: 1 resolve the country code.
    with django_assert_num_queries(11):
        assert client.get("/events/?kind=expulsion&initiator=JP").status_code == 200

    # The first ten, plus 1 resolving the linked event's slug (without the listing's
    # prefetches) and 1 the ids of the events linked to it, for the listing and again for each
    # of the kind and status facets, which apply the other filters anew (3).
    with django_assert_num_queries(14):
        assert client.get("/events/?linked_to=whole").status_code == 200

    # 1 the event with its location, 2 participants with actor and country, 3 the offices of
    # all of them, 4 citations with sources, 5 links out, 6 links in (published ends only),
    # 7 initiators and targets of the linked expulsions, for the chart.
    with django_assert_num_queries(7):
        assert client.get("/events/whole/").status_code == 200

    # 1 the country, 2-4 counts by kind as involved, initiator and target (three reads of the
    # rollup cells), 5 its latest events, 6 their initiators and targets, 7 wider expulsions,
    # 8 its groups (G7), 9-10 its partners (two aggregates: as initiator by target, as target
    # by initiator), 11 every country's name and ISO number (the partners' names and the
    # map), 12 the map's counts (one aggregate), 13 its monthly series (one aggregate).
    for measure in ("country", "initiator", "target"):
        with django_assert_num_queries(13):
            assert client.get(f"/countries/JP/?map={measure}").status_code == 200

    # 1 the actor with country, 2 its events through participations, 3 offices, 4 members,
    # 5 its monthly series (one aggregate).
    with django_assert_num_queries(5):
        assert client.get("/actors/japan/").status_code == 200

    # 1 the source, 2 the citations of published events with the events.
    with django_assert_num_queries(2):
        assert client.get(f"/sources/{source.pk}/").status_code == 200

    # The code book is written from the code tables: no query.
    with django_assert_num_queries(0):
        assert client.get("/codes/").status_code == 200


def test_listing_page_holds_at_most_a_page_of_rows(client, monkeypatch, django_assert_num_queries):
    from events import views

    build(30)
    monkeypatch.setattr(views, "PAGE_SIZE", 10)
    with django_assert_num_queries(10):
        response = client.get("/events/?ordering=title")
    assert len(response.context["events"]) == 10
    assert response.context["next_url"]
    # A later page by its cursor: the same ten queries, the page's bounded by the cursor.
    with django_assert_num_queries(10):
        response = client.get("/events/" + response.context["next_url"])
    assert len(response.context["events"]) == 10
    assert response.context["previous_url"]
