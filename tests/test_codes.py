"""CAMEO and PLOVER codes derive from kind, mode and status, from one mapping."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from events.codes import CODES, codes_for
from events.models import Event
from tests.articles import load_articles

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
    load_articles()
    codes = dict(Event.objects.values_list("slug", "cameo_code"))
    assert codes["2018-03-19-abe-putin-phone-call"] == "041"
    assert codes["2018-03-14-uk-expels-23-russian-diplomats"] == "161"
    assert codes["2018-05-abe-putin-summit-in-russia"] == "036"
    assert codes["2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal"] == "185"


@pytest.fixture
def fixtures():
    load_articles()


def test_codes_in_the_api_and_its_filters(client, fixtures):
    detail = client.get("/api/events/2018-03-19-abe-putin-phone-call/").json()
    assert (detail["cameo_code"], detail["plover_type"], detail["plover_mode"]) == (
        "041",
        "CONSULT",
        "phone",
    )
    calls = client.get("/api/events/?cameo=041").json()["results"]
    assert {e["slug"] for e in calls} == {
        "2018-03-19-abe-putin-phone-call",
        "2018-03-20-may-abe-phone-call",
    }
    sanctions = client.get("/api/events/?plover=SANCTION").json()["results"]
    assert {e["kind"] for e in sanctions} == {"expulsion", "summit", "meeting"}  # 161 and 164
    assert client.get("/api/events/?cameo=04").json()["results"]  # a root code: its subcodes
    bad = client.get("/api/events/?cameo=phone")
    assert bad.status_code == 400 and "cameo" in bad.json()


def test_codes_in_the_csv_export_and_the_listing(client, fixtures, tmp_path):
    import csv
    import io

    response = client.get("/api/events/?format=csv&kind=expulsion")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {(r["cameo_code"], r["plover_type"], r["plover_mode"]) for r in rows} == {
        ("161", "SANCTION", "expel")
    }
    out = tmp_path / "export.csv"
    call_command("export_events", cameo="161", output=str(out))
    exported = list(csv.DictReader(out.open()))
    assert len(exported) == 3 and {r["cameo_code"] for r in exported} == {"161"}
    listing = client.get("/events/?cameo=161").content.decode()
    assert "United Kingdom expels 23 Russian diplomats" in listing
    assert "Shinzo Abe and Vladimir Putin speak by phone" not in listing
