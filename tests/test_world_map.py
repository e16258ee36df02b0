"""The world map (issue 15): Natural Earth's outlines built once and committed, countries shaded
by the events listed (involved, initiated, targeted), each linking to its page and its events,
with the same figures in a table; drafts never counted; estimates said so."""

import json
import re
from urllib.parse import urlencode

import pytest
from django.core.management import call_command

from events import worldmap
from events.models import Country, Event, Participation, ReviewState, Role
from tests.articles import load_articles
from tests.factories import make_actor, make_event, make_published_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def articles(db):
    load_articles()


def points(d):
    return [tuple(map(float, pair.split(","))) for pair in re.findall(r"-?[\d.]+,-?[\d.]+", d)]


def test_the_committed_outlines_are_what_the_command_builds_from_the_package(tmp_path):
    # Natural Earth from npm's world-atlas (package.json; `make npm`), simplified once: the
    # committed file is reproducible from the pinned package, to the byte.
    output = tmp_path / "world-map.json"
    call_command("build_world_map", output=str(output), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert output.read_bytes() == worldmap.MAP_FILE.read_bytes()
    assert "Natural Earth" in worldmap.outlines()["source"]


def test_countries_across_the_antimeridian_are_drawn_at_both_edges_not_across_the_world():
    data = worldmap.outlines()
    shapes = {outline["iso_numeric"]: outline["d"] for outline in data["countries"]}
    for number in ("643", "242"):  # Russia, Fiji
        for ring in shapes[number].split("M")[1:]:
            ring_points = points(ring)
            xs = [x for x, _ in ring_points]
            # No ring of them spans more than half the map (a band across it would).
            assert max(xs) - min(xs) < data["width"] / 2, number
        xs = [x for x, _ in points(shapes[number])]
        assert min(xs) < data["width"] * 0.2 and max(xs) > data["width"] * 0.8, number
    for outline in data["countries"]:
        assert all(
            0 <= x <= data["width"] and 0 <= y <= data["height"] for x, y in points(outline["d"])
        ), outline["name"]


def test_every_outline_is_a_country_of_the_database_by_its_iso_number():
    fixture = json.loads(open("fixtures/countries.json").read())  # noqa: SIM115
    numbers = {row["fields"]["iso_numeric"] for row in fixture}
    drawn = {outline["iso_numeric"] for outline in worldmap.outlines()["countries"]}
    # Natural Earth's places without an ISO number (Kosovo, Somaliland, Northern Cyprus) are
    # drawn, not linked; every other outline is one of the database's countries.
    assert None in drawn
    assert drawn - {None} <= numbers
    assert len(drawn - {None}) >= 170


@pytest.mark.parametrize(
    ("largest", "uppers"),
    [
        (0, []),
        (1, [1]),
        (3, [1, 2, 3]),
        (18, [2, 3, 6, 10, 18]),
        (100000, [10, 100, 1000, 10000, 100000]),
    ],
)
def test_shades_grow_geometrically_and_the_largest_is_darkest(largest, uppers):
    assert worldmap.bounds(largest) == uppers
    if largest:
        assert worldmap.shade(largest, uppers) == worldmap.STEPS
        assert worldmap.shade(1, uppers) >= 1
        shades = [worldmap.shade(count, uppers) for count in range(1, min(largest, 500) + 1)]
        assert shades == sorted(shades)
    assert worldmap.shade(0, uppers) == 0


def map_rows(response):
    return {row.code: row for row in response.context["map"]["rows"]}


def test_the_listing_map_counts_the_events_the_filters_match_by_each_measure(client, articles):
    involved = map_rows(client.get("/events/", {"kind": "expulsion"}))
    assert involved and all(row.count > 0 for row in involved.values())
    for code, row in involved.items():
        # As many as the listing gives for that country under the same filters.
        assert (
            row.count
            == Event.objects.published()
            .filter(kind="expulsion")
            .involving(Country.objects.get(code=code))
            .count()
        ), code
        assert row.list_url == "/events/?" + urlencode({"kind": "expulsion", "country": code})
        assert row.page_url == f"/countries/{code}/"
    # Initiated: the coordinated expulsion's coalition is no country; the United States has its
    # own part, the United Kingdom its own expulsion.
    initiated = map_rows(client.get("/events/", {"kind": "expulsion", "map": "initiator"}))
    assert {code: row.count for code, row in initiated.items()} == {"GB": 1, "US": 1}
    targeted = map_rows(client.get("/events/", {"kind": "expulsion", "map": "target"}))
    assert {code: row.count for code, row in targeted.items()} == {"RU": 3}
    assert targeted["RU"].list_url == "/events/?kind=expulsion&target=RU"


def test_the_map_is_drawn_with_links_a_legend_and_its_table(client, articles):
    response = client.get("/events/", {"map": "target"})
    html = response.content.decode()
    assert '<section id="map"' in html
    # A shaded country is a keyboard-reachable link to its page, named with its figure.
    assert re.search(
        r'<a href="/countries/RU/" class="map-country" aria-label="Russian Federation: \d+ '
        r'events targeting it"><title>[^<]+</title><path class="map-shade-5"',
        html,
    )
    # A country without events is drawn, grey, and is no link.
    assert '<path class="map-shade-0"' in html and 'href="/countries/BR/"' not in html
    # The measure links keep the filters and lead back to the map; the chosen one is marked.
    measures = {key: (url, chosen) for key, _, url, chosen in response.context["map"]["measures"]}
    assert measures["target"][1] and not measures["country"][1]
    assert measures["initiator"][0] == "?map=initiator#map"
    assert measures["country"][0] == "?#map"
    assert 'class="map-legend"' in html and "Numbers per country" in html
    # An unknown measure is the default, not an error.
    assert client.get("/events/", {"map": "bogus"}).context["map"]["measure"] == "country"


def test_drafts_are_never_on_the_map(client, articles):
    chile, brazil = Country.objects.get(code="CL"), Country.objects.get(code="BR")
    make_published_event(initiator=make_actor(country=chile), title="Chile acts")
    draft = make_event(title="Brazil acts, a draft")
    Participation.objects.create(event=draft, actor=make_actor(country=brazil), role=Role.INITIATOR)
    assert draft.review_state == ReviewState.DRAFT
    for measure in ("country", "initiator"):
        response = client.get("/events/", {"map": measure})
        assert "CL" in map_rows(response) and "BR" not in map_rows(response)
        assert 'href="/countries/BR/"' not in response.content.decode()


def test_the_country_page_marks_itself_and_links_partners_to_their_events(client, articles):
    response = client.get("/countries/GB/")
    world = response.context["map"]
    assert world["this"] == "GB" and "GB" not in map_rows(response)
    html = response.content.decode()
    assert '<path class="map-this"' in html and "United Kingdom itself is marked" in html
    assert 'href="/countries/GB/" class="map-country"' not in html
    partners = map_rows(response)
    assert partners["RU"].list_url == "/dyads/GB/RU/"
    targeted = map_rows(client.get("/countries/GB/", {"map": "target"}))
    assert targeted["RU"].list_url == "/events/?country=GB&target=RU"
    assert targeted["RU"].count == (
        Event.objects.published()
        .involving(Country.objects.get(code="GB"))
        .filter(
            pk__in=Event.objects.published().involving(
                Country.objects.get(code="RU"), as_target=True
            )
        )
        .count()
    )


def test_counts_the_cells_cannot_give_are_estimated_and_said_so(client, articles, monkeypatch):
    monkeypatch.setattr("events.aggregates.SAMPLE_FACETS", 2)
    response = client.get("/events/", {"q": "Russia"})
    assert response.context["map"]["sampled"] == 2
    html = response.content.decode()
    assert "<strong>estimated</strong> in the first 2 matching events" in html
    assert sum(row.count for row in response.context["map"]["rows"]) >= 2
