"""The public REST API, read side: every endpoint, every filter and every bad input, on the
article fixtures; cursor paging, the CSV export and the throttle."""

import csv
import io
import json

import pytest
from django.core.cache import cache
from django.db import transaction
from rest_framework.test import APIClient

from events.api_csv import CSV_COLUMNS
from events.models import Event, ReviewState, Source
from tests.articles import load_articles
from tests.factories import make_event

pytestmark = pytest.mark.django_db

# The United States' own 60; the coordinated expulsion is its coalition's (issue 12).
US_EXPULSIONS = {"2018-03-26-united-states-expels-60-russian-diplomats"}


@pytest.fixture(scope="module")
def articles(django_db_setup, django_db_blocker):
    """The article fixtures, loaded once for the module; each test runs in a savepoint."""
    with django_db_blocker.unblock(), transaction.atomic():
        load_articles()
        yield
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def fixtures(articles, db):
    cache.clear()  # the anonymous throttle counts in the cache


@pytest.fixture
def client():
    return APIClient()


def slugs(client, query=""):
    response = client.get(f"/api/events/?page_size=500&{query}")
    assert response.status_code == 200, response.content
    return [event["slug"] for event in response.json()["results"]]


# --- Endpoints ---------------------------------------------------------------------------


def test_root_links_every_resource_the_schema_and_the_docs(client):
    body = client.get("/api/").json()
    assert set(body) == {
        "events",
        "actors",
        "countries",
        "sources",
        "proposals",
        "aggregates",
        "dyads",
        "schema",
        "docs",
    }
    assert body["events"] == "http://testserver/api/events/"


def test_event_detail_has_the_full_shape_and_its_version_as_etag(client):
    response = client.get("/api/events/2018-03-26-united-states-expels-60-russian-diplomats/")
    assert response.status_code == 200
    event = response.json()
    assert response["ETag"] == f'"{event["version"]}"'
    assert event["url"].endswith(
        "/api/events/2018-03-26-united-states-expels-60-russian-diplomats/"
    )
    assert (event["kind"], event["start_date"], event["date_precision"]) == (
        "expulsion",
        "2018-03-26",
        "day",
    )
    assert (event["expelled_low"], event["expelled_best"], event["expelled_high"]) == (60, 60, 60)
    assert {"actor": "united-states", "role": "initiator", "country": "US"}.items() <= next(
        p for p in event["participants"] if p["role"] == "initiator"
    ).items()
    citation = event["citations"][0]
    assert set(citation) == {
        "source",
        "source_url",
        "source_title",
        "source_publisher",
        "source_published_on",
        "locator",
        "note",
    }
    assert {
        "direction": "outgoing",
        "kind": "part_of",
        "event": "2018-03-26-coordinated-expulsion-of-russian-diplomats",
    }.items() <= event["links"][0].items()
    assert event["review_state"] == "published"


def test_list_and_detail_share_one_shape(client):
    listed = client.get("/api/events/?page_size=500").json()["results"]
    for event in listed[:3]:
        assert client.get(f"/api/events/{event['slug']}/").json() == event


def test_links_are_shown_in_both_directions(client):
    event = client.get("/api/events/2018-03-26-coordinated-expulsion-of-russian-diplomats/").json()
    directions = {(link["direction"], link["event"]) for link in event["links"]}
    assert ("incoming", "2018-03-26-united-states-expels-60-russian-diplomats") in directions
    assert ("outgoing", "2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal") in directions


def test_a_lower_bound_and_month_precision_location(client):
    coordinated = client.get(
        "/api/events/2018-03-26-coordinated-expulsion-of-russian-diplomats/"
    ).json()
    # "In excess of 100": a low estimate of 101 and nothing else.
    estimates = [coordinated[f"expelled_{name}"] for name in ("low", "best", "high")]
    assert estimates == [101, None, None]
    meeting = client.get("/api/events/2018-03-21-kono-lavrov-meeting-tokyo/").json()
    assert meeting["location"]["country"] == "JP"
    assert meeting["location"]["country_name"] == "Japan"
    assert [meeting[f"expelled_{name}"] for name in ("low", "best", "high")] == [None] * 3
    summit = client.get("/api/events/2018-05-abe-putin-summit-in-russia/").json()
    assert (summit["start_date"], summit["date_precision"]) == ("2018-05-01", "month")


