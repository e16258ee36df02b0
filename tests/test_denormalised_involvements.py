"""The derived country involvements stay in step with events, participants and actors on
every write path, so the country, initiator and target filters never miss or invent an event."""

import datetime
import io
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from events.importing import run_import
from events.models import (
    CountryInvolvement,
    Event,
    Participation,
    Role,
    refresh_involvements,
)
from tests.factories import make_actor, make_country, make_published_event

pytestmark = pytest.mark.django_db


def acting_countries(actor, event):
    """The countries a participant makes a party to `event`, by the involvement rule: a state's
    or an agency's own country; a person's offices of a state held at some time in the event's
    period (unknown dates do not exclude); nothing for anyone else (a coalition, a private
    person's citizenship)."""
    if actor.kind in ("state", "agency"):
        return {actor.country_id} - {None}
    if actor.kind != "person":
        return set()
    return {
        office.country_id
        for office in actor.offices.all()
        if office.country_id
        and (office.start_date is None or office.start_date <= event.period_end)
        and (office.end_date is None or office.end_date >= event.start_date)
    }


def expected():
    """The involvements recomputed from scratch, in Python: {(event, country): (ini, tgt)}."""
    rows = {}
    events = {event.pk: event for event in Event.objects.all()}
    for event in events.values():
        if event.location_country_id:
            rows.setdefault((event.pk, event.location_country_id), [False, False])
    for p in Participation.objects.select_related("actor").prefetch_related("actor__offices"):
        for country_id in acting_countries(p.actor, events[p.event_id]):
            flags = rows.setdefault((p.event_id, country_id), [False, False])
            flags[0] |= p.role == Role.INITIATOR
            flags[1] |= p.role == Role.TARGET
    return {key: tuple(flags) for key, flags in rows.items()}


def stored():
    events = {
        pk: (day, kind) for pk, day, kind in Event.objects.values_list("pk", "start_date", "kind")
    }
    rows = {}
    for row in CountryInvolvement.objects.all():
        # The copies of the sort key and of the kind are current.
        assert (row.start_date, row.kind) == events[row.event_id]
        rows[(row.event_id, row.country_id)] = (row.as_initiator, row.as_target)
    for event_id, day in Participation.objects.values_list("event_id", "start_date"):
        assert day == events[event_id][0]  # each participation's copy of the start date
    # Each event's copies of its country ids: sorted, None for none.
    ids = {pk: ([], [], []) for pk in events}
    for (event_id, country_id), (initiator, target) in sorted(rows.items()):
        involved, initiators, targets = ids[event_id]
        involved.append(country_id)
        if initiator:
            initiators.append(country_id)
        if target:
            targets.append(country_id)
    copies = Event.objects.values_list(
        "pk", "involved_country_ids", "initiator_country_ids", "target_country_ids"
    )
    for pk, *columns in copies:
        assert columns == [column or None for column in ids[pk]], pk
    return rows


def slugs(query):
    response = APIClient().get(f"/api/events/?{query}")
    assert response.status_code == 200, response.content
    return [event["slug"] for event in response.json()["results"]]


@pytest.fixture
def world():
    gb, ru = make_country(), make_country("RU", "RUS", "Russia")
    jp = make_country("JP", "JPN", "Japan")
    uk = make_actor("United Kingdom", country=gb, slug="uk")
    russia = make_actor("Russia", country=ru, slug="russia")
    return SimpleNamespace(uk=uk, russia=russia, jp=jp)


def test_participants_location_and_dates_are_kept_in_step(world):
    uk, russia, jp = world.uk, world.russia, world.jp
    event = make_published_event(initiator=uk, target=russia, slug="expulsion")
    assert stored() == expected()
    assert slugs("initiator=GB") == ["expulsion"] and slugs("target=RU") == ["expulsion"]
    assert slugs("initiator=RU") == [] and slugs("country=JP") == []

    event.location_country = jp
    event.start_date = datetime.date(2019, 1, 1)
    event.save()
    assert stored() == expected() and slugs("country=JP") == ["expulsion"]

    Participation.objects.get(event=event, role=Role.TARGET).delete()
    assert stored() == expected() and slugs("target=RU") == [] and slugs("country=RU") == []
    Participation.objects.create(event=event, actor=russia, role=Role.INITIATOR, position=3)
    assert stored() == expected() and slugs("initiator=RU") == ["expulsion"]


def test_a_new_kind_moves_the_event_between_kind_filters(world):
    event = make_published_event(initiator=world.uk, target=world.russia, slug="talks")
    assert slugs("kind=meeting&initiator=GB") == ["talks"]
    assert slugs("kind=expulsion&country=GB") == []
    event.kind = "expulsion"
    event.save()
    assert stored() == expected()
    assert slugs("kind=expulsion&initiator=GB") == ["talks"]
    assert slugs("kind=expulsion,summit&target=RU") == ["talks"]
    assert slugs("kind=meeting&country=GB") == []


