"""Who acted, honestly (issue 12): a country is a party to an event through a state, its
agencies, or a person in an office of that state at the time; not through a private person's
citizenship, and not through a coalition, whose members act through their own events. The
derived involvement rows follow that rule on every write path."""

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from events import charts
from events.groups import EDITORS
from events.importing import run_import
from events.models import (
    Actor,
    ActorKind,
    CountryInvolvement,
    Event,
    Membership,
    Office,
    Participation,
    Role,
)
from tests.articles import load_articles
from tests.factories import make_actor, make_country, make_event, make_published_event
from tests.test_admin import change_url, form_data, make_user
from tests.test_denormalised_involvements import expected, stored

pytestmark = pytest.mark.django_db

COORDINATED = "2018-03-26-coordinated-expulsion-of-russian-diplomats"
US_60 = "2018-03-26-united-states-expels-60-russian-diplomats"
SALISBURY = "2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal"


def slugs(query):
    response = APIClient().get(f"/api/events/?page_size=500&{query}")
    assert response.status_code == 200, response.content
    return [event["slug"] for event in response.json()["results"]]


def involved(event, **flags):
    """The codes of the countries involved in `event` (with the flags asked), sorted."""
    rows = CountryInvolvement.objects.filter(event=event, **flags)
    return sorted(rows.values_list("country__code", flat=True))


# --- The article fixtures ------------------------------------------------------------------


@pytest.fixture
def articles():
    load_articles()


def test_the_us_expelled_only_its_own_60_in_march_2018(articles):
    query = "kind=expulsion&initiator=US&date_after=2018-03-01&date_before=2018-03-31"
    assert slugs(query) == [US_60]
    assert slugs(query.replace("initiator=US", "initiator=USA")) == [US_60]


def test_the_coordinated_expulsion_is_the_coalitions_with_the_us_60_as_its_part(articles):
    coalition = Actor.objects.get(slug="uk-international-partners")
    assert coalition.kind == ActorKind.COALITION and coalition.country is None
    assert coalition.member_count_low == 21
    assert coalition.members_text == "more than 20 countries"
    assert [m.country.code for m in Membership.objects.filter(bloc=coalition)] == ["US"]

    coordinated = Event.objects.get(slug=COORDINATED)
    initiators = Participation.objects.filter(event=coordinated, role=Role.INITIATOR)
    assert [p.actor.slug for p in initiators] == ["uk-international-partners"]
    # The coalition involves no country itself: only Russia, the target, is involved.
    assert involved(coordinated) == ["RU"] and involved(coordinated, as_target=True) == ["RU"]
    assert involved(coordinated, as_initiator=True) == []
    us = Event.objects.get(slug=US_60)
    assert us.outgoing_links.filter(kind="part_of", to_event=coordinated).exists()
    assert involved(us, as_initiator=True) == ["US"]

    body = APIClient().get("/api/actors/uk-international-partners/").json()
    assert body["kind"] == "coalition"


def test_a_private_persons_citizenship_makes_no_target_country(articles):
    salisbury = Event.objects.get(slug=SALISBURY)
    assert SALISBURY not in slugs("target=RU")
    assert SALISBURY not in slugs("country=RU")
    assert SALISBURY in slugs("target=GB")
    assert involved(salisbury) == ["GB"]
    russia = APIClient().get("/api/countries/RU/").json()["event_counts"]
    assert russia["by_kind"]["incident"] == 1  # the 2014 intervention, not the poisoning
    # Their nationality stays stated on them.
    assert APIClient().get("/api/actors/sergei-skripal/").json()["country"] == "RU"


def test_every_fixture_involvement_equals_a_recomputation(articles):
    assert stored() == expected()


def test_the_chart_draws_the_coalition_not_the_united_states(articles, client):
    content = client.get("/events/?kind=expulsion").content.decode()
    text = re.sub(r"\s+", " ", content).replace("&#x27;", "'")
    coalition = "The United Kingdom's international partners (more than 20 countries)"
    drawn = coalition + " → Russian Federation"
    assert drawn in text
    assert "United States → more than 100" not in text
    assert "United States → Russian Federation, 60 expelled" in text

    events = Event.objects.filter(kind="expulsion").listed()
    rows = {row.event.slug: row for row in charts.expulsions(events)["rows"]}
    assert rows[COORDINATED].initiators == [
        "The United Kingdom's international partners (more than 20 countries)"
    ]
    assert rows[COORDINATED].targets == ["Russian Federation"]  # the ISO short name
    assert rows[US_60].initiators == ["United States"]


