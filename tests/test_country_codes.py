"""Countries carry the codes researchers join on (ISO numeric, Correlates of War,
Gleditsch-Ward), from the `countrycode` codelist kept in fixtures/countries.json; every country
filter takes them (`iso3n:392`, `cow:740`, `gw:740`) beside ISO alpha-2 and alpha-3, and a
malformed one is a 400 naming the parameter."""

import csv
import importlib
import io
import json
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from events.filters import resolve_country
from events.models import Country
from tests.articles import load_articles

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "countries.json"

UK_23 = "2018-03-14-uk-expels-23-russian-diplomats"
US_60 = "2018-03-26-united-states-expels-60-russian-diplomats"


@pytest.fixture
def countries():
    call_command("loaddata", "countries", verbosity=0)


@pytest.fixture
def fixtures():
    load_articles()


def fixture_rows():
    return [row["fields"] for row in json.loads(FIXTURE.read_text(encoding="utf-8"))]


# --- The codes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "iso_numeric", "cow_code", "gw_code"),
    [
        ("JP", "392", 740, 740),
        ("US", "840", 2, 2),
        ("GB", "826", 200, 200),
        ("RU", "643", 365, 365),
        # Where the two state lists differ: Germany continues Prussia in COW, the Federal
        # Republic in GW; COW files Serbia under Yugoslavia's 345, GW unified Yemen under the
        # Yemen Arab Republic's 678.
        ("DE", "276", 255, 260),
        ("RS", "688", 345, 340),
        ("YE", "887", 679, 678),
        ("VN", "704", 816, 815),
        ("AU", "036", 900, 900),
        # Not in a state list: a territory, and a microstate GW leaves out.
        ("PR", "630", None, None),
        ("AD", "020", 232, None),
    ],
)
def test_the_fixture_holds_the_codes_of_the_lists(countries, code, iso_numeric, cow_code, gw_code):
    country = Country.objects.get(code=code)
    assert (country.iso_numeric, country.cow_code, country.gw_code) == (
        iso_numeric,
        cow_code,
        gw_code,
    )


def test_every_fixture_country_has_an_iso_numeric_code_and_no_code_is_shared(countries):
    rows = fixture_rows()
    assert len(rows) == Country.objects.count() == 249
    assert all(re.fullmatch(r"[0-9]{3}", row["iso_numeric"]) for row in rows)
    for name in ("iso_numeric", "cow_code", "gw_code"):
        values = [row[name] for row in rows if row[name] is not None]
        assert len(values) == len(set(values)), name
    # The codelist's coverage, give or take the two supplements named in the README.
    assert sum(row["cow_code"] is not None for row in rows) == 195
    assert sum(row["gw_code"] is not None for row in rows) == 174


def test_every_code_of_every_fixture_country_names_that_country(
    countries, django_assert_max_num_queries
):
    checked = 0
    for country in Country.objects.all():
        codes = [country.code, country.code.lower(), country.code3, country.code3.lower()]
        codes.append(f"iso3n:{country.iso_numeric}")
        codes.append(f"ISO3N:{int(country.iso_numeric)}")  # as R's countrycode writes it: 36
        if country.cow_code is not None:
            codes += [f"cow:{country.cow_code}", f"COW:{country.cow_code}"]
        if country.gw_code is not None:
            codes += [f"gw:{country.gw_code}", f"Gw: {country.gw_code}"]
        for code in codes:
            assert resolve_country(code) == country, code
            assert resolve_country(code, strict=True) == country, code
            checked += 1
    assert checked > 249 * 6


@pytest.mark.parametrize("code", ["cow:9999", "gw:1", "iso3n:999", "cow:0", "XX", "ZZZ"])
def test_a_well_formed_code_no_country_has_is_unknown(countries, code):
    assert resolve_country(code) is None
    assert resolve_country(code, strict=True) is None


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("cow:abc", "'cow:abc' is not a code: cow: takes a Correlates of War state number"),
        ("gw:", "'gw:' is not a code: gw: takes a Gleditsch-Ward state number"),
        ("iso3n:99999", "'iso3n:99999' is not a code: iso3n: takes an ISO 3166-1 numeric code"),
        ("cow:-2", "'cow:-2' is not a code"),
        ("cow:7.4", "'cow:7.4' is not a code"),
        ("cow:٣", "is not a code"),
        ("xyz:1", "Unknown list 'xyz' in 'xyz:1'"),
        (":740", "Unknown list '' in ':740'"),
    ],
)
def test_a_malformed_code_is_an_error_for_the_filters_and_unknown_elsewhere(
    countries, code, message
):
    assert resolve_country(code) is None  # the import and the admin report an unknown code
    with pytest.raises(ValidationError) as excinfo:
        resolve_country(code, strict=True)
    assert message in excinfo.value.messages[0]


# --- The filters ---------------------------------------------------------------------------


def slugs(client, query):
    response = client.get(f"/api/events/?page_size=500&{query}")
    assert response.status_code == 200, response.content
    return sorted(event["slug"] for event in response.json()["results"])


def test_every_code_of_an_involved_country_filters_the_api_alike(client, fixtures):
    involved = Country.objects.filter(involvements__isnull=False).distinct()
    assert involved.filter(code__in=["JP", "GB", "US", "RU"]).count() == 4
    for country in involved:
        codes = [country.code3.lower(), f"iso3n:{country.iso_numeric}"]
        codes += [f"cow:{country.cow_code}"] if country.cow_code else []
        codes += [f"gw:{country.gw_code}"] if country.gw_code else []
        for parameter in ("country", "initiator", "target"):
            expected = slugs(client, f"{parameter}={country.code}")
            for code in codes:
                assert slugs(client, f"{parameter}={code}") == expected, (parameter, code)


