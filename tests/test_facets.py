"""Counts beside the listing's filters (issue 15): each kind and status under the other filters,
and the countries most often initiator and target of what is listed."""

from urllib.parse import urlencode

import pytest
from django.http import QueryDict

from events.filters import EventFilter
from events.models import Event, EventStatus
from tests.articles import load_articles
from tests.factories import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def articles(db):
    load_articles()


def listed(**params):
    """How many published events the listing's filters select."""
    filterset = EventFilter(QueryDict(urlencode(params)), queryset=Event.objects.published())
    assert filterset.is_valid()
    return filterset.qs.count()


def test_each_kind_counts_what_it_would_list_under_the_other_filters(client, articles):
    response = client.get("/events/", {"kind": "expulsion", "date_after": "2018-03-01"})
    kinds = {checkbox.data["value"]: count for checkbox, count in response.context["kind_choices"]}
    for kind, count in kinds.items():
        # The date filter holds; the kind filter is the one being counted.
        assert count == listed(kind=kind, date_after="2018-03-01"), kind
    assert kinds["expulsion"] == 3
    assert sum(kinds.values()) == listed(date_after="2018-03-01")
    html = response.content.decode()
    assert 'Expulsion <span class="facet-count"' in html


def test_each_status_counts_under_the_other_filters_and_links_to_itself(client, articles):
    response = client.get("/events/", {"kind": "meeting,summit", "status": "planned"})
    statuses = {
        label: (count, url, chosen)
        for label, count, url, chosen in response.context["status_counts"]
    }
    meetings = Event.objects.published().filter(kind__in=["meeting", "summit"])
    for value, label in EventStatus.choices:
        assert statuses[label][0] == meetings.filter(status=value).count(), label
        assert f"status={value}" in statuses[label][1]
    assert statuses["Planned"][2] and not statuses["Occurred"][2]


def test_the_top_countries_are_those_of_the_events_listed(client, articles):
    response = client.get("/events/", {"kind": "expulsion"})
    top = {label: countries for label, countries, _ in response.context["top_countries"]}
    # Coalitions and other actors acting for no country are no country.
    assert [name for name, _, _ in top["Most often target"]] == ["Russian Federation"]
    assert top["Most often target"][0][1] == 3
    initiators = {name: count for name, count, _ in top["Most often initiator"]}
    assert initiators == {"United Kingdom": 1, "United States": 1}
    assert "initiator=GB" in top["Most often initiator"][0][2]


def test_drafts_are_never_counted(client, articles):
    before = client.get("/events/").context["kind_choices"]
    make_event(kind="expulsion", title="A draft expulsion")  # a draft: never counted
    after = client.get("/events/").context["kind_choices"]
    assert [count for _, count in before] == [count for _, count in after]


def test_counts_the_cells_cannot_give_are_estimated_from_a_sample_and_said_so(
    client, articles, monkeypatch
):
    # Words and a status: no rollup cell holds them, so the counts come from the matching
    # events themselves, the first SAMPLE_FACETS of them by id.
    params = {"q": "Russia"}
    exact = client.get("/events/", params).context
    monkeypatch.setattr("events.aggregates.SAMPLE_FACETS", 3)
    estimated = client.get("/events/", params)
    context = estimated.context
    assert context["status_sampled"] == 3 and context["kind_sampled"] == 3
    assert sum(count for _, count, _, _ in context["status_counts"]) == 3
    assert "estimated, in the first 3 matching events" in estimated.content.decode()
    # With room for every match, the sample is every match: exact, and not said to be estimated.
    assert exact["status_sampled"] is None and exact["kind_sampled"] is None
    matching = listed(q="Russia")
    assert sum(count for _, count, _, _ in exact["status_counts"]) == matching
