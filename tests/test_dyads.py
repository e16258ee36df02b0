"""Dyads: /api/dyads/<a>/<b>/ and /dyads/<a>/<b>/ count everything between two countries each
way, by kind, by quad class and by month (zeros included); country pages link to their most
frequent partners; the listing, country and actor pages carry a monthly series."""

import datetime
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.template.loader import render_to_string
from rest_framework.test import APIClient

from events import charts
from events.models import Actor, Participation, ReviewState, Role
from tests.factories import make_actor, make_country, make_event, make_published_event

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def world(db):
    """Japan → Russia: a phone call (January 2018), a statement (27 March 2018), an expulsion
    known to the month (May 2018) and a sanction known only to the year (2014); Russia →
    Japan: a statement (28 March 2018) and a meeting (July 2018); a draft Japanese expulsion
    (September 2018); and around them, the United Kingdom's expulsion of Russians (March 2018)
    and a Japanese call to the United Kingdom (March 2018)."""
    japan = make_country("JP", "JPN", "Japan")
    russia = make_country("RU", "RUS", "Russian Federation")
    britain = make_country("GB", "GBR", "United Kingdom")
    japan.cow_code, russia.gw_code = 740, 365
    japan.save(update_fields=["cow_code"])
    russia.save(update_fields=["gw_code"])
    tokyo = make_actor(name="Japan", country=japan, slug="japan")
    moscow = make_actor(name="Russia", country=russia, slug="russia")
    london = make_actor(name="United Kingdom", country=britain, slug="united-kingdom")

    def event(initiator, target, kind, start, **fields):
        return make_published_event(
            initiator=initiator, target=target, kind=kind, start_date=start, **fields
        )

    event(tokyo, moscow, "phone_call", D(2018, 1, 15), title="Japan calls Russia")
    event(tokyo, moscow, "statement", D(2018, 3, 27), title="Japan's statement")
    event(tokyo, moscow, "expulsion", D(2018, 5, 1), date_precision="month", expelled_low=2,
          expelled_best=2, expelled_high=2, title="Japan expels two")  # fmt: skip
    event(tokyo, moscow, "sanction", D(2014, 1, 1), date_precision="year", title="Sanctions")
    event(moscow, tokyo, "statement", D(2018, 3, 28), title="Russia answers Japan")
    event(moscow, tokyo, "meeting", D(2018, 7, 2), title="Russia meets Japan")
    event(london, moscow, "expulsion", D(2018, 3, 14), expelled_low=23, expelled_best=23,
          expelled_high=23, title="UK expels 23")  # fmt: skip
    event(tokyo, london, "phone_call", D(2018, 3, 20), title="Japan calls the UK")
    draft = make_event(
        kind="expulsion", start_date=D(2018, 9, 10), title="Draft expulsion", slug="draft"
    )
    Participation.objects.create(event=draft, actor=tokyo, role=Role.INITIATOR)
    Participation.objects.create(event=draft, actor=moscow, role=Role.TARGET)
    assert draft.review_state == ReviewState.DRAFT
    return {"japan": japan, "russia": russia, "britain": britain, "tokyo": tokyo}


def dyad(client, a="JP", b="RU"):
    response = client.get(f"/api/dyads/{a}/{b}/")
    assert response.status_code == 200, response.content
    return response.json()


def nonzero(counts):
    return {key: n for key, n in counts.items() if n}


# --- The API ------------------------------------------------------------------------------


def test_the_api_counts_both_directions_by_kind_and_quad_class(world):
    body = dyad(APIClient())
    assert body["a"] == {
        "code": "JP",
        "name": "Japan",
        "url": "http://testserver/api/countries/JP/",
        "page": "http://testserver/countries/JP/",
    }
    assert body["b"]["code"] == "RU" and body["b"]["name"] == "Russian Federation"
    assert body["page"] == "http://testserver/dyads/JP/RU/"
    there, back = body["directions"]
    assert (there["initiator"], there["target"]) == ("JP", "RU")
    assert (back["initiator"], back["target"]) == ("RU", "JP")
    # The draft is not counted; the United Kingdom's events are not between these two.
    assert there["events"] == there["total"]["events"] == 4
    assert nonzero(there["by_kind"]) == {
        "phone_call": 1,
        "statement": 1,
        "expulsion": 1,
        "sanction": 1,
    }
    # Phone call 041 and statement 010: verbal cooperation; expulsion 161 and sanction 163:
    # material conflict.
    assert nonzero(there["by_quad_class"]) == {"1": 2, "4": 2}
    assert there["total"]["people_expelled"] == 2
    assert back["events"] == 2
    assert nonzero(back["by_kind"]) == {"statement": 1, "meeting": 1}
    assert nonzero(back["by_quad_class"]) == {"1": 2}
    assert back["too_coarse"] == 0
    # The sanction is known only to 2014: in the totals, in no month.
    assert there["too_coarse"] == 1
    assert set(body["quad_classes"]) == {"1", "2", "3", "4"}
    assert body["kinds"]["phone_call"] == "Phone call"


