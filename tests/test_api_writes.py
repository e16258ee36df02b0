"""The REST API's writes: who may write, nested records by natural keys, the admin's rules
(constraints, publish rules) and no lost updates (409 on a stale `version`, 412 on If-Match)."""

import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from rest_framework.test import APIClient

from events.groups import CURATORS, EDITORS
from events.models import Actor, Event, Source
from tests.articles import load_articles

pytestmark = pytest.mark.django_db

NEWS = (
    "https://www.japantimes.co.jp/news/2018/03/27/national/politics-diplomacy/"
    "japans-keeps-reaction-low-key-nations-join-forces-expelling-russian-diplomats-u-k-poisoning/"
)


@pytest.fixture(scope="module")
def articles(django_db_setup, django_db_blocker):
    """The article fixtures, loaded once for the module; each test runs in a savepoint."""
    with django_db_blocker.unblock(), transaction.atomic():
        load_articles()
        yield
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def fixtures(articles, db):
    cache.clear()


def client_for(group=None):
    user = User.objects.create_user(f"user-{group or 'plain'}", password="x")
    if group:
        user.groups.add(Group.objects.get(name=group))
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def curator():
    return client_for(CURATORS)


@pytest.fixture
def editor():
    return client_for(EDITORS)


def new_event(**fields):
    body = {
        "slug": "2018-03-28-test-call",
        "kind": "phone_call",
        "title": "A test call",
        "start_date": "2018-03-28",
        "location": {"country": "jpn", "place": "Tokyo"},
        "participants": [
            {"actor": "shinzo-abe", "role": "initiator"},
            {"actor": "vladimir-putin", "role": "target"},
        ],
        "citations": [
            {"source_url": NEWS, "locator": "para. 99", "note": "A test."},
        ],
        "links": [{"kind": "follows_up", "event": "2018-03-19-abe-putin-phone-call"}],
    }
    body.update(fields)
    return body


# --- Who may write -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/events/"),
        ("patch", "/api/events/2018-03-19-abe-putin-phone-call/"),
        ("put", "/api/events/2018-03-19-abe-putin-phone-call/"),
        ("post", "/api/actors/"),
        ("patch", "/api/actors/taro-kono/"),
        ("post", "/api/sources/"),
    ],
)
def test_anonymous_writes_are_401_and_writes_without_permission_403(method, path):
    anonymous = getattr(APIClient(), method)(path, {}, format="json")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    assert getattr(client_for(), method)(path, {}, format="json").status_code == 403


def test_countries_are_read_only(editor):
    assert editor.post("/api/countries/", {}, format="json").status_code == 405


def test_a_token_authenticates_scripts():
    user = User.objects.create_user("script")
    user.groups.add(Group.objects.get(name=CURATORS))
    out = io.StringIO()
    call_command("create_token", "script", stdout=out, stderr=io.StringIO())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    response = client.post("/api/events/", new_event(), format="json")
    assert response.status_code == 201, response.json()
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token nonsense")
    assert bad.get("/api/events/").status_code == 401


# --- Creating events ---------------------------------------------------------------------


def test_a_curator_creates_a_draft_with_nested_records_by_natural_keys(curator):
    response = curator.post("/api/events/", new_event(), format="json")
    assert response.status_code == 201, response.json()
    event = response.json()
    assert event["review_state"] == "draft" and event["version"] == 1
    assert event["location"] == {"country": "JP", "country_name": "Japan", "place": "Tokyo"}
    assert [(p["actor"], p["role"], p["country"]) for p in event["participants"]] == [
        ("shinzo-abe", "initiator", "JP"),
        ("vladimir-putin", "target", "RU"),
    ]
    assert event["citations"][0]["source"] == Source.objects.get(url=NEWS).pk
    assert event["links"][0]["event"] == "2018-03-19-abe-putin-phone-call"
    stored = Event.objects.get(slug="2018-03-28-test-call")
    assert stored.history.count() == 1
    # The draft is the curator's to see, not the public's.
    assert curator.get("/api/events/2018-03-28-test-call/").status_code == 200
    assert APIClient().get("/api/events/2018-03-28-test-call/").status_code == 404


