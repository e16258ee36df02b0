"""The article fixtures: they load, load again without change, survive a dump and reload, and
hold the facts as the sources give them."""

import datetime
import io
import json

import pytest
from django.core.management import call_command

from events.models import (
    Actor,
    Citation,
    Country,
    CountryInvolvement,
    DatePrecision,
    Event,
    EventStatus,
    Participation,
    ReviewState,
    Role,
)

pytestmark = pytest.mark.django_db

APPS = [
    "events.country",
    "events.actor",
    "events.membership",
    "events.office",
    "events.source",
    "events.event",
    "events.participation",
    "events.citation",
    "events.eventlink",
]


def dump():
    out = io.StringIO()
    call_command(
        "dumpdata", *APPS, natural_foreign=True, natural_primary=True, indent=1, stdout=out
    )
    return out.getvalue()


@pytest.fixture
def loaded():
    call_command("load_fixtures", verbosity=0)


def test_fixtures_load_on_an_empty_database(loaded):
    assert Country.objects.count() == 249
    assert Event.objects.count() == 25
    assert Actor.objects.filter(slug="g7").get().member_countries.count() == 7


def test_loading_twice_changes_nothing(loaded):
    before = dump()
    counts = [Event.objects.count(), Participation.objects.count(), Citation.objects.count()]
    call_command("load_fixtures", verbosity=0)
    assert dump() == before
    assert [
        Event.objects.count(),
        Participation.objects.count(),
        Citation.objects.count(),
    ] == counts


def test_dump_and_reload_into_a_fresh_database_loses_nothing(loaded, tmp_path):
    before = dump()
    path = tmp_path / "dump.json"
    path.write_text(before)
    call_command("flush", interactive=False, verbosity=0)
    assert Event.objects.count() == 0
    call_command("loaddata", str(path), verbosity=0)
    assert dump() == before


def test_fixtures_carry_no_primary_keys():
    from django.conf import settings

    for path in sorted(settings.FIXTURE_DIRS[0].glob("*.json")):
        for obj in json.loads(path.read_text()):
            assert "pk" not in obj, f"{path.name}: {obj['model']} carries a primary key"


def test_every_event_cites_a_source_and_has_a_participant(loaded):
    assert not Event.objects.filter(citations__isnull=True).exists()
    assert not Event.objects.filter(participations__isnull=True).exists()
    assert Event.objects.exclude(review_state=ReviewState.PUBLISHED).count() == 0


PLANNED = {
    "2018-05-abe-putin-summit-in-russia",
    "2018-04-19-japan-russia-strategic-dialogue-moscow",
    "2018-05-japan-russia-security-talks",
    "2018-g7-summit",
}


def test_every_planned_event_has_status_planned(loaded):
    assert set(Event.objects.filter(status=EventStatus.PLANNED).values_list("slug", flat=True)) == (
        PLANNED
    )


MONTH_PRECISION = {
    "2018-05-abe-putin-summit-in-russia": (2018, 5),
    "2018-05-japan-russia-security-talks": (2018, 5),
    "2017-08-theresa-may-visits-tokyo": (2017, 8),
    "2017-08-japan-uk-joint-declaration-on-security": (2017, 8),
    "2017-08-uk-announces-hms-argyll-deployment-to-japan": (2017, 8),
    "2016-05-abe-announces-new-approach-to-russia": (2016, 5),
    "2018-03-lavrov-on-joint-economic-activities": (2018, 3),
    "2018-03-boris-johnson-on-largest-collective-expulsion": (2018, 3),
}


def test_month_precision_dates_are_stored_as_such(loaded):
    month_events = Event.objects.filter(date_precision=DatePrecision.MONTH)
    assert set(month_events.values_list("slug", flat=True)) == set(MONTH_PRECISION)
    for event in month_events:
        assert (event.start_date.year, event.start_date.month) == MONTH_PRECISION[event.slug]
        assert event.start_date.day == 1, f"{event.slug} invents a day"
    # Every stored date is on its precision's boundary: no invented day or month.
    for event in Event.objects.all():
        event.full_clean()


