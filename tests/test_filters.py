"""The event FilterSet that the API and the HTML listing share, on the article fixtures."""

import pytest
from django.core.management import call_command
from django.http import QueryDict

from events.filters import EventFilter
from events.models import Event, Source

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fixtures():
    call_command("load_fixtures", verbosity=0)


def run(query):
    filterset = EventFilter(QueryDict(query), queryset=Event.objects.all())
    assert filterset.is_valid(), filterset.errors
    return [event.slug for event in filterset.qs]


def errors(query):
    filterset = EventFilter(QueryDict(query), queryset=Event.objects.all())
    assert not filterset.is_valid()
    return {field: " ".join(messages) for field, messages in filterset.errors.items()}


def test_kind_accepts_one_or_several_comma_separated():
    assert len(run("kind=expulsion")) == 3
    assert set(run("kind=phone_call")) == {
        "2018-03-19-abe-putin-phone-call",
        "2018-03-20-may-abe-phone-call",
    }
    assert len(run("kind=expulsion,phone_call")) == 5
    assert len(run("kind=expulsion&kind=phone_call")) == 5


def test_initiator_and_target_take_alpha2_or_alpha3_in_any_case():
    us = {
        "2018-03-26-coordinated-expulsion-of-russian-diplomats",
        "2018-03-26-united-states-expels-60-russian-diplomats",
    }
    assert set(run("kind=expulsion&initiator=US")) == us
    assert set(run("kind=expulsion&initiator=usa")) == us
    assert len(run("kind=expulsion&target=ru")) == 3
    assert run("kind=expulsion&initiator=JP") == []


def test_phone_calls_of_19_to_20_march():
    assert len(run("kind=phone_call&date_after=2018-03-19&date_before=2018-03-20")) == 2
    assert run("kind=phone_call&date_after=2018-03-21") == []


def test_month_precision_event_matches_a_range_inside_its_month():
    found = run("kind=summit&status=planned&date_after=2018-05-10&date_before=2018-05-20")
    # The May summit (month precision) and the G7 summit (year precision, 2018) overlap.
    assert found == ["2018-05-abe-putin-summit-in-russia", "2018-g7-summit"]
    assert run("kind=summit&date_after=2018-04-01&date_before=2018-04-30") == ["2018-g7-summit"]
    assert run("kind=summit&date_after=2018-06-01&date_before=2018-06-30") == ["2018-g7-summit"]


def test_country_means_any_involvement():
    # Japan is the location of the Tokyo meeting and the country of many participants.
    assert "2018-03-21-kono-lavrov-meeting-tokyo" in run("country=JP")
    assert "2018-03-26-united-states-expels-60-russian-diplomats" not in run("country=JP")


def test_actor_source_and_linked_to():
    assert set(run("actor=theresa-may")) >= {"2018-03-20-may-abe-phone-call"}
    commentary = Source.objects.get(kind="commentary")
    assert "2018-03-19-abe-putin-phone-call" in run(f"source={commentary.pk}")
    news = Source.objects.get(kind="news")
    assert "2018-03-19-abe-putin-phone-call" not in run(f"source={news.pk}")
    linked = set(run("linked_to=2018-03-26-coordinated-expulsion-of-russian-diplomats"))
    assert "2018-03-26-united-states-expels-60-russian-diplomats" in linked  # incoming
    assert "2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal" in linked  # outgoing


def test_text_and_ordering():
    assert run("q=Skripal") == ["2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal"]
    titles = run("ordering=title&kind=expulsion")
    assert titles[0] == "2018-03-26-coordinated-expulsion-of-russian-diplomats"
    assert run("ordering=date")[0] == "2014-russian-military-intervention-in-ukraine"
    assert run("")[0] == "2018-05-abe-putin-summit-in-russia"


@pytest.mark.parametrize(
    "query, field, message",
    [
        ("kind=visit", "kind", "Unknown value visit; choose from:"),
        ("status=maybe", "status", "Select a valid choice"),
        ("date_after=2018-13-45", "date_after", "Enter a valid date"),
        ("country=XX", "country", "Unknown country code 'XX'."),
        ("initiator=ZZZZ", "initiator", "Unknown country code 'ZZZZ'."),
        ("actor=nobody", "actor", "Unknown actor 'nobody'."),
        ("source=99999", "source", "Unknown source id '99999'."),
        ("source=abc", "source", "Unknown source id 'abc'."),
        ("linked_to=nothing", "linked_to", "Unknown event 'nothing'."),
        ("ordering=slug", "ordering", "Select a valid choice"),
    ],
)
def test_bad_values_are_errors_naming_the_parameter(query, field, message):
    found = errors(query)
    assert list(found) == [field]
    assert message in found[field]


def test_a_drafts_slug_is_unknown_to_the_public():
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    Event.objects.filter(slug="2018-03-14-uk-expels-23-russian-diplomats").update(
        review_state="draft"
    )
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    query = QueryDict("linked_to=2018-03-14-uk-expels-23-russian-diplomats")
    filterset = EventFilter(query, queryset=Event.objects.published(), request=request)
    assert not filterset.is_valid()
    assert "Unknown event" in str(filterset.errors["linked_to"])
