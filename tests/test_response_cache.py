"""Anonymous responses from the cache (events/response_cache.py): a repeated anonymous read
needs no database; every kind of write shows in the next anonymous read; drafts and signed-in
users' responses never enter it; ETags, 304s and Cache-Control."""

import csv
import json

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken

from events import writes
from events.groups import EDITORS
from events.importing import run_import
from events.models import Actor, Citation, Event, EventLink, LinkKind, Participation, Role
from tests.factories import make_actor, make_published_event, make_source

pytestmark = pytest.mark.django_db

READS = [
    "/",
    "/events/",
    "/events/?kind=expulsion&q=cached",
    "/events/{slug}/",
    "/api/events/",
    "/api/events/{slug}/",
    "/api/events/?format=csv",
    "/api/aggregates/events/?group_by=kind",
]


@pytest.fixture(autouse=True)
def response_cache(settings):
    """The cache on (the suite runs with it off) and empty, before and after each test."""
    settings.RESPONSE_CACHE = True
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def editor():
    user = User.objects.create_user("cache-editor")
    user.groups.add(Group.objects.get(name=EDITORS))
    return user


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs a write as if its transaction committed: the test's own never does."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def queries_of(client, url, **headers):
    """The response and the number of queries it took, a streamed one read to its end."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
        response.getvalue()
    return response, len(queries)


# --- Served from the cache -------------------------------------------------------------------


@pytest.mark.parametrize("url", READS)
def test_a_second_anonymous_read_needs_no_database(client, url, django_assert_num_queries):
    event = make_published_event(title="A cached expulsion", kind="expulsion")
    url = url.format(slug=event.slug)
    first = client.get(url)
    assert first.status_code == 200
    with django_assert_num_queries(0):
        second = client.get(url)
    assert second.status_code == 200
    assert second.getvalue() == first.getvalue()
    assert second["ETag"] == first["ETag"]


def test_query_parameters_in_another_order_are_the_same_entry(client, django_assert_num_queries):
    make_published_event()
    client.get("/api/events/?kind=meeting&ordering=start_date")
    with django_assert_num_queries(0):
        client.get("/api/events/?ordering=start_date&kind=meeting")


def test_formats_are_separate_entries(client):
    make_published_event()
    assert client.get("/api/events/?format=json")["Content-Type"] == "application/json"
    csv_response = client.get("/api/events/", HTTP_ACCEPT="text/csv")
    assert csv_response["Content-Type"].startswith("text/csv")
    assert client.get("/api/events/")["Content-Type"] == "application/json"


def test_a_csv_over_the_size_limit_streams_and_is_not_stored(client, settings):
    settings.RESPONSE_CACHE_MAX_BYTES = 100
    event = make_published_event()
    first = client.get("/api/events/?format=csv")
    assert first.streaming
    rows = list(csv.DictReader(b"".join(first.streaming_content).decode().splitlines()))
    assert [row["slug"] for row in rows] == [event.slug]
    second, queries = queries_of(client, "/api/events/?format=csv")
    assert (second.streaming, queries > 0) == (True, True)


def test_a_cached_api_read_still_counts_against_the_api_throttle(client, settings):
    settings.API_ANON_THROTTLE = "2/hour"
    make_published_event()
    assert [client.get("/api/events/").status_code for _ in range(3)] == [200, 200, 429]
    assert "Retry-After" in client.get("/api/events/")


def test_a_cached_page_still_counts_against_the_page_throttle(client, settings):
    settings.PAGES_ANON_THROTTLE = "2/hour"
    make_published_event()
    assert [client.get("/events/").status_code for _ in range(3)] == [200, 200, 429]


def test_errors_are_not_stored(client):
    for url in ("/events/no-such-event/", "/api/events/no-such-event/"):
        client.get(url)
        response, queries = queries_of(client, url)
        assert (response.status_code, queries > 0) == (404, True)
        assert "ETag" not in response


def test_the_admin_is_left_alone(client):
    response = client.get("/admin/login/")
    assert "ETag" not in response
    assert "public" not in response.get("Cache-Control", "")


def test_off_by_setting(client, settings):
    settings.RESPONSE_CACHE = False
    make_published_event()
    client.get("/api/events/")
    response, queries = queries_of(client, "/api/events/")
    assert queries > 0
    assert "ETag" not in response


# --- Every kind of write shows in the next anonymous read ------------------------------------


def api_slugs(client):
    return [event["slug"] for event in client.get("/api/events/").json()["results"]]


def test_publish_and_unpublish(client, editor, committed):
    event = make_published_event()
    Event.objects.filter(pk=event.pk).update(review_state="draft")
    event.refresh_from_db()
    assert api_slugs(client) == []
    with committed():
        writes.publish(editor, event)
    assert api_slugs(client) == [event.slug]
    assert client.get(f"/events/{event.slug}/").status_code == 200
    with committed():
        writes.unpublish(editor, event)
    assert api_slugs(client) == []
    assert client.get(f"/events/{event.slug}/").status_code == 404


def test_an_edit_of_a_published_event(client, editor, committed):
    event = make_published_event(title="The old title")
    assert "The old title" in client.get(f"/events/{event.slug}/").text
    with committed():
        writes.update_event(
            editor, event, {"title": "The new title"}, seen_version=event.version, reason="test"
        )
    assert "The new title" in client.get(f"/events/{event.slug}/").text
    assert client.get(f"/api/events/{event.slug}/").json()["title"] == "The new title"


def test_a_participant(client, editor, committed):
    event = make_published_event()
    assert "Newly named envoy" not in client.get(f"/api/events/{event.slug}/").text
    envoy = make_actor(name="Newly named envoy")
    with committed():
        writes.save_child(
            editor,
            Participation(event=event, actor=envoy, role=Role.TARGET),
            seen_version=event.version,
        )
    assert "Newly named envoy" in client.get(f"/api/events/{event.slug}/").text
    assert "Newly named envoy" in client.get(f"/events/{event.slug}/").text


def test_a_citation(client, editor, committed):
    event = make_published_event()
    assert "A fresh report" not in client.get(f"/events/{event.slug}/").text
    with committed():
        writes.save_child(
            editor,
            Citation(event=event, source=make_source(title="A fresh report"), locator="p. 9"),
            seen_version=event.version,
        )
    assert "A fresh report" in client.get(f"/events/{event.slug}/").text


def test_a_link(client, editor, committed):
    whole = make_published_event(title="The whole affair")
    part = make_published_event(title="One part of it")
    assert "One part of it" not in client.get(f"/events/{whole.slug}/").text
    with committed():
        writes.save_child(
            editor,
            EventLink(from_event=part, to_event=whole, kind=LinkKind.PART_OF),
            seen_version=part.version,
        )
    assert "One part of it" in client.get(f"/events/{whole.slug}/").text


def test_a_merge(client, editor, committed):
    keep = make_published_event()
    merged = make_published_event()
    assert sorted(api_slugs(client)) == sorted([keep.slug, merged.slug])
    with committed():
        writes.merge_events(editor, keep, merged)
    assert api_slugs(client) == [keep.slug]


def test_an_actors_rename_shows_on_its_events_pages(client, editor, committed):
    envoy = make_actor(name="Old Name Envoy")
    event = make_published_event(initiator=envoy)
    assert "Old Name Envoy" in client.get(f"/events/{event.slug}/").text
    envoy = Actor.objects.get(pk=envoy.pk)
    envoy.name = "New Name Envoy"
    with committed():
        writes.save_record(editor, envoy, seen_version=envoy.version)
    page = client.get(f"/events/{event.slug}/").text
    assert "New Name Envoy" in page
    assert "Old Name Envoy" not in page


def test_an_import(client, committed, tmp_path):
    call_command("loaddata", "countries", "actors", "sources", verbosity=0)
    path = tmp_path / "events.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(
            handle,
            ["slug", "kind", "title", "start_date", "date_precision", "participants", "citations"],
        )
        writer.writeheader()
        writer.writerow(
            {
                "slug": "an-imported-expulsion",
                "kind": "expulsion",
                "title": "An imported expulsion",
                "start_date": "2018-03-14",
                "date_precision": "day",
                "participants": "initiator:russia;target:united-kingdom",
                "citations": json.dumps(
                    [
                        {
                            "source_url": "https://example.org/r",
                            "source_title": "A",
                            "locator": "p. 1",
                        }
                    ]
                ),
            }
        )
    assert api_slugs(client) == []
    aggregates = "/api/aggregates/events/?group_by=kind"
    before = client.get(aggregates).json()
    with committed():
        problems, counts, _ = run_import(str(path), publish=True)
    assert problems == []
    assert counts["created"] == 1
    assert api_slugs(client) == ["an-imported-expulsion"]
    assert client.get(aggregates).json() != before


def test_a_dry_run_import_moves_nothing(client, committed, tmp_path):
    make_published_event()
    client.get("/api/events/")
    path = tmp_path / "empty.csv"
    path.write_text("slug,kind,title,start_date,date_precision,participants,citations\n")
    with committed():
        run_import(str(path), dry_run=True)
    assert queries_of(client, "/api/events/")[1] == 0


# --- Drafts and signed-in users --------------------------------------------------------------


def test_drafts_never_enter_an_anonymous_entry(client, editor):
    published = make_published_event()
    draft = make_published_event()
    Event.objects.filter(pk=draft.pk).update(review_state="draft")
    _, token = AuthToken.objects.create(editor)
    signed_in = client.get("/api/events/", HTTP_AUTHORIZATION=f"Token {token}")
    assert draft.slug in signed_in.text
    assert signed_in["Cache-Control"] == "private"
    for _ in range(2):
        assert api_slugs(client) == [published.slug]
    assert client.get(f"/events/{draft.slug}/").status_code == 404


def test_a_signed_in_editor_never_gets_the_cached_anonymous_page(client, editor):
    published = make_published_event()
    draft = make_published_event()
    Event.objects.filter(pk=draft.pk).update(review_state="draft")
    assert api_slugs(client) == [published.slug]  # stored
    client.force_login(editor)
    for url in ("/api/events/", "/events/"):
        client.get(url)
        response, queries = queries_of(client, url)
        assert queries > 0
        assert "ETag" not in response
        assert "private" in response["Cache-Control"]
    assert draft.slug in client.get("/api/events/").text
    client.logout()
    anonymous, queries = queries_of(client, "/api/events/")
    assert draft.slug not in anonymous.text
    assert queries == 0  # the anonymous entry, not the editor's response


# --- Conditional requests --------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/events/", "/api/events/"])
def test_if_none_match_gets_a_304_until_the_data_change(client, editor, committed, url):
    event = make_published_event()
    etag = client.get(url)["ETag"]
    assert etag.startswith('W/"')
    not_modified = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified["ETag"] == etag
    with committed():
        writes.unpublish(editor, event)
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_a_304_needs_no_stored_entry(client, settings):
    settings.RESPONSE_CACHE_MAX_BYTES = 0  # nothing is stored: the view answers each time
    make_published_event()
    etag = client.get("/api/events/")["ETag"]
    response, queries = queries_of(client, "/api/events/", HTTP_IF_NONE_MATCH=etag)
    assert (response.status_code, queries > 0) == (304, True)


def test_cache_control_is_public_with_the_configured_max_age(client, settings):
    settings.PUBLIC_MAX_AGE = 120
    make_published_event()
    for url in ("/events/", "/api/events/"):
        for response in (client.get(url), client.get(url)):
            assert set(response["Cache-Control"].split(", ")) == {"public", "max-age=120"}
            assert {"Cookie", "Authorization"} <= {
                value.strip() for value in response["Vary"].split(",")
            }


def test_a_head_is_answered_from_the_entry_of_the_get(client, django_assert_num_queries):
    make_published_event()
    etag = client.get("/events/")["ETag"]
    with django_assert_num_queries(0):
        response = client.head("/events/")
    assert (response.status_code, response["ETag"]) == (200, etag)