def test_the_monthly_series_run_over_every_month_either_way_has_with_zeros(world):
    body = dyad(APIClient())
    # From Japan's call of January 2018 to Russia's meeting of July 2018, both directions over
    # the same months; 2014 (the sanction, known only to the year) is in none.
    months = ["2018-01", "2018-02", "2018-03", "2018-04", "2018-05", "2018-06", "2018-07"]
    assert body["months"] == months
    there, back = body["directions"]
    for direction in (there, back):
        assert [row["month"] for row in direction["monthly"]] == months
    per_month = {row["month"]: row for row in there["monthly"]}
    assert per_month["2018-02"]["events"] == 0
    assert set(per_month["2018-02"]["by_kind"].values()) == {0}
    assert set(per_month["2018-02"]["by_quad_class"].values()) == {0}
    assert nonzero(per_month["2018-01"]["by_kind"]) == {"phone_call": 1}
    assert nonzero(per_month["2018-05"]["by_kind"]) == {"expulsion": 1}
    assert nonzero(per_month["2018-05"]["by_quad_class"]) == {"4": 1}
    assert [row["events"] for row in back["monthly"]] == [0, 0, 1, 0, 0, 0, 1]


def test_each_series_sums_to_its_totals(world):
    for direction in dyad(APIClient())["directions"]:
        monthly = direction["monthly"]
        coarse = direction["too_coarse"]
        assert sum(row["events"] for row in monthly) + coarse == direction["events"]
        for key in ("by_kind", "by_quad_class"):
            assert sum(sum(row[key].values()) for row in monthly) + coarse == direction["events"]
            assert sum(direction[key].values()) == direction["events"]
            for name in direction[key]:
                in_months = sum(row[key][name] for row in monthly)
                assert in_months <= direction[key][name]
        # Only the sanction of 2014 is too coarse: every other kind's months add up exactly.
        for kind, n in direction["by_kind"].items():
            if kind != "sanction":
                assert sum(row["by_kind"][kind] for row in monthly) == n


def test_the_event_links_list_the_same_events(world):
    client = APIClient()
    there, back = dyad(client)["directions"]
    assert there["events_url"] == "http://testserver/api/events/?initiator=JP&target=RU"
    assert there["listing_url"] == "http://testserver/events/?initiator=JP&target=RU"
    assert back["events_url"] == "http://testserver/api/events/?initiator=RU&target=JP"
    assert back["listing_url"] == "http://testserver/events/?initiator=RU&target=JP"
    for direction in (there, back):
        listed = client.get(direction["events_url"]).json()["results"]
        assert len(listed) == direction["events"]
    # ?format=json does not leak into the addresses.
    body = client.get("/api/dyads/JP/RU/?format=json").json()
    assert body["directions"][0]["listing_url"].endswith("/events/?initiator=JP&target=RU")


def test_countries_are_named_as_the_filters_name_them(world):
    client = APIClient()
    expected = dyad(client)
    for a, b in (("jp", "ru"), ("JPN", "RUS"), ("cow:740", "gw:365")):
        assert dyad(client, a, b) == expected
    swapped = dyad(client, "RU", "JP")
    assert swapped["directions"] == expected["directions"][::-1]


def test_drafts_count_only_for_staff_who_may_see_them(world):
    client = APIClient()
    assert dyad(client)["directions"][0]["events"] == 4
    curator = User.objects.create_user("curator", is_staff=True)
    curator.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_authenticate(curator)
    there = dyad(client)["directions"][0]
    assert there["events"] == 5
    assert there["by_kind"]["expulsion"] == 2
    assert dyad(client)["months"][-1] == "2018-09"


@pytest.mark.parametrize(
    ("a", "b", "errors"),
    [
        ("XX", "RU", {"a": ["Unknown country code 'XX'."]}),
        ("JP", "ZZZ", {"b": ["Unknown country code 'ZZZ'."]}),
        ("XX", "YY", {"a": ["Unknown country code 'XX'."], "b": ["Unknown country code 'YY'."]}),
        ("JP", "JPN", {"b": ["'JPN' is 'JP' again: a dyad is two countries."]}),
        ("cow:740", "jp", {"b": ["'jp' is 'cow:740' again: a dyad is two countries."]}),
    ],
)
def test_unknown_or_repeated_countries_are_a_400_naming_the_parameter(world, a, b, errors):
    response = APIClient().get(f"/api/dyads/{a}/{b}/")
    assert response.status_code == 400
    assert response.json() == errors


