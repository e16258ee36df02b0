"""People expelled as low, best and high estimates: how the pages, the chart and the listing
say them, and how the chart draws them."""

import datetime
import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from events import charts
from events.models import Event
from events.models.events import expelled_wording
from tests.factories import make_actor, make_country, make_published_event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "low, best, high, words",
    [
        (60, 60, 60, "60"),  # an exact figure
        (101, None, None, "more than 100"),  # "in excess of 100"
        (1, None, None, "at least 1"),
        (60, None, 80, "60–80"),  # a range
        (60, None, 60, "60"),
        (None, 60, None, "60"),  # a best estimate alone
        (None, None, 80, "at most 80"),
        (50, 60, 80, "60 (50–80)"),  # a best estimate within a range
        (60, 60, 80, "60 (at most 80)"),
        (None, 60, 80, "60 (at most 80)"),
        (51, 60, None, "60 (more than 50)"),
        (51, 60, 60, "60 (more than 50)"),
        (None, None, None, ""),
    ],
)
def test_the_estimates_in_words(low, best, high, words):
    assert expelled_wording(low, best, high) == words
    event = Event(expelled_low=low, expelled_best=best, expelled_high=high)
    assert event.expelled_display == words
    assert charts.expelled_label(event) == (words or "number not known")


def expulsion(initiator, target, day, low=None, best=None, high=None):
    return make_published_event(
        initiator=initiator,
        target=target,
        kind="expulsion",
        title=f"Expulsion of {day}",
        start_date=datetime.date(2018, 3, day),
        expelled_low=low,
        expelled_best=best,
        expelled_high=high,
    )


@pytest.fixture
def sides():
    japan = make_actor(name="Japan", country=make_country("JP", "JPN", "Japan"), slug="japan")
    russia = make_actor(
        name="Russia", country=make_country("RU", "RUS", "Russian Federation"), slug="russia"
    )
    return japan, russia


def test_the_chart_draws_the_best_estimate_else_the_low_and_marks_a_lower_bound(sides):
    japan, russia = sides
    exact = expulsion(japan, russia, 1, 60, 60, 60)
    bound = expulsion(japan, russia, 2, low=121)
    ranged = expulsion(japan, russia, 3, low=30, best=40, high=80)
    unknown = expulsion(japan, russia, 4, high=10)
    events = Event.objects.filter(pk__in=[e.pk for e in (exact, bound, ranged, unknown)])
    rows = {row.event.pk: row for row in charts.expulsions(events.listed())["rows"]}
    # The longest bar is the low of 121, a lower bound: it ends in an open tip.
    assert rows[bound.pk].bar == charts.BAR_MAX and rows[bound.pk].more
    assert rows[exact.pk].bar == pytest.approx(charts.BAR_MAX * 60 / 121)
    assert rows[ranged.pk].bar == pytest.approx(charts.BAR_MAX * 40 / 121)
    assert rows[unknown.pk].bar == 4  # a stub: a high alone gives no length
    assert not (rows[exact.pk].more or rows[ranged.pk].more or rows[unknown.pk].more)
    labels = [rows[e.pk].label for e in (exact, bound, ranged, unknown)]
    assert labels == ["60", "more than 120", "40 (30–80)", "at most 10"]


def test_the_pages_say_the_estimates_in_the_same_words(client, sides):
    japan, russia = sides
    ranged = expulsion(japan, russia, 5, low=60, high=80)
    expulsion(japan, russia, 6, low=101)
    listing = client.get("/events/?kind=expulsion").content.decode()
    table = listing[listing.index('class="event-table"') :]
    counts = re.findall(r'<span class="count">([^<]*)</span>', table)
    assert counts == ["more than 100 expelled", "60–80 expelled"]
    chart = listing[listing.index('class="expulsions-svg"') :]
    assert '<tspan class="number">60–80</tspan>' in chart
    assert '<tspan class="number">more than 100</tspan>' in chart
    page = client.get(ranged.get_absolute_url()).content.decode()
    assert '<dt>People expelled</dt><dd class="number">60–80</dd>' in page


# --- Migration 0012: the old count and qualifier become estimates ----------------------------

BEFORE = ("events", "0011_country_codes")
AFTER = ("events", "0012_expelled_estimates")
# The old count and qualifier, and the estimates each becomes.
OLD_AND_NEW = {
    "exact-60": ((60, "exact"), (60, 60, 60)),
    "more-than-100": ((100, "more_than"), (101, None, None)),
    "none": ((None, "exact"), (None, None, None)),
}


def migrate_to(target):
    """The app registry as of `target`, after migrating the test database there."""
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor.loader.project_state([target]).apps


@pytest.mark.django_db(transaction=True)
def test_migration_0012_turns_counts_into_estimates_and_back():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("events")
    try:
        apps = migrate_to(BEFORE)
        OldEvent = apps.get_model("events", "Event")
        OldHistory = apps.get_model("events", "HistoricalEvent")
        for slug, ((count, qualifier), _) in OLD_AND_NEW.items():
            fields = {
                "kind": "expulsion" if count else "meeting",
                "title": slug,
                "slug": slug,
                "start_date": datetime.date(2018, 3, 26),
                "expelled_count": count,
                "expelled_count_qualifier": qualifier,
            }
            event = OldEvent.objects.create(period_end=fields["start_date"], **fields)
            OldHistory.objects.create(
                id=event.pk,
                history_date=timezone.now(),
                history_type="+",
                **fields,
            )
        apps = migrate_to(AFTER)
        for model in ("Event", "HistoricalEvent"):
            stored = {
                row["slug"]: (row["expelled_low"], row["expelled_best"], row["expelled_high"])
                for row in apps.get_model("events", model).objects.values()
            }
            assert stored == {slug: new for slug, (_, new) in OLD_AND_NEW.items()}, model
        apps = migrate_to(BEFORE)
        back = dict(apps.get_model("events", "Event").objects.values_list("slug", "expelled_count"))
        assert back == {slug: old[0] for slug, (old, _) in OLD_AND_NEW.items()}
    finally:
        MigrationExecutor(connection).migrate(latest)
