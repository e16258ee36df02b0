"""An event that did not (yet) occur says so once after its title: "(planned)" from its status,
unless the title says it already."""

import re

import pytest

from events.models import EventStatus
from tests.articles import load_articles
from tests.factories import make_actor, make_published_event

pytestmark = pytest.mark.django_db

ABE_PUTIN = "Abe–Putin summit in Russia (planned)"


@pytest.fixture(autouse=True)
def fixtures():
    load_articles()


def text_of(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("url", ["/events/", "/", "/actors/shinzo-abe/", "/countries/JP/"])
def test_a_title_saying_planned_is_not_told_twice(client, url):
    text = text_of(client.get(url).content.decode())
    assert ABE_PUTIN in text
    assert "(planned) (planned)" not in text


def test_timeline_tooltip_says_planned_once(client):
    html = client.get("/events/").content.decode()
    assert "<title>May 2018 · Summit · Abe–Putin summit in Russia (planned)</title>" in html
    assert "(planned) · Abe–Putin" not in html


@pytest.mark.parametrize(
    ("status", "title", "shown"),
    [
        (EventStatus.PLANNED, "Talks in Tokyo", "Talks in Tokyo (planned)"),
        (EventStatus.POSTPONED, "Talks in Tokyo", "Talks in Tokyo (postponed)"),
        (EventStatus.PLANNED, "Talks in Tokyo (Planned)", "Talks in Tokyo (Planned)"),
        (EventStatus.OCCURRED, "Talks in Tokyo", "Talks in Tokyo"),
    ],
)
def test_the_status_is_added_only_when_the_title_lacks_it(client, status, title, shown):
    make_published_event(initiator=make_actor(), status=status, title=title, slug="talks")
    html = client.get("/events/?q=Tokyo").content.decode()
    cell = re.search(r'<th scope="row" class="title"><a href="/events/talks/">.*?</th>', html)
    assert text_of(cell.group()).strip() == shown