def test_the_listing_shows_the_skripals_not_russia_as_targets(articles, client):
    content = client.get("/events/?kind=incident&date_after=2018-03-01").content.decode()
    row = re.search(r"<tr>(?:(?!</tr>).)*Salisbury(?:(?!</tr>).)*</tr>", content, re.S).group(0)
    assert "Sergei Skripal" in row and "United Kingdom" in row and "Russia" not in row


def test_a_coalitions_page_shows_its_named_members_and_the_lower_bound(articles, client):
    content = client.get("/actors/uk-international-partners/").content.decode()
    assert "Coalition of states" in content
    assert "More than 20 countries in all; the sources name 1:" in content
    assert 'href="/countries/US/"' in content
    assert COORDINATED in content


# --- The rule, one case at a time -------------------------------------------------------------


@pytest.fixture
def world():
    gb = make_country()
    ru = make_country("RU", "RUS", "Russia")
    jp = make_country("JP", "JPN", "Japan")
    return gb, ru, jp


def test_a_person_in_office_at_the_time_involves_their_state(world, client):
    gb, ru, jp = world
    minister = make_actor("A Minister", kind=ActorKind.PERSON, country=jp, slug="minister")
    Office.objects.create(
        holder=minister,
        title="Foreign Minister",
        country=gb,  # an office of another state than the citizenship: the office counts
        start_date=datetime.date(2017, 1, 1),
        end_date=datetime.date(2018, 12, 31),
    )
    russia = make_actor("Russia", country=ru, slug="russia")
    during = make_published_event(
        initiator=minister, target=russia, slug="during", start_date=datetime.date(2018, 3, 1)
    )
    before = make_published_event(
        initiator=minister, target=russia, slug="before", start_date=datetime.date(2016, 6, 1)
    )
    after = make_published_event(
        initiator=minister, target=russia, slug="after", start_date=datetime.date(2019, 1, 2)
    )
    # Month precision: an office held at some time in that month counts.
    month = make_published_event(
        initiator=minister,
        target=russia,
        slug="month",
        start_date=datetime.date(2019, 1, 1) - datetime.timedelta(days=31),
        date_precision="month",
    )
    assert involved(during, as_initiator=True) == ["GB"]
    assert involved(month, as_initiator=True) == ["GB"]
    assert involved(before, as_initiator=True) == [] and involved(after) == ["RU"]
    assert sorted(slugs("initiator=GB")) == ["during", "month"]
    assert slugs("initiator=JP") == [] and slugs("country=JP") == []
    assert stored() == expected()
    counts = APIClient().get("/api/countries/GB/").json()["event_counts"]
    assert counts["by_role"]["initiator"] == 2 and counts["by_kind"]["meeting"] == 2
    japan = APIClient().get("/api/countries/JP/").json()["event_counts"]["by_role"]
    assert not any(japan.values())

    # The listing shows the state the person acted for, at the time.
    content = client.get("/events/?actor=minister").content.decode()
    rows = dict(re.findall(r'href="/events/([a-z]+)/">.*?</th>\s*<td>(.*?)</td>', content, re.S))
    assert "United Kingdom" in rows["during"] and "A Minister" in rows["before"]

    # The office's dates change: the events follow.
    office = minister.offices.get()
    office.end_date = None
    office.save()
    assert sorted(slugs("initiator=GB")) == ["after", "during", "month"]
    assert stored() == expected()
    office.delete()
    assert slugs("initiator=GB") == [] and stored() == expected()


def test_a_private_persons_citizenship_involves_no_state(world):
    gb, ru, _ = world
    citizen = make_actor("A Citizen", kind=ActorKind.PERSON, country=ru, slug="citizen")
    uk = make_actor("United Kingdom", country=gb, slug="uk")
    event = make_published_event(initiator=uk, target=citizen, kind="incident", slug="attack")
    assert involved(event) == ["GB"]
    assert slugs("target=RU") == [] and slugs("country=RU") == []
    assert slugs("actor=citizen") == ["attack"]  # the person is still found by name
    # Made a state actor, the same row now involves its country.
    citizen.kind = ActorKind.STATE
    citizen.save()
    assert slugs("target=RU") == ["attack"] and stored() == expected()


