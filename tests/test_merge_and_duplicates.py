"""Duplicate detection and merging two events into one."""

import datetime

import pytest

from events import writes
from events.duplicates import duplicates_of, find_duplicates
from events.models import Citation, Event, EventAlias, EventLink, Participation, Role
from events.writes import merge_events
from tests.factories import make_actor, make_event, make_published_event, make_source

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def states():
    return make_actor(name="United Kingdom"), make_actor(name="Russia")


def expulsion(uk, ru, **fields):
    return make_published_event(kind="expulsion", initiator=uk, target=ru, **fields)


def test_same_kind_overlapping_dates_same_initiator_and_target_is_a_duplicate(states):
    uk, ru = states
    first = expulsion(uk, ru, start_date=D(2018, 3, 14))
    month = expulsion(uk, ru, start_date=D(2018, 3, 1), date_precision="month")
    assert list(duplicates_of(first)) == [month]
    assert list(duplicates_of(month)) == [first]


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "sanction"},
        {"start_date": D(2018, 4, 2)},
    ],
)
def test_other_kind_or_date_is_not_a_duplicate(states, change):
    uk, ru = states
    first = expulsion(uk, ru, start_date=D(2018, 3, 14))
    fields = {"start_date": D(2018, 3, 14), **change}
    kind = fields.pop("kind", "expulsion")
    make_published_event(kind=kind, initiator=uk, target=ru, **fields)
    assert list(duplicates_of(first)) == []


def test_other_target_is_not_a_duplicate(states):
    uk, ru = states
    first = expulsion(uk, ru, start_date=D(2018, 3, 14))
    expulsion(uk, make_actor(name="Iran"), start_date=D(2018, 3, 14))
    assert list(duplicates_of(first)) == []


def test_without_initiator_or_target_nothing_is_flagged():
    make_event(kind="statement", start_date=D(2018, 3, 14))
    assert not find_duplicates("statement", D(2018, 3, 14), None, "day", [], []).exists()


def test_merge_moves_children_keeps_the_slug_answering_and_records_history(states):
    uk, ru = states
    source = make_source()
    keep = expulsion(uk, ru, start_date=D(2018, 3, 14), source=source, slug="keep")
    merged = expulsion(uk, ru, start_date=D(2018, 3, 14), source=source, slug="dupe")
    extra_source = make_source()
    Citation.objects.create(event=merged, source=extra_source, locator="para. 3", note="more")
    speaker = make_actor(name="Theresa May")
    Participation.objects.create(event=merged, actor=speaker, role=Role.SPEAKER)
    answer = make_event(slug="answer")
    EventLink.objects.create(from_event=answer, to_event=merged, kind="responds_to")
    EventLink.objects.create(from_event=merged, to_event=keep, kind="part_of")  # becomes self

    merge_events(writes.CommandLine(editor=True), keep, merged)

    assert not Event.objects.filter(slug="dupe").exists()
    assert EventAlias.objects.get(slug="dupe").event == keep
    assert set(keep.citations.values_list("source_id", "locator")) == {
        (source.pk, "para. 1"),
        (extra_source.pk, "para. 3"),
    }
    assert set(keep.participations.values_list("actor__name", "role")) == {
        ("United Kingdom", "initiator"),
        ("Russia", "target"),
        ("Theresa May", "speaker"),
    }
    assert list(EventLink.objects.values_list("from_event__slug", "to_event__slug")) == [
        ("answer", "keep")
    ]
    assert keep.history.first().history_change_reason == "Merged dupe into this event"
    deleted = Event.history.filter(slug="dupe", history_type="-").get()
    assert deleted.history_change_reason == "Merged into keep"