def test_drafts_are_hidden_from_anonymous_users(client):
    make_event(slug="secret-draft", review_state=ReviewState.DRAFT)
    assert "secret-draft" not in slugs(client)
    assert client.get("/api/events/secret-draft/").status_code == 404


def test_actors_show_offices_and_members(client):
    actors = client.get("/api/actors/").json()
    assert actors["count"] == 28 and len(actors["results"]) == 28
    kono = client.get("/api/actors/taro-kono/").json()
    assert kono["kind"] == "person" and kono["country"] == "JP"
    assert any(office["title"] for office in kono["offices"])
    g7 = client.get("/api/actors/g7/").json()
    assert {"JP", "US", "GB"} <= {member["country"] for member in g7["members"]}
    partners = client.get("/api/actors/uk-international-partners/").json()
    assert (partners["kind"], partners["member_count_low"]) == ("coalition", 21)
    assert [member["country"] for member in partners["members"]] == ["US"]
    assert client.get("/api/actors/nobody/").status_code == 404


def test_countries_by_code_in_any_case_with_event_counts(client):
    japan = client.get("/api/countries/jp/")
    assert japan.status_code == 200
    counts = japan.json()["event_counts"]
    assert counts["by_kind"]["phone_call"] == 2  # Abe–Putin and May–Abe
    assert counts["by_kind"]["expulsion"] == 0
    assert counts["by_role"]["initiator"] >= 1
    russia = client.get("/api/countries/RU/").json()["event_counts"]
    assert russia["by_kind"]["expulsion"] == 3 and russia["by_role"]["target"] >= 3
    assert client.get("/api/countries/").json()["count"] == 249
    assert client.get("/api/countries/zz/").status_code == 404


def test_sources_show_the_events_they_evidence(client):
    sources = client.get("/api/sources/").json()
    assert sources["count"] == 4
    commentary = Source.objects.get(kind="commentary")
    body = client.get(f"/api/sources/{commentary.pk}/").json()
    assert body["url"] == commentary.url
    assert body["api_url"].endswith(f"/api/sources/{commentary.pk}/")
    shown = [event["slug"] for event in body["events"]]
    assert "2018-03-19-abe-putin-phone-call" in shown
    assert body["event_count"] == len(shown) == len(set(shown))


def test_sources_count_and_show_published_events_only_to_anonymous_users(client):
    source = Source.objects.get(kind="commentary")
    before = client.get(f"/api/sources/{source.pk}/").json()["event_count"]
    draft = make_event(slug="draft-citing", review_state=ReviewState.DRAFT)
    draft.citations.create(source=source, locator="para. 1")
    body = client.get(f"/api/sources/{source.pk}/").json()
    assert body["event_count"] == before
    assert "draft-citing" not in [event["slug"] for event in body["events"]]


# --- Event filters: a matching and a non-matching case each ------------------------------