def test_the_uk_by_its_cow_number_and_russia_by_its_gw_number(client, fixtures):
    found = slugs(client, "kind=expulsion&initiator=cow:200&target=gw:365")
    assert UK_23 in found and US_60 not in found
    assert US_60 in slugs(client, "kind=expulsion&initiator=iso3n:840")


@pytest.mark.parametrize("parameter", ["country", "initiator", "target"])
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("cow:abc", "'cow:abc' is not a code: cow: takes a Correlates of War state number"),
        ("gw:", "'gw:' is not a code"),
        ("iso3n:99999", "'iso3n:99999' is not a code"),
        ("xyz:1", "Unknown list 'xyz'"),
        ("cow:9999", "Unknown country code 'cow:9999'."),
    ],
)
def test_a_bad_code_is_a_400_naming_the_parameter_on_the_api(
    client, countries, parameter, code, message
):
    response = client.get(f"/api/events/?{parameter}={code}")
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [parameter]
    assert message in body[parameter][0]


def test_a_bad_code_is_a_400_in_the_csv_and_on_the_actors_list(client, fixtures):
    response = client.get("/api/events/?format=csv&country=cow:abc")
    assert response.status_code == 400
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["parameter", "message"] and rows[1][0] == "country"
    assert "is not a code" in rows[1][1]
    response = client.get("/api/actors/?country=gw:x")
    assert response.status_code == 400 and list(response.json()) == ["country"]
    names = {
        actor["slug"] for actor in client.get("/api/actors/?country=cow:740").json()["results"]
    }
    assert names == {
        actor["slug"] for actor in client.get("/api/actors/?country=JP").json()["results"]
    }


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("country=cow:abc", "country", "is not a code: cow: takes a Correlates of War"),
        ("initiator=iso3n:99999", "initiator", "is not a code: iso3n: takes an ISO 3166-1"),
        ("target=xyz:1", "target", "Unknown list"),
        ("target=gw:9999", "target", "Unknown country code"),
    ],
)
def test_a_bad_code_is_a_form_error_on_the_listing(client, countries, query, field, message):
    response = client.get(f"/events/?{query}")
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(rf'<p class="error" id="id_{field}-error">([^<]*)</p>', html)
    assert error and message in error.group(1)
    assert 'class="event-table"' not in html


def test_the_listing_takes_the_codes(client, fixtures):
    response = client.get("/events/?initiator=COW:200&kind=expulsion")
    assert response.status_code == 200
    assert f'href="/events/{UK_23}/"' in response.content.decode()


# --- Where countries are shown --------------------------------------------------------------


def test_the_api_shows_a_countrys_codes(client, countries):
    japan = client.get("/api/countries/JP/").json()
    assert {key: japan[key] for key in ("code", "code3", "iso_numeric", "cow_code", "gw_code")} == {
        "code": "JP",
        "code3": "JPN",
        "iso_numeric": "392",
        "cow_code": 740,
        "gw_code": 740,
    }
    puerto_rico = client.get("/api/countries/PR/").json()
    assert (puerto_rico["cow_code"], puerto_rico["gw_code"]) == (None, None)
    listed = client.get("/api/countries/?q=germany").json()["results"]
    assert [(c["code"], c["cow_code"], c["gw_code"]) for c in listed] == [("DE", 255, 260)]


def test_the_country_page_shows_its_codes(client, fixtures):
    html = client.get("/countries/de/").content.decode()
    codes = html[html.index('<dl class="facts" aria-label="Codes">') :]
    codes = codes[: codes.index("</dl>")]
    assert "DE · DEU · 276" in codes
    assert "<dt>Correlates of War</dt><dd>255</dd>" in codes
    assert "<dt>Gleditsch–Ward</dt><dd>260</dd>" in codes
    html = client.get("/countries/pr/").content.decode()
    assert "Not a COW state" in html and "Not a GW state" in html


# --- Integrity and the migration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"iso_numeric": "39"}, "country_iso_numeric_format"),
        ({"iso_numeric": "39a"}, "country_iso_numeric_format"),
        ({"cow_code": 0}, "country_cow_code_positive"),
        ({"gw_code": 0}, "country_gw_code_positive"),
    ],
)
def test_a_malformed_code_is_refused_by_a_named_constraint(fields, constraint):
    country = Country(code="QQ", code3="QQQ", name="Nowhere", **fields)
    with pytest.raises(ValidationError) as excinfo:
        country.validate_constraints()
    named = next(c for c in Country._meta.constraints if c.name == constraint)
    assert excinfo.value.messages == [named.violation_error_message]
    with pytest.raises(IntegrityError), transaction.atomic():
        country.save()


def test_two_countries_cannot_share_a_code_but_may_both_have_none(countries):
    assert Country.objects.filter(cow_code__isnull=True).count() > 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Country.objects.create(code="QQ", code3="QQQ", name="Nowhere", cow_code=740)


def test_the_migration_gives_existing_countries_their_codes(countries):
    Country.objects.update(iso_numeric=None, cow_code=None, gw_code=None)
    Country.objects.create(code="QQ", code3="QQQ", name="Not in the fixture")
    migration = importlib.import_module("events.migrations.0011_country_codes")
    migration.fill_codes(apps, schema_editor=None)
    germany = Country.objects.get(code="DE")
    assert (germany.iso_numeric, germany.cow_code, germany.gw_code) == ("276", 255, 260)
    assert Country.objects.filter(iso_numeric__isnull=False).count() == 249
    assert Country.objects.get(code="QQ").iso_numeric is None