def test_only_an_editor_publishes(curator, editor):
    response = curator.post("/api/events/", new_event(review_state="published"), format="json")
    assert response.status_code == 403
    assert "editor" in response.json()["detail"]
    response = editor.post("/api/events/", new_event(review_state="published"), format="json")
    assert response.status_code == 201
    assert APIClient().get("/api/events/2018-03-28-test-call/").status_code == 200


def test_publish_rules_hold(editor):
    body = new_event(review_state="published", citations=[])
    response = editor.post("/api/events/", body, format="json")
    assert response.status_code == 400
    assert response.json()["review_state"] == [
        "“A test call” cannot be published: it cites no source."
    ]
    assert not Event.objects.filter(slug="2018-03-28-test-call").exists()  # rolled back


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"expelled_best": 5}, "expelled_low", "Only an expulsion has a number"),
        ({"end_date": "2018-03-01"}, "end_date", "An event cannot end before it starts."),
        ({"date_precision": "month"}, "start_date", "first day of its month"),
        ({"kind": "visit"}, "kind", "is not a valid choice"),
        ({"slug": "2018-03-19-abe-putin-phone-call"}, "slug", "already exists"),
        ({"location": {"country": "XX"}}, "location", "Unknown country code"),
    ],
)
def test_constraints_and_bad_values_are_field_errors(curator, fields, field, message):
    response = curator.post("/api/events/", new_event(**fields), format="json")
    assert response.status_code == 400
    assert message in str(response.json()[field])


EXPULSION = {"kind": "expulsion", "links": []}
ORDERED = "The estimates of people expelled are in order: low ≤ best ≤ high."


@pytest.mark.parametrize(
    "estimates, field, message",
    [
        ({"expelled_low": 0}, "expelled_low", "The number of people expelled is at least 1."),
        ({"expelled_best": -3}, "expelled_best", "The number of people expelled is at least 1."),
        ({"expelled_high": 0}, "expelled_high", "The number of people expelled is at least 1."),
        ({"expelled_low": 70, "expelled_best": 60}, "expelled_best", ORDERED),
        ({"expelled_best": 90, "expelled_high": 80}, "expelled_best", ORDERED),
        ({"expelled_low": 90, "expelled_high": 80}, "expelled_best", ORDERED),
        (
            {"expelled_high": 2_147_483_648},
            "expelled_high",
            "Ensure this value is less than or equal to 2147483647.",
        ),
    ],
)
def test_estimates_of_people_expelled_out_of_bounds_or_order_are_400s(
    curator, estimates, field, message
):
    response = curator.post("/api/events/", new_event(**EXPULSION, **estimates), format="json")
    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert not Event.objects.filter(slug="2018-03-28-test-call").exists()


def test_a_patch_keeps_the_estimates_in_order_with_the_stored_ones(curator):
    body = new_event(**EXPULSION, expelled_low=60, expelled_best=60, expelled_high=60)
    created = curator.post("/api/events/", body, format="json")
    assert created.status_code == 201
    estimates = [created.json()[f"expelled_{name}"] for name in ("low", "best", "high")]
    assert estimates == [60, 60, 60]
    path = f"/api/events/{created.json()['slug']}/"
    # A high below the stored low and best: refused, though the PATCH gives the high only.
    refused = curator.patch(path, {"expelled_high": 50, "version": 1}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"expelled_best": [ORDERED]}
    # "In excess of 100": a low of 101, no best or high.
    bound = {"expelled_low": 101, "expelled_best": None, "expelled_high": None, "version": 1}
    done = curator.patch(path, bound, format="json")
    assert done.status_code == 200
    assert [done.json()[f"expelled_{name}"] for name in ("low", "best", "high")] == [
        101,
        None,
        None,
    ]
    stored = Event.objects.get(slug=created.json()["slug"])
    assert (stored.expelled_low, stored.expelled_best, stored.expelled_high) == (101, None, None)
    # A kind that is no expulsion cannot keep them.
    other = curator.patch(path, {"kind": "meeting", "version": 2}, format="json")
    assert other.status_code == 400
    assert other.json() == {"expelled_low": ["Only an expulsion has a number of people expelled."]}


