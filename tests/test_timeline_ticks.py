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
