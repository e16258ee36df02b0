"""Every event has a Goldstein scale value and a quad class, derived from its CAMEO code by the
published tables (events/codes.py), shown in the API and the CSV; the SQL that the
aggregates use give the same values as the Python functions, on either database."""

import csv
import io
import math

import pytest
from django.core.management import call_command
from django.db import connection

from events.codes import (
    CAMEO_CODES,
    CODES,
    GOLDSTEIN,
    HALTED_MEETING,
    PLANNED_MEETING,
    QuadClass,
    goldstein,
    goldstein_sql,
    quad_class,
    quad_class_sql,
)
from events.models import Event
from tests.articles import load_articles
from tests.factories import make_event

pytestmark = pytest.mark.django_db

UK_23 = "2018-03-14-uk-expels-23-russian-diplomats"
PHONE_CALL = "2018-03-19-abe-putin-phone-call"
PLANNED_SUMMIT = "2018-05-abe-putin-summit-in-russia"
SKRIPAL = "2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal"


# --- The tables ----------------------------------------------------------------------------


def test_the_table_is_gdelts_whole_and_covers_every_code_this_project_assigns():
    assert len(GOLDSTEIN) == 311
    assert {code[:2] for code in GOLDSTEIN} == {f"{root:02d}" for root in range(1, 21)}
    assert all(-10 <= value <= 10 for value in GOLDSTEIN.values())
    missing = [code for code in CAMEO_CODES if code not in GOLDSTEIN]
    assert missing == []


@pytest.mark.parametrize(
    ("cameo_code", "value"),
    [
        ("010", 0.0),  # make a statement
        ("030", 4.0),  # express intent to cooperate
        ("036", 4.0),  # express intent to meet or negotiate
        ("041", 1.0),  # discuss by telephone
        ("042", 1.9),  # make a visit
        ("044", 2.5),  # meet at a third location
        ("046", 7.0),  # engage in negotiation
        ("057", 8.0),  # sign formal agreement
        ("111", -2.0),  # criticize or denounce
        ("112", -2.0),  # accuse
        ("161", -4.0),  # reduce or break diplomatic relations
        ("163", -8.0),  # impose embargo, boycott or sanctions
        ("164", -7.0),  # halt negotiations
        ("185", -8.0),  # attempt to assassinate
        ("2041", -10.0),  # use chemical, biological or radiological weapons
        ("0874", 10.0),  # the scale's top
        ("130", -4.4),  # a root's "not specified" code may differ from the root
        ("13", -6.0),
    ],
)
def test_goldstein_values(cameo_code, value):
    assert goldstein(cameo_code) == value


@pytest.mark.parametrize("cameo_code", ["", None, "0999", "21", "abc", "1611"])
def test_a_code_the_table_lacks_has_no_goldstein_value(cameo_code):
    assert goldstein(cameo_code) is None


@pytest.mark.parametrize(
    ("cameo_code", "quad"),
    [
        ("01", 1),
        ("010", 1),
        ("041", 1),
        ("057", 1),
        ("06", 2),
        ("0874", 2),
        ("09", 3),
        ("111", 3),
        ("139", 3),
        ("14", 4),
        ("161", 4),
        ("185", 4),
        ("2041", 4),
    ],
)
def test_the_quad_class_follows_the_root(cameo_code, quad):
    assert quad_class(cameo_code) == quad


@pytest.mark.parametrize("cameo_code", ["", None, "0", "00", "21", "99", "ab", "12345", "٠١"])
def test_no_cameo_root_no_quad_class(cameo_code):
    assert quad_class(cameo_code) is None


def test_each_code_this_project_assigns_and_its_class():
    assigned = {codes.cameo for codes in CODES.values()} | {
        PLANNED_MEETING.cameo,
        HALTED_MEETING.cameo,
    }
    classes = {code: QuadClass(quad_class(code)).label for code in sorted(assigned)}
    assert classes["041"] == "Verbal cooperation"
    assert classes["161"] == "Material conflict"
    assert classes["112"] == "Verbal conflict"
    assert {quad_class(code) for code in GOLDSTEIN} == {1, 2, 3, 4}


# --- The SQL expressions agree with the functions -------------------------------------------


@pytest.fixture
def one_event_per_code():
    """An event of every (kind, mode) and of a planned and a postponed meeting: every CAMEO code
    this project assigns, derived on save."""
    for kind, mode in CODES:
        make_event(kind=kind, mode=mode)
    make_event(kind="meeting", status="planned")
    make_event(kind="summit", status="postponed")
    assert set(Event.objects.values_list("cameo_code", flat=True)) == set(CAMEO_CODES)


