"""What the events list, in the API and on the page, makes of its query string (issue 11): a
draft's slug reads as an unknown one to whoever cannot see drafts, numbers are ASCII digits, and
one cursor format, whose malformed forms are a 400 naming `cursor`, serves both."""

import base64
import json
import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.db import transaction
from django.http import QueryDict
from rest_framework.test import APIClient

from events import views
from events.filters import EventFilter
from events.models import Event, ReviewState, Source
from events.pagination import decode_cursor, encode_cursor
from tests.articles import load_articles

pytestmark = pytest.mark.django_db

COORDINATED = "2018-03-26-coordinated-expulsion-of-russian-diplomats"
US_60 = "2018-03-26-united-states-expels-60-russian-diplomats"
UNKNOWN = "no-such-event"
INVALID = "Invalid cursor: use the next and previous links as given."


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
def draft():
    """The United States' expulsion, back to draft: the coordinated expulsion links to it."""
    Event.objects.filter(slug=US_60).update(review_state=ReviewState.DRAFT)
    return US_60


def user(username, *, sees_drafts, staff=True):
    person = User.objects.create_user(username, password="pw", is_staff=staff)
    if sees_drafts:
        person.user_permissions.add(Permission.objects.get(codename="view_event"))
    return person


def api_error(client, query):
    response = client.get(f"/api/events/?{query}")
    assert response.status_code == 400, response.content
    return response.json()


def page_errors(client, query):
    """The page's error summary, as text: what the reader is told is wrong."""
    response = client.get(f"/events/?{query}")
    assert response.status_code == 400
    html = response.content.decode()
    summary = html[html.index('<div class="error-summary"') :]
    summary = summary[: summary.index("</ul>")]
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", summary)).strip())


def b64(text):
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def next_cursor(url):
    return re.search(r"cursor=([^&\"]+)", url).group(1)


# --- 1. A draft's slug is an unknown slug to whoever cannot see drafts -----------------------


@pytest.mark.parametrize("who", ["anonymous", "staff without the view permission"])
def test_api_answers_a_drafts_slug_exactly_as_an_unknown_one(draft, who):
    client = APIClient()
    if who != "anonymous":
        client.force_login(user("curious", sees_drafts=False))
    as_draft = api_error(client, f"linked_to={draft}")
    assert json.dumps(as_draft).replace(draft, UNKNOWN) == json.dumps(
        api_error(client, f"linked_to={UNKNOWN}")
    )


@pytest.mark.parametrize("sees_drafts", [False, True])
def test_listing_page_answers_a_drafts_slug_as_an_unknown_one_even_to_staff(
    client, draft, sees_drafts
):
    # The pages show published events only, whoever reads them.
    client.force_login(user("staff", sees_drafts=sees_drafts))
    as_draft = page_errors(client, f"linked_to={draft}")
    assert as_draft.replace(draft, UNKNOWN) == page_errors(client, f"linked_to={UNKNOWN}")
    assert "Unknown event" in as_draft


def test_staff_who_see_drafts_filter_the_api_by_a_drafts_slug(draft):
    client = APIClient()
    client.force_login(user("editor", sees_drafts=True))
    response = client.get(f"/api/events/?linked_to={draft}")
    assert response.status_code == 200
    assert COORDINATED in [event["slug"] for event in response.json()["results"]]


def test_a_filter_over_published_events_does_not_know_a_drafts_slug_without_a_request(draft):
    filterset = EventFilter(QueryDict(f"linked_to={draft}"), queryset=Event.objects.published())
    assert not filterset.is_valid()
    assert f"Unknown event '{draft}'." in filterset.errors["linked_to"]


# --- 2. Numbers are ASCII digits; anything else is a 400 naming the parameter ---------------


@pytest.mark.parametrize(
    "parameter, value, message",
    [
        ("source", "²", "Unknown source id '²'."),  # isdigit() says yes, int() refuses
        ("source", "٣", "Unknown source id '٣'."),  # int() reads it as 3
        ("source", "9" * 5000, "Unknown source id"),  # int() refuses past 4,300 digits
        ("source", "9" * 19, "Unknown source id"),  # past any 64-bit id
        ("page_size", "²", "A whole number from 1 to 500, not '²'."),
        ("page_size", "٣", "A whole number from 1 to 500, not '٣'."),
        ("page_size", "9" * 5000, "A whole number from 1 to 500"),
        ("cameo", "٠٤", "A CAMEO code is 2 to 4 digits"),
    ],
)
def test_api_takes_ascii_digits_only(parameter, value, message):
    found = api_error(APIClient(), f"{parameter}={value}")
    assert list(found) == [parameter]
    assert message in " ".join(found[parameter])