def test_nested_records_name_what_is_wrong(curator):
    body = new_event(
        participants=[
            {"actor": "shinzo-abe", "role": "initiator"},
            {"actor": "nobody", "role": "target"},
        ]
    )
    response = curator.post("/api/events/", body, format="json")
    assert response.status_code == 400
    assert response.json()["participants"]["1"]["actor"] == ["Unknown actor 'nobody'."]
    twice = new_event(participants=[{"actor": "shinzo-abe", "role": "initiator"}] * 2)
    errors = curator.post("/api/events/", twice, format="json").json()["participants"]
    assert errors["1"]["role"] == ["This actor already has this role in this event."]
    unknown = new_event(citations=[{"source_url": "https://nowhere.example/", "locator": "p. 1"}])
    assert (
        "source_url"
        in curator.post("/api/events/", unknown, format="json").json()["citations"]["0"]
    )
    bare = new_event(citations=[{"locator": "p. 1"}])
    assert "source" in curator.post("/api/events/", bare, format="json").json()["citations"]["0"]


# --- Updating: no lost updates -----------------------------------------------------------


@pytest.fixture
def draft(curator):
    response = curator.post("/api/events/", new_event(), format="json")
    assert response.status_code == 201
    return response.json()


def test_an_update_names_the_version_it_is_based_on(curator, draft):
    path = f"/api/events/{draft['slug']}/"
    missing = curator.patch(path, {"title": "New title"}, format="json")
    assert missing.status_code == 400 and "version" in missing.json()
    done = curator.patch(path, {"title": "New title", "version": 1}, format="json")
    assert done.status_code == 200
    assert done.json()["version"] == 2 and done["ETag"] == '"2"'
    assert done.json()["participants"] == draft["participants"]  # PATCH keeps what it omits