@pytest.mark.parametrize("code", ["cow:abc", "gw:", "iso3n:99999", "xyz:1", "J", "JAPAN"])
def test_malformed_codes_are_a_400_never_a_500(world, code):
    response = APIClient().get(f"/api/dyads/{code}/RU/")
    assert response.status_code == 400
    assert list(response.json()) == ["a"]


def test_the_api_root_lists_the_dyads(world):
    root = APIClient().get("/api/").json()
    assert root["dyads"] == "http://testserver/api/dyads/{a}/{b}/"


@pytest.mark.parametrize("more", [0, 30])
@pytest.mark.parametrize("path", ["/api/dyads/JP/RU/", "/dyads/JP/RU/"])
def test_the_dyad_runs_a_fixed_number_of_queries(world, django_assert_num_queries, path, more):
    # Whatever the number of events and months (`more` adds that many, a month apart, each
    # way): 1-2 the two countries, 3-6 four aggregates of one query each (per direction: by
    # kind and quad class; by month, kind and quad class). The page runs the API's queries.
    russia = Actor.objects.get(slug="russia")
    for index in range(more):
        start = D(2000 + index // 12, index % 12 + 1, 1)
        make_published_event(world["tokyo"], russia, kind="meeting", start_date=start)
        make_published_event(russia, world["tokyo"], kind="statement", start_date=start)
    with django_assert_num_queries(6):
        assert APIClient().get(path).status_code == 200


# --- The page -----------------------------------------------------------------------------


def cells(html, table_id):
    """The rows of the table with `table_id`, each a list of its cells' texts."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def test_the_page_shows_who_did_what_to_whom_the_series_and_the_links(world, client):
    response = client.get("/dyads/JP/RU/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Japan and Russian Federation" in html
    rows = cells(html, "dyad-kinds")
    assert rows[0] == ["Kind", "Japan → Russian Federation", "Russian Federation → Japan"]
    assert ["Expulsion", "1", "0"] in rows
    assert ["Statement", "1", "1"] in rows
    assert ["Meeting", "0", "1"] in rows
    assert rows[-1] == ["All", "4", "2"]
    # Each count links to its events in the listing.
    assert 'href="/events/?initiator=JP&amp;target=RU&amp;kind=expulsion"' in html
    assert 'href="/events/?initiator=JP&amp;target=RU"' in html
    assert 'href="/events/?initiator=RU&amp;target=JP"' in html
    assert 'href="/api/events/?initiator=JP&amp;target=RU"' in html
    assert 'href="/api/dyads/JP/RU/"' in html
    # Four charts (each way, by kind and by quad class), each with its table.
    assert html.count('<svg class="series-svg"') == 4
    assert html.count("<desc id=") == 4
    assert (
        '<title id="kind-jp-ru-title">Events Japan → Russian Federation per month, by kind' in html
    )
    by_kind = cells(html, "kind-jp-ru-table")
    assert by_kind[0] == ["Month", "Expulsion", "Phone call", "Statement", "All"]
    assert by_kind[1] == ["2018-01", "0", "1", "0", "1"]
    assert by_kind[2] == ["2018-02", "0", "0", "0", "0"]
    assert by_kind[5] == ["2018-05", "1", "0", "0", "1"]
    assert by_kind[-1] == ["All months", "1", "1", "1", "3"]
    by_quad = cells(html, "quad-jp-ru-table")
    assert by_quad[0] == ["Month", "Verbal cooperation", "Material conflict", "All"]
    assert by_quad[-1] == ["All months", "2", "1", "3"]
    assert cells(html, "kind-ru-jp-table")[-1] == ["All months", "1", "1", "2"]
    # The bars: a month with events has one, carrying its count; an empty month none.
    assert 'data-month="2018-05" data-count="1"><title>May 2018: 1 event (1 expulsion)' in html
    assert 'data-month="2018-02" data-count="0"><title>February 2018: 0 events</title></g>' in html
    assert "1 of them is known only to the year and so in no month" in html
    assert "Draft expulsion" not in html and "2018-09" not in html


def test_other_codes_redirect_to_the_alpha_2_page(world, client):
    for path in ("/dyads/JPN/RUS/", "/dyads/jp/ru/", "/dyads/cow:740/RU/"):
        response = client.get(path)
        assert response.status_code == 301
        assert response["Location"] == "/dyads/JP/RU/"


@pytest.mark.parametrize(
    "path", ["/dyads/XX/RU/", "/dyads/JP/JP/", "/dyads/JP/JPN/", "/dyads/cow:abc/RU/"]
)
def test_unknown_or_repeated_countries_have_no_page(world, client, path):
    assert client.get(path).status_code == 404


def test_a_direction_without_events_is_zero_every_month(world, client):
    html = client.get("/dyads/GB/RU/").content.decode()
    assert cells(html, "dyad-kinds")[-1] == ["All", "1", "0"]
    assert html.count('<svg class="series-svg"') == 2
    assert "Every month from March 2018 to March 2018 is zero this way." in html


def test_the_series_templates_escape_their_labels():
    # The bars and rows of events/_series.html and _series_table.html are not autoescaped
    # (for speed: a dyad page has thousands); their text is escaped explicitly.
    chart = charts.series(
        ["2018-01", "2018-02"], [('<b>"&', "#000", [1, 0]), ("x", "#111", [0, 2])]
    )
    context = {"series": chart, "chart_id": "c", "title": "t", "caption": "c", "table_id": "t"}
    html = render_to_string("events/_series.html", context)
    html += render_to_string("events/_series_table.html", context)
    assert "<b>" not in html
    assert "<title>January 2018: 1 event (1 &lt;b&gt;&quot;&amp;)</title>" in html
    assert '<time datetime="2018-02" title="February 2018">2018-02</time>' in html
    assert "<td>1</td><td>0</td><td>1</td></tr>" in html


# --- Partners on the country page -----------------------------------------------------------


def test_a_country_page_links_to_its_most_frequent_partners(world, client):
    response = client.get("/countries/JP/")
    html = response.content.decode()
    assert [p["code"] for p in response.context["partners"]] == ["RU", "GB"]
    russia, britain = response.context["partners"]
    assert (russia["towards"], russia["from"], russia["total"]) == (4, 2, 6)
    assert (britain["towards"], britain["from"], britain["total"]) == (1, 0, 1)
    assert '<a href="/dyads/JP/RU/">Russian Federation</a>' in html
    assert '<a href="/dyads/JP/GB/">United Kingdom</a>' in html
    # From Russia's side: Japan and the United Kingdom, each linking to Russia's view.
    partners = client.get("/countries/RU/").context["partners"]
    assert [(p["code"], p["towards"], p["from"], p["url"]) for p in partners] == [
        ("JP", 2, 4, "/dyads/RU/JP/"),
        ("GB", 0, 1, "/dyads/RU/GB/"),
    ]


def test_partners_are_the_top_five(world, client):
    tokyo = world["tokyo"]
    for index, code in enumerate(["AA", "BB", "CC", "DD", "EE", "FF"]):
        other = make_actor(country=make_country(code, code + "X", f"Country {code}"))
        for _ in range(index + 2):
            make_published_event(initiator=tokyo, target=other, kind="statement")
    partners = client.get("/countries/JP/").context["partners"]
    assert [(p["code"], p["total"]) for p in partners] == [
        ("FF", 7),
        ("EE", 6),
        ("RU", 6),
        ("DD", 5),
        ("CC", 4),
    ]


# --- Monthly series on the listing, country and actor pages ----------------------------------


def test_the_listing_shows_the_monthly_counts_of_every_matching_event(world, client):
    response = client.get("/events/?initiator=JP")
    monthly = response.context["monthly"]
    chart = monthly["chart"]
    # Japan initiated, published: January, March (two), May 2018, and the sanction of 2014.
    assert [(row["month"], row["total"]) for row in chart["rows"]] == [
        ("2018-01", 1),
        ("2018-02", 0),
        ("2018-03", 2),
        ("2018-04", 0),
        ("2018-05", 1),
    ]
    assert (monthly["total"], monthly["too_coarse"]) == (5, 1)
    html = response.content.decode()
    assert 'id="monthly-series-svg"' in html
    assert 'data-months="5" data-total="4"' in html
    assert "1 of the 5 events is known only to the year and so in no month." in html
    # The series counts every matching event, not only the page.
    assert [row["total"] for row in client.get("/events/").context["monthly"]["chart"]["rows"]][
        :3
    ] == [1, 0, 4]


def test_the_country_and_actor_pages_show_their_monthly_counts(world, client):
    response = client.get("/countries/RU/")
    rows = response.context["monthly"]["chart"]["rows"]
    assert [(row["month"], row["total"]) for row in rows if row["total"]] == [
        ("2018-01", 1),
        ("2018-03", 3),
        ("2018-05", 1),
        ("2018-07", 1),
    ]
    assert len(rows) == 7
    assert response.context["monthly"]["too_coarse"] == 1
    assert 'id="monthly-series-svg"' in response.content.decode()

    response = client.get("/actors/japan/")
    monthly = response.context["monthly"]
    assert [row["total"] for row in monthly["chart"]["rows"]] == [1, 0, 3, 0, 1, 0, 1]
    assert (monthly["total"], monthly["too_coarse"]) == (7, 1)
    html = response.content.decode()
    assert "1 of the 7 events is known only to the year" in html
    assert 'id="monthly-table"' in html


def test_no_series_without_an_event_dated_to_the_month(world, client):
    response = client.get("/events/?kind=sanction")
    assert response.context["monthly"] is None
    assert "monthly-series-svg" not in response.content.decode()