@pytest.mark.parametrize(
    "query, expected, absent",
    [
        ("kind=expulsion&initiator=US", US_EXPULSIONS, None),
        ("kind=expulsion&initiator=usa", US_EXPULSIONS, None),
        ("kind=expulsion&initiator=JP", set(), None),
        ("kind=expulsion&target=RU", None, None),
        ("kind=expulsion&target=jp", set(), None),
        (
            "kind=phone_call&date_after=2018-03-19&date_before=2018-03-20",
            {"2018-03-19-abe-putin-phone-call", "2018-03-20-may-abe-phone-call"},
            None,
        ),
        ("kind=phone_call&date_after=2018-03-21", set(), None),
        (
            "kind=summit&status=planned&date_after=2018-05-10&date_before=2018-05-20",
            {"2018-05-abe-putin-summit-in-russia", "2018-g7-summit"},
            None,
        ),
        ("kind=summit&date_after=2018-04-01&date_before=2018-04-30", {"2018-g7-summit"}, None),
        ("status=cancelled", set(), None),
        ("country=JP", None, "2018-03-26-united-states-expels-60-russian-diplomats"),
        ("actor=theresa-may", None, "2018-03-19-abe-putin-phone-call"),
        ("actor=sergei-skripal", None, "2018-03-20-may-abe-phone-call"),
        (
            "linked_to=2018-03-26-coordinated-expulsion-of-russian-diplomats",
            None,
            "2018-03-19-abe-putin-phone-call",
        ),
        ("q=Skripal", {"2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal"}, None),
        ("q=zanzibar", set(), None),
    ],
)
def test_event_filters(client, query, expected, absent):
    found = slugs(client, query)
    if expected is not None:
        assert set(found) == expected
    if absent is not None:
        assert found and absent not in found
    if query == "kind=expulsion&target=RU":
        assert len(found) == 3


def test_country_actor_and_linked_to_include_what_they_should(client):
    assert "2018-03-21-kono-lavrov-meeting-tokyo" in slugs(client, "country=jpn")
    assert "2018-03-20-may-abe-phone-call" in slugs(client, "actor=theresa-may")
    linked = set(slugs(client, "linked_to=2018-03-26-coordinated-expulsion-of-russian-diplomats"))
    assert "2018-03-26-united-states-expels-60-russian-diplomats" in linked
    assert "2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal" in linked


def test_source_filter(client):
    commentary = Source.objects.get(kind="commentary")
    news = Source.objects.get(kind="news")
    assert "2018-03-19-abe-putin-phone-call" in slugs(client, f"source={commentary.pk}")
    assert "2018-03-19-abe-putin-phone-call" not in slugs(client, f"source={news.pk}")


def test_orderings(client):
    assert slugs(client, "ordering=date")[0] == "2014-russian-military-intervention-in-ukraine"
    assert slugs(client)[0] == "2018-05-abe-putin-summit-in-russia"  # -date by default
    titled = client.get("/api/events/?ordering=title&page_size=500").json()["results"]
    titles = [event["title"] for event in titled]
    assert titles == sorted(titles, key=lambda title: Event.objects.get(title=title).title)
    assert len(titles) == 25


def test_actor_source_and_country_lists_filter(client):
    def found(path):
        return {
            item.get("slug") or item.get("code") or item["id"]
            for item in client.get(path).json()["results"]
        }

    assert found("/api/actors/?q=lavrov") == {"sergey-lavrov"}
    assert found("/api/actors/?q=nobody-at-all") == set()
    assert {"g7", "european-union"} <= found("/api/actors/?kind=bloc")
    assert "japan" not in found("/api/actors/?kind=bloc")
    assert "taro-kono" in found("/api/actors/?country=jp")
    assert "theresa-may" not in found("/api/actors/?country=jp")
    assert len(found("/api/sources/?q=japantimes")) == 2
    assert len(found("/api/sources/?kind=commentary")) == 1
    assert found("/api/sources/?q=nowhere-news") == set()
    assert found("/api/countries/?q=japan") == {"JP"}
    assert found("/api/countries/?q=atlantis") == set()


# --- Bad input: a 400 naming the parameter ----------------------------------------------