def test_the_actor_filter_follows_new_dates_and_lists_an_event_once(world):
    uk, russia = world.uk, world.russia
    old = make_published_event(initiator=uk, target=russia, slug="old")
    new = make_published_event(
        initiator=uk, target=russia, slug="new", start_date=datetime.date(2019, 1, 1)
    )
    # The UK in a second role of the same event: still one row for that event.
    Participation.objects.create(event=new, actor=uk, role=Role.HOST, position=2)
    assert stored() == expected()
    assert slugs("actor=uk") == ["new", "old"]
    assert slugs("actor=uk&ordering=date") == ["old", "new"]
    old.start_date = datetime.date(2020, 6, 1)
    old.save()
    assert stored() == expected()
    assert slugs("actor=uk") == ["old", "new"]
    assert slugs("actor=uk&initiator=GB&kind=meeting") == ["old", "new"]
    Participation.objects.filter(event=new, actor=uk, role=Role.INITIATOR).delete()
    assert slugs("actor=uk") == ["old", "new"] and slugs("initiator=GB") == ["old"]


def test_the_date_order_and_cursor_under_an_actor_filter(world):
    uk, russia = world.uk, world.russia
    made = []
    for i in range(7):
        event = make_published_event(
            initiator=uk, target=russia, start_date=datetime.date(2018, 1, 1 + i % 3)
        )
        if i % 2:
            Participation.objects.create(event=event, actor=russia, role=Role.SPEAKER)
        made.append(event)
    newest_first = sorted(made, key=lambda e: (e.start_date, e.pk), reverse=True)
    for query in ("actor=russia&page_size=2", "actor=russia&country=RU&page_size=3"):
        seen, url = [], f"/api/events/?{query}"
        while url:
            page = APIClient().get(url).json()
            seen += [event["slug"] for event in page["results"]]
            url = page["next"]
        assert seen == [event.slug for event in newest_first]


def test_an_actors_new_country_moves_its_events(world):
    uk, russia, jp = world.uk, world.russia, world.jp
    make_published_event(initiator=uk, target=russia, slug="a")
    uk.country = jp
    uk.save()
    assert stored() == expected()
    assert slugs("initiator=JP") == ["a"] and slugs("initiator=GB") == []
    uk.country = None
    uk.save()
    assert stored() == expected() and slugs("country=JP") == []


def test_deleting_an_event_deletes_its_involvements(world):
    uk, russia = world.uk, world.russia
    event = make_published_event(initiator=uk, target=russia)
    event.delete()
    assert not CountryInvolvement.objects.exists()
    connection.check_constraints()  # no row left pointing at the deleted event


def test_the_date_order_and_cursor_under_a_country_filter(world):
    uk, russia = world.uk, world.russia
    made = [
        make_published_event(
            initiator=uk, target=russia, start_date=datetime.date(2018, 1, 1 + i % 3)
        )
        for i in range(7)
    ]
    newest_first = sorted(made, key=lambda e: (e.start_date, e.pk), reverse=True)
    seen, url = [], "/api/events/?initiator=GB&page_size=2"
    while url:
        page = APIClient().get(url).json()
        seen += [event["slug"] for event in page["results"]]
        url = page["next"]
    assert seen == [event.slug for event in newest_first]
    oldest = slugs("initiator=GB&ordering=date&page_size=50")
    assert oldest == [event.slug for event in reversed(newest_first)]


def test_the_import_writes_involvements(world, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "slug,kind,title,start_date,location_country,participants,citations\n"
        'imported,meeting,A meeting,2018-03-21,JP,initiator:uk;target:russia,"'
        '[{""source_url"": ""https://example.org/x"", ""source_title"": ""X"", '
        '""source_publisher"": ""P"", ""locator"": ""p. 1""}]"\n'
    )
    problems, counts, _ = run_import(path, publish=True)
    assert not problems and counts["created"] == 1
    assert stored() == expected()
    assert slugs("actor=uk") == ["imported"] and slugs("kind=meeting&target=RU") == ["imported"]
    assert slugs("initiator=GB") == ["imported"] and slugs("country=JP") == ["imported"]


def test_loading_the_fixtures_writes_involvements():
    call_command("load_fixtures", verbosity=0)
    assert CountryInvolvement.objects.exists()
    assert stored() == expected()


def test_the_generator_writes_and_removes_involvements():
    call_command("loaddata", "countries", verbosity=0)
    call_command(
        "generate_synthetic", events=200, actors=80, seed=3, batch_size=1000, stdout=io.StringIO()
    )
    assert CountryInvolvement.objects.exists()
    assert stored() == expected()
    refresh_involvements(Event.objects.values_list("pk", flat=True))
    assert stored() == expected()
    # A bulk write that leaves the copies empty or stale: one refresh puts them right.
    Participation.objects.update(start_date=None)
    Event.objects.filter(pk__in=Event.objects.order_by("pk")[:20].values("pk")).update(
        start_date=datetime.date(1999, 1, 1), kind="expulsion", mode=""
    )
    refresh_involvements(Event.objects.values_list("pk", flat=True))
    assert stored() == expected()
    call_command("generate_synthetic", remove=True, stdout=io.StringIO())
    assert not CountryInvolvement.objects.exists()