@pytest.mark.parametrize(
    "parameter, value, message",
    [
        ("source", "²", "Unknown source id '²'."),
        ("source", "٣", "Unknown source id '٣'."),
        ("source", "9" * 5000, "Unknown source id"),
        ("cameo", "٠٤", "A CAMEO code is 2 to 4 digits"),
    ],
)
def test_listing_page_takes_ascii_digits_only(client, parameter, value, message):
    errors = page_errors(client, f"{parameter}={value}")
    assert message in errors


def test_a_source_id_in_ascii_digits_still_filters():
    source = Source.objects.get(kind="commentary")
    response = APIClient().get(f"/api/events/?source={source.pk}")
    assert response.status_code == 200 and response.json()["results"]


# --- 3. One cursor format for the API and the page ------------------------------------------


@pytest.mark.parametrize("ordering", ["-date", "date", "title"])
def test_api_and_page_give_the_same_cursor_and_take_each_others(client, monkeypatch, ordering):
    monkeypatch.setattr(views, "PAGE_SIZE", 7)
    api = APIClient().get(f"/api/events/?page_size=7&ordering={ordering}").json()
    page = client.get(f"/events/?ordering={ordering}")
    cursor = next_cursor(api["next"])
    assert next_cursor(page.context["next_url"]) == cursor
    assert decode_cursor(cursor, ordering)[1] is False  # forward

    second_by_api = APIClient().get(api["next"]).json()["results"]
    second_by_page = client.get(f"/events/?ordering={ordering}&cursor={cursor}")
    assert [event.slug for event in second_by_page.context["events"]] == [
        event["slug"] for event in second_by_api
    ]
    # And back: the page's `previous` cursor is the API's.
    back = next_cursor(APIClient().get(api["next"]).json()["previous"])
    assert next_cursor(second_by_page.context["previous_url"]) == back


# Each with the ordering it claims, so that only its form is at fault.
MALFORMED_CURSORS = {
    "not base64 JSON": ("-date", "not-a-cursor"),
    "no position": ("-date", '{"o":"-date"}'),
    "the old page format": ("-date", '{"o":"-date","k":["2018-03-26",1],"d":"next"}'),
    "nested a thousand deep": ("-date", "[" * 1000),
    "an ordering that is a list": ("-date", '{"o":[],"p":["2018-03-26",1],"b":false}'),
    "an id that is a boolean": ("-date", '{"o":"-date","p":["2018-03-26",true],"b":false}'),
    "a negative id": ("-date", '{"o":"-date","p":["2018-03-26",-1],"b":false}'),
    "not a date": ("-date", '{"o":"-date","p":["soon",1],"b":false}'),
    "a NUL in a title": ("title", '{"o":"title","p":["A\\u0000",1],"b":false}'),
    "a lone surrogate in a title": ("title", '{"o":"title","p":["\\ud800",1],"b":false}'),
}


def malformed(payload):
    return payload if payload == "not-a-cursor" else b64(payload)


@pytest.mark.parametrize(
    "ordering, payload", MALFORMED_CURSORS.values(), ids=MALFORMED_CURSORS.keys()
)
def test_a_malformed_cursor_is_a_400_naming_cursor_on_the_api(ordering, payload):
    found = api_error(APIClient(), f"ordering={ordering}&cursor={malformed(payload)}")
    assert found == {"cursor": [INVALID]}


@pytest.mark.parametrize(
    "ordering, payload", MALFORMED_CURSORS.values(), ids=MALFORMED_CURSORS.keys()
)
def test_a_malformed_cursor_is_a_400_naming_cursor_on_the_listing_page(client, ordering, payload):
    errors = page_errors(client, f"ordering={ordering}&cursor={malformed(payload)}")
    assert f"Page link ( cursor ): {INVALID}" in errors


def test_a_cursor_for_another_ordering_is_a_400_naming_cursor_on_both(client):
    cursor = encode_cursor("title", ("A", 1), False)
    found = api_error(APIClient(), f"ordering=date&cursor={cursor}")
    assert found == {"cursor": ["This cursor pages ordering=title, not date."]}
    assert "This cursor pages ordering=title, not date." in page_errors(
        client, f"ordering=date&cursor={cursor}"
    )