@pytest.mark.parametrize(
    "query, parameter, message",
    [
        ("date_after=2018-13-45", "date_after", "Enter a valid date"),
        ("kind=visit", "kind", "Unknown value visit"),
        ("country=XX", "country", "Unknown country code 'XX'."),
        ("initiator=ZZZZ", "initiator", "Unknown country code"),
        ("actor=nobody", "actor", "Unknown actor 'nobody'."),
        ("source=abc", "source", "Unknown source id"),
        ("linked_to=nothing", "linked_to", "Unknown event"),
        ("ordering=slug", "ordering", "Select a valid choice"),
        ("status=maybe", "status", "Select a valid choice"),
        ("page_size=501", "page_size", "At most 500 per page (the cap)"),
        ("page_size=0", "page_size", "A whole number from 1 to 500"),
        ("cursor=not-a-cursor", "cursor", "Invalid cursor"),
        ("cursor=eyJvIjoiLWRhdGUifQ", "cursor", "Invalid cursor"),  # valid base64 JSON, no position
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(client, query, parameter, message):
    response = client.get(f"/api/events/?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [parameter]
    assert message in " ".join(response.json()[parameter])


def test_a_cursor_from_another_ordering_is_refused(client):
    next_link = client.get("/api/events/?page_size=2&ordering=title").json()["next"]
    cursor = next_link.split("cursor=")[1].split("&")[0]
    response = client.get(f"/api/events/?page_size=2&ordering=date&cursor={cursor}")
    assert response.status_code == 400 and "ordering=title" in response.json()["cursor"][0]


def test_bad_input_on_the_other_lists(client):
    assert "kind" in client.get("/api/actors/?kind=wizard").json()
    assert "country" in client.get("/api/actors/?country=XX").json()
    assert "page_size" in client.get("/api/sources/?page_size=9999").json()
    assert client.get("/api/countries/?page=999").status_code == 404


# --- Cursor pagination -------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ["-date", "date", "title"])
def test_walking_the_cursor_gives_every_row_once_each_way(client, ordering):
    everything = slugs(client, f"ordering={ordering}")
    assert len(everything) == 25
    pages, url = [], f"/api/events/?page_size=4&ordering={ordering}"
    while url:
        body = client.get(url).json()
        assert "count" not in body
        pages.append([event["slug"] for event in body["results"]])
        url = body["next"]
    assert [slug for page in pages for slug in page] == everything
    assert len(pages) == 7

    # And back from the last page by `previous` links: the same pages in reverse.
    back, url = [], body["previous"]
    while url:
        body = client.get(url).json()
        back.append([event["slug"] for event in body["results"]])
        url = body["previous"]
    assert list(reversed(back)) == pages[:-1]


def test_first_page_has_no_previous_and_last_no_next(client):
    first = client.get("/api/events/?page_size=500").json()
    assert first["previous"] is None and first["next"] is None
    assert len(first["results"]) == 25


# --- CSV ---------------------------------------------------------------------------------


def test_csv_export_streams_the_filtered_events_one_row_each(client):
    response = client.get("/api/events/?format=csv&kind=expulsion&ordering=date")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == 3
    us = next(
        row for row in rows if row["slug"].endswith("united-states-expels-60-russian-diplomats")
    )
    assert (us["expelled_low"], us["expelled_best"], us["expelled_high"]) == ("60", "60", "60")
    coordinated = next(row for row in rows if "coordinated" in row["slug"])
    assert [coordinated[f"expelled_{name}"] for name in ("low", "best", "high")] == ["101", "", ""]
    assert "initiator:united-states" in us["participants"].split(";")
    assert "part_of:2018-03-26-coordinated-expulsion-of-russian-diplomats" in us["links"].split(";")
    citation = json.loads(us["citations"])[0]
    assert citation["source_url"].startswith("https://") and citation["locator"]
    assert us["review_state"] == "published" and us["start_date"] == "2018-03-26"


def test_csv_export_refuses_bad_input_too(client):
    response = client.get("/api/events/?format=csv&country=XX")
    assert response.status_code == 400
    assert b"country" in response.content


def test_csv_has_every_event_when_unfiltered(client):
    response = client.get("/api/events/?format=csv")
    text = b"".join(response.streaming_content).decode()
    assert len(list(csv.DictReader(io.StringIO(text)))) == 25


# --- Throttle ----------------------------------------------------------------------------


def test_anonymous_requests_are_throttled_with_retry_after(client, settings):
    settings.API_ANON_THROTTLE = "2/minute"
    assert client.get("/api/events/").status_code == 200
    assert client.get("/api/actors/").status_code == 200
    throttled = client.get("/api/countries/")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