def participants(slug, role):
    return set(
        Participation.objects.filter(event__slug=slug, role=role).values_list(
            "actor__slug", flat=True
        )
    )


@pytest.mark.parametrize(
    "slug, day, estimates, initiator",
    [
        (
            "2018-03-14-uk-expels-23-russian-diplomats",
            (2018, 3, 14),
            (23, 23, 23),
            "united-kingdom",
        ),
        (
            "2018-03-26-united-states-expels-60-russian-diplomats",
            (2018, 3, 26),
            (60, 60, 60),
            "united-states",
        ),
        # "In excess of 100": a low of 101, no best or high estimate.
        (
            "2018-03-26-coordinated-expulsion-of-russian-diplomats",
            (2018, 3, 26),
            (101, None, None),
            "uk-international-partners",
        ),
    ],
)
def test_expulsions_as_the_sources_give_them(loaded, slug, day, estimates, initiator):
    event = Event.objects.get(slug=slug)
    assert event.start_date == datetime.date(*day)
    assert event.date_precision == DatePrecision.DAY
    assert (event.expelled_low, event.expelled_best, event.expelled_high) == estimates
    assert initiator in participants(slug, Role.INITIATOR)
    assert participants(slug, Role.TARGET) == {"russia"}


def test_phone_calls_and_quoted_words(loaded):
    call = Event.objects.get(slug="2018-03-19-abe-putin-phone-call")
    assert call.start_date == datetime.date(2018, 3, 19)
    assert call.quoted_words == (
        "“The use of chemical weapons is unacceptable and, above all, "
        "it is important to establish the facts.”"
    )
    assert participants(call.slug, Role.SPEAKER) == {"shinzo-abe"}
    may_call = Event.objects.get(slug="2018-03-20-may-abe-phone-call")
    assert participants(may_call.slug, Role.INITIATOR) == {"theresa-may"}


def test_links_answer_the_poisoning(loaded):
    poisoning = Event.objects.get(slug="2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal")
    responders = set(
        poisoning.incoming_links.filter(kind="responds_to").values_list(
            "from_event__slug", flat=True
        )
    )
    assert "2018-03-26-coordinated-expulsion-of-russian-diplomats" in responders
    us = Event.objects.get(slug="2018-03-26-united-states-expels-60-russian-diplomats")
    assert us.outgoing_links.get().to_event.slug == (
        "2018-03-26-coordinated-expulsion-of-russian-diplomats"
    )


def test_g7_members_that_expelled_no_one_is_a_query(loaded):
    # Initiating countries as the involvement rule has them (a coalition involves none).
    expelled = CountryInvolvement.objects.filter(as_initiator=True, kind="expulsion").values(
        "country"
    )
    quiet = Country.objects.filter(blocs__slug="g7").exclude(pk__in=expelled)
    assert "JP" in set(quiet.values_list("code", flat=True))
    assert "US" not in set(quiet.values_list("code", flat=True))


def test_offices_are_data(loaded):
    kono = Actor.objects.get(slug="taro-kono")
    office = kono.offices.get()
    assert (office.title, office.country.code) == ("Foreign Minister", "JP")


def test_a_published_event_without_citation_fails_the_load_and_writes_nothing(
    tmp_path, monkeypatch
):
    from django.core.management.base import CommandError

    from events.management.commands import load_fixtures

    bare = tmp_path / "bare.json"
    bare.write_text(
        json.dumps(
            [
                {
                    "model": "events.event",
                    "fields": {
                        "kind": "meeting",
                        "title": "A meeting nobody cites",
                        "slug": "uncited-meeting",
                        "start_date": "2018-03-21",
                        "review_state": "published",
                    },
                }
            ]
        )
    )
    monkeypatch.setattr(load_fixtures, "FIXTURES", [*load_fixtures.FIXTURES, str(bare)])
    with pytest.raises(CommandError) as error:
        call_command("load_fixtures", verbosity=0)
    assert "'uncited-meeting' is published but it has no participant and it cites no source" in (
        str(error.value)
    )
    assert not Event.objects.exists() and not Country.objects.exists()