def rows(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_the_sql_gives_each_event_its_functions_values(one_event_per_code):
    column = "events_event.cameo_code"
    for code, value, quad in rows(
        f"SELECT cameo_code, {goldstein_sql(column)}, {quad_class_sql(column)} FROM events_event"
    ):
        assert (value, quad) == (goldstein(code), quad_class(code)), code


def test_sums_means_and_groups_by_quad_class_agree_with_python(one_event_per_code):
    codes = list(Event.objects.values_list("cameo_code", flat=True))
    column = "events_event.cameo_code"
    ((total, mean),) = rows(
        f"SELECT SUM({goldstein_sql(column)}), AVG({goldstein_sql(column)}) FROM events_event"
    )
    assert math.isclose(total, sum(goldstein(code) for code in codes), abs_tol=1e-9)
    assert math.isclose(mean, sum(goldstein(code) for code in codes) / len(codes), abs_tol=1e-9)
    grouped = rows(
        f"SELECT {quad_class_sql(column)} AS quad, COUNT(*), SUM({goldstein_sql(column)}) "
        "FROM events_event GROUP BY quad ORDER BY quad"
    )
    expected = {}
    for code in codes:
        events, total = expected.get(quad_class(code), (0, 0.0))
        expected[quad_class(code)] = (events + 1, total + goldstein(code))
    assert [quad for quad, _, _ in grouped] == sorted(expected)
    for quad, events, total in grouped:
        assert events == expected[quad][0]
        assert math.isclose(total, expected[quad][1], abs_tol=1e-9)


@pytest.mark.django_db
def test_the_whole_table_in_sql_agrees_with_the_functions():
    for code in [*GOLDSTEIN, "", "0999", "21", "ab"]:
        ((value, quad),) = rows(
            f"SELECT {goldstein_sql('c.code', codes=GOLDSTEIN)}, {quad_class_sql('c.code')} "
            "FROM (SELECT %s AS code) c",
            [code],
        )
        assert (value, quad) == (goldstein(code), quad_class(code)), code


def test_the_default_sql_leaves_codes_no_event_carries_to_null():
    make_event(kind="phone_call")
    Event.objects.update(cameo_code="0874")  # in the table, but never assigned here
    ((value,),) = rows(f"SELECT {goldstein_sql('cameo_code')} FROM events_event")
    assert value is None


# --- Shown with every event -----------------------------------------------------------------


@pytest.fixture
def fixtures():
    load_articles()


EXPECTED = {
    UK_23: ("161", -4.0, 4),
    PHONE_CALL: ("041", 1.0, 1),
    PLANNED_SUMMIT: ("036", 4.0, 1),
    SKRIPAL: ("185", -8.0, 4),
}


def test_the_api_shows_goldstein_and_quad_class(client, fixtures):
    for slug, (code, value, quad) in EXPECTED.items():
        event = client.get(f"/api/events/{slug}/").json()
        assert (event["cameo_code"], event["goldstein"], event["quad_class"]) == (code, value, quad)
    listed = client.get("/api/events/?page_size=500").json()["results"]
    assert listed
    for event in listed:
        assert event["goldstein"] == goldstein(event["cameo_code"]) is not None
        assert event["quad_class"] == quad_class(event["cameo_code"]) is not None
    conflict = client.get("/api/events/?kind=expulsion").json()["results"]
    assert {(event["goldstein"], event["quad_class"]) for event in conflict} == {(-4.0, 4)}


def test_the_csv_shows_goldstein_and_quad_class(client, fixtures):
    response = client.get("/api/events/?format=csv")
    text = b"".join(response.streaming_content).decode()
    rows = {row["slug"]: row for row in csv.DictReader(io.StringIO(text))}
    for slug, (code, value, quad) in EXPECTED.items():
        assert (rows[slug]["cameo_code"], rows[slug]["goldstein"], rows[slug]["quad_class"]) == (
            code,
            str(value),
            str(quad),
        )
    header = text.splitlines()[0].split(",")
    assert header[-3:] == ["plover_mode", "goldstein", "quad_class"]


def test_the_import_ignores_them(fixtures, tmp_path):
    """An export with its derived columns imports back unchanged: they are made, not read."""
    path = tmp_path / "events.csv"
    call_command("export_events", format="csv", output=str(path))
    text = path.read_text()
    changed = text.replace(",-4.0,4\n", ",9.9,1\n")
    assert changed != text
    path.write_text(changed)
    out = io.StringIO()
    call_command("import_events", str(path), "--dry-run", stdout=out)
    assert "would update 0" in out.getvalue()
