"""The timeline's axis: every tick label says its year where the year changes (issue 15)."""

import datetime

import pytest

from events import charts
from tests.factories import make_published_event

D = datetime.date


def test_month_ticks_carry_the_year_wherever_it_changes():
    # Every third month from May 2016: January never falls on a tick.
    days = [D(2016, 5, 1), D(2016, 8, 1), D(2016, 11, 1), D(2017, 2, 1), D(2017, 5, 1)]
    assert charts.tick_labels(days, "month") == ["May 2016", "Aug", "Nov", "Feb 2017", "May"]


def test_day_ticks_carry_the_year_wherever_it_changes():
    days = [D(2018, 12, 20), D(2018, 12, 27), D(2019, 1, 3)]
    assert charts.tick_labels(days, "day") == ["20 Dec 2018", "27 Dec", "3 Jan 2019"]


@pytest.mark.django_db
def test_a_timeline_over_two_years_names_each_year_on_its_axis():
    # About 22 months: a tick every third month from May 2016, none in January.
    for day in (D(2016, 5, 7), D(2018, 2, 10)):
        make_published_event(start_date=day)
    from events.models import Event

    drawn = charts.timeline(Event.objects.all())
    labels = [tick["label"] for tick in drawn["ticks"]]
    years = {label[-4:] for label in labels if label[-4:].isdigit()}
    # The first tick has its year, and each later year appears on the tick where it begins.
    assert labels[0][-4:].isdigit()
    assert labels == ["May 2016", "Aug", "Nov", "Feb 2017", "May", "Aug", "Nov", "Feb 2018"]
    assert {"2016", "2017", "2018"} == years


@pytest.mark.django_db
def test_the_axis_covers_the_finely_dated_events_and_cuts_coarse_spans_with_an_arrow():
    from events.models import Event

    coarse = make_published_event(
        start_date=D(2014, 1, 1), end_date=D(2016, 12, 31), date_precision="year"
    )
    for day in (1, 14, 26, 27):
        make_published_event(start_date=D(2018, 3, day))
    make_published_event(start_date=D(2018, 5, 26))

    drawn = charts.timeline(Event.objects.all())
    labels = [tick["label"] for tick in drawn["ticks"]]
    # March to May 2018 fill the axis: the span known only as 2014–2016 does not squash them.
    assert labels[0].endswith("2018") and not any("2014" in label for label in labels)
    assert drawn["focused"] and drawn["clipped"] == 1
    (mark,) = [m for lane in drawn["lanes"] for m in lane.marks if m.event == coarse]
    assert mark.cut_start and mark.cut_end and len(mark.arrow_points) == 2
    # Every event's whole period, when asked.
    whole = charts.timeline(Event.objects.all(), whole=True)
    assert not whole["clipped"] and whole["ticks"][0]["label"] in ("2014", "2015")


@pytest.mark.django_db
def test_the_listing_offers_the_whole_period_and_back(client):
    from tests.articles import load_articles

    load_articles()
    html = client.get("/events/").content.decode()
    assert "known only to the year reach" in html
    assert 'href="?timeline=whole#timeline"' in html
    whole = client.get("/events/?timeline=whole")
    assert whole.status_code == 200
    text = whole.content.decode()
    assert "Every event&#x27;s whole period is shown" in text or "Every event's whole" in text
    assert 'href="?#timeline"' in text
    # Not a filter: the same events are listed.
    assert text.count('class="title"><a') == html.count('class="title"><a')