def test_a_stale_version_is_a_409_and_a_stale_if_match_a_412(curator, draft):
    path = f"/api/events/{draft['slug']}/"
    assert curator.patch(path, {"title": "First", "version": 1}, format="json").status_code == 200
    stale = curator.patch(path, {"title": "Second", "version": 1}, format="json")
    assert stale.status_code == 409
    assert "version 1" in stale.json()["detail"] and "version 2" in stale.json()["detail"]
    stale = curator.patch(path, {"title": "Second"}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    fresh = curator.patch(path, {"title": "Second"}, format="json", HTTP_IF_MATCH='"2"')
    assert fresh.status_code == 200 and fresh.json()["title"] == "Second"
    assert Event.objects.get(slug=draft["slug"]).title == "Second"


def test_put_replaces_nested_records(curator, draft):
    path = f"/api/events/{draft['slug']}/"
    body = new_event(
        participants=[{"actor": "taro-kono", "role": "participant"}],
        citations=[{"source": Source.objects.get(kind="commentary").pk, "locator": "para. 2"}],
        links=[
            {
                "direction": "incoming",
                "kind": "responds_to",
                "event": "2018-03-20-may-abe-phone-call",
            }
        ],
        version=1,
    )
    response = curator.put(path, body, format="json")
    assert response.status_code == 200, response.json()
    event = response.json()
    assert [p["actor"] for p in event["participants"]] == ["taro-kono"]
    assert [c["locator"] for c in event["citations"]] == ["para. 2"]
    assert event["links"] == [
        {
            "direction": "incoming",
            "kind": "responds_to",
            "event": "2018-03-20-may-abe-phone-call",
            "title": Event.objects.get(slug="2018-03-20-may-abe-phone-call").title,
        }
    ]
    self_link = curator.patch(
        path,
        {"links": [{"kind": "follows_up", "event": draft["slug"]}], "version": 2},
        format="json",
    )
    assert self_link.json()["links"]["0"]["event"] == ["An event cannot be linked to itself."]


def test_a_curator_proposes_a_change_to_a_published_event_and_an_editor_makes_it(curator, editor):
    path = "/api/events/2018-03-19-abe-putin-phone-call/"
    version = Event.objects.get(slug="2018-03-19-abe-putin-phone-call").version
    proposed = curator.patch(path, {"title": "X", "version": version}, format="json")
    assert proposed.status_code == 202
    assert proposed["Location"] == proposed.json()["url"]
    assert proposed.json()["state"] == "pending"
    assert APIClient().get(path).json()["title"] != "X"
    assert Event.objects.get(slug="2018-03-19-abe-putin-phone-call").version == version
    response = editor.patch(path, {"summary": "Edited.", "version": version}, format="json")
    assert response.status_code == 200
    unpublished = editor.patch(
        path, {"review_state": "draft", "version": version + 1}, format="json"
    )
    assert unpublished.json()["review_state"] == "draft"
    assert APIClient().get(path).status_code == 404


def test_removing_the_last_citation_of_a_published_event_is_refused(editor):
    path = "/api/events/2018-03-19-abe-putin-phone-call/"
    version = Event.objects.get(slug="2018-03-19-abe-putin-phone-call").version
    response = editor.patch(path, {"citations": [], "version": version}, format="json")
    assert response.status_code == 400
    assert "cites no source" in response.json()["review_state"][0]
    assert Event.objects.get(slug="2018-03-19-abe-putin-phone-call").citations.exists()


# --- Actors and sources ------------------------------------------------------------------


def test_curators_create_and_update_actors_and_sources(curator):
    response = curator.post(
        "/api/actors/",
        {"slug": "yasutoshi-nishimura", "kind": "person", "name": "Y. Nishimura", "country": "jp"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["country"] == "JP"
    assert response.json()["version"] == 1
    response = curator.patch(
        "/api/actors/yasutoshi-nishimura/",
        {"name": "Yasutoshi Nishimura", "version": 1},
        format="json",
    )
    assert response.json()["name"] == Actor.objects.get(slug="yasutoshi-nishimura").name
    assert response.json()["version"] == 2 and response["ETag"] == '"2"'
    bad = curator.post("/api/actors/", {"slug": "x", "kind": "wizard", "name": "X"}, format="json")
    assert bad.status_code == 400 and "kind" in bad.json()

    source = {
        "url": "https://example.org/statement",
        "title": "A statement",
        "publisher": "Example",
        "kind": "official_statement",
        "published_on": "2018-03-28",
    }
    response = curator.post("/api/sources/", source, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["event_count"] == 0 and response.json()["events"] == []
    again = curator.post("/api/sources/", source, format="json")
    assert again.status_code == 400 and "url" in again.json()


def test_actor_and_source_writes_state_the_version_they_read(curator, editor):
    """Ten writers of one actor from the same version: one wins, nine are refused (409)."""
    path = "/api/actors/shinzo-abe/"
    version = curator.get(path).json()["version"]
    assert curator.get(path)["ETag"] == f'"{version}"'
    unversioned = curator.patch(path, {"description": "x"}, format="json")
    assert unversioned.status_code == 400 and "version" in unversioned.json()
    answers = [
        curator.patch(path, {"description": f"Edit {n}", "version": version}, format="json")
        for n in range(10)
    ]
    assert [a.status_code for a in answers] == [200] + [409] * 9
    assert Actor.objects.get(slug="shinzo-abe").description == "Edit 0"
    stale = editor.patch(path, {"name": "Abe"}, format="json", HTTP_IF_MATCH=f'"{version}"')
    assert stale.status_code == 412
    source = Source.objects.get(url=NEWS)
    path = f"/api/sources/{source.pk}/"
    changed = curator.patch(path, {"title": "T", "version": source.version}, format="json")
    assert changed.status_code == 200 and changed.json()["version"] == source.version + 1
    lost = curator.patch(path, {"title": "U", "version": source.version}, format="json")
    assert lost.status_code == 409 and Source.objects.get(pk=source.pk).title == "T"
    bad_etag = curator.patch(path, {"title": "U"}, format="json", HTTP_IF_MATCH='"²"')
    assert bad_etag.status_code == 400 and "If-Match" in bad_etag.json()
