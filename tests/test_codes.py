"""CAMEO and PLOVER codes derive from kind, mode and status, from one mapping."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from events.codes import CODES, codes_for
from events.models import Event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "kind, mode, status, expected",
    [
        ("phone_call", "", "occurred", ("041", "CONSULT", "phone")),
        ("expulsion", "", "occurred", ("161", "SANCTION", "expel")),
        ("summit", "visit", "planned", ("036", "AGREE", "")),
        ("summit", "visit", "occurred", ("042", "CONSULT", "visit")),
        ("meeting", "third_place", "occurred", ("044", "CONSULT", "third-party")),
        ("summit", "multilateral", "occurred", ("040", "CONSULT", "multilateral")),
        ("meeting", "negotiation", "postponed", ("164", "SANCTION", "withdraw")),
        ("statement", "accusation", "occurred", ("112", "ACCUSE", "disapprove")),
        ("incident", "assassination_attempt", "occurred", ("185", "ASSAULT", "assassinate")),
        ("sanction", "", "occurred", ("163", "COERCE", "restrict")),
    ],
)
def test_codes_for(kind, mode, status, expected):
    assert tuple(codes_for(kind, mode, status)) == expected


def test_every_kind_has_codes():
    from events.models import EventKind

    assert {kind for kind, _ in CODES} == set(EventKind.values)


def test_saving_derives_the_codes():
    event = Event.objects.create(
        kind="phone_call", title="t", slug="t", start_date=datetime.date(2018, 3, 19)
    )
    assert (event.cameo_code, event.plover_type, event.plover_mode) == ("041", "CONSULT", "phone")
    event.kind, event.mode = "meeting", "visit"
    event.save()
    event.refresh_from_db()
    assert event.cameo_code == "042"


def test_a_mode_must_fit_the_kind():
    event = Event(
        kind="expulsion", mode="visit", title="t", slug="t", start_date=datetime.date(2018, 3, 1)
    )
    with pytest.raises(ValidationError) as excinfo:
        event.full_clean()
    assert excinfo.value.message_dict["mode"] == ["This mode does not apply to this kind of event."]


def test_fixture_codes():
    call_command("load_fixtures", verbosity=0)
    codes = dict(Event.objects.values_list("slug", "cameo_code"))
    assert codes["2018-03-19-abe-putin-phone-call"] == "041"
    assert codes["2018-03-14-uk-expels-23-russian-diplomats"] == "161"
    assert codes["2018-05-abe-putin-summit-in-russia"] == "036"
    assert codes["2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal"] == "185"