def test_agencies_involve_their_state_other_bodies_do_not(world):
    gb, _ru, jp = world
    ministry = make_actor("Ministry", kind=ActorKind.AGENCY, country=jp, slug="ministry")
    paper = make_actor("A Newspaper", kind=ActorKind.MEDIA, country=gb, slug="paper")
    event = make_published_event(initiator=ministry, target=paper, slug="x")
    assert involved(event, as_initiator=True) == ["JP"]
    assert involved(event) == ["JP"]
    assert stored() == expected()


def test_a_coalition_involves_no_country_its_members_act_through_their_own_events(world):
    gb, ru, jp = world
    coalition = make_actor("Partners", kind=ActorKind.COALITION, slug="partners")
    coalition.member_count_low = 21
    coalition.save()
    Membership.objects.create(bloc=coalition, country=gb)
    Membership(bloc=coalition, country=jp).full_clean()  # a coalition may have members
    russia = make_actor("Russia", country=ru, slug="russia")
    uk = make_actor("United Kingdom", country=gb, slug="uk")
    whole = make_published_event(initiator=coalition, target=russia, kind="expulsion", slug="whole")
    part = make_published_event(initiator=uk, target=russia, kind="expulsion", slug="part")
    part.outgoing_links.create(kind="part_of", to_event=whole)
    assert involved(whole) == ["RU"] and involved(whole, as_initiator=True) == []
    assert slugs("initiator=GB") == ["part"]
    assert sorted(slugs("target=RU")) == ["part", "whole"]
    assert stored() == expected()


def test_only_a_coalition_has_a_lower_bound_of_members(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_actor("A State", slug="a-state", member_count_low=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_actor("Partners", kind=ActorKind.COALITION, slug="none", member_count_low=0)
    with pytest.raises(ValidationError) as refused:
        Actor(name="A State", slug="s", kind=ActorKind.STATE, member_count_low=3).full_clean()
    assert "Only a coalition has a number of members" in str(refused.value)
    make_actor("Partners", kind=ActorKind.COALITION, slug="unknown")  # not known: allowed
    make_actor("Partners", kind=ActorKind.COALITION, slug="partners", member_count_low=21)


# --- Every write path keeps the rows equal to a recomputation ---------------------------------


@pytest.fixture
def people(world):
    gb, ru, jp = world
    minister = make_actor("A Minister", kind=ActorKind.PERSON, country=jp, slug="minister")
    Office.objects.create(holder=minister, title="Minister", country=jp)
    citizen = make_actor("A Citizen", kind=ActorKind.PERSON, country=ru, slug="citizen")
    uk = make_actor("United Kingdom", country=gb, slug="uk")
    return minister, citizen, uk


def test_an_api_edit_of_the_participants(people):
    _minister, citizen, uk = people
    event = make_published_event(initiator=uk, target=citizen, slug="edited")
    editor = APIClient()
    editor.force_authenticate(make_user("ed", EDITORS))
    response = editor.patch(
        "/api/events/edited/",
        {
            "version": event.version,
            "participants": [
                {"actor": "minister", "role": "initiator"},
                {"actor": "citizen", "role": "target"},
            ],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert involved(event) == ["JP"] and stored() == expected()
    assert slugs("initiator=JP") == ["edited"] and slugs("target=RU") == []


def test_an_admin_edit_of_the_participants(people, client):
    minister, citizen, uk = people
    event = make_event(slug="drafted")
    client.force_login(make_user("ed", EDITORS))
    response = client.post(
        change_url(event),
        form_data(
            event,
            participations=[
                {"actor": minister.pk, "role": "initiator", "position": 0},
                {"actor": citizen.pk, "role": "target", "position": 1},
                {"actor": uk.pk, "role": "participant", "position": 2},
            ],
        ),
    )
    assert response.status_code == 302, response.context and response.context.get("errors")
    assert involved(event) == ["GB", "JP"] and involved(event, as_target=True) == []
    assert stored() == expected()


def test_an_import(people, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "slug,kind,title,start_date,participants,citations\n"
        'imported,meeting,A meeting,2018-03-21,initiator:minister;target:citizen,"'
        '[{""source_url"": ""https://example.org/x"", ""source_title"": ""X"", '
        '""source_publisher"": ""P"", ""locator"": ""p. 1""}]"\n'
    )
    problems, counts, _ = run_import(path, publish=True)
    assert not problems and counts["created"] == 1
    assert involved(Event.objects.get(slug="imported")) == ["JP"]
    assert stored() == expected()
    assert slugs("initiator=JP") == ["imported"] and slugs("target=RU") == []
