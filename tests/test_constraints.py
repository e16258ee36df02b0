"""Each integrity rule is a named database constraint that refuses bad data with its message."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from events.models import (
    Actor,
    Citation,
    Country,
    Event,
    EventKind,
    EventLink,
    Participation,
    Role,
    Source,
)
from tests.factories import make_actor, make_event, make_source

pytestmark = pytest.mark.django_db

D = datetime.date


def assert_refused(obj, constraint, message):
    """The model reports `message` for `constraint`, and the database itself refuses the row."""
    with pytest.raises(ValidationError) as excinfo:
        obj.validate_constraints()
    assert message in str(excinfo.value)
    with pytest.raises(IntegrityError) as db_error, transaction.atomic():
        obj.save()
    # PostgreSQL names the constraint; SQLite names it for CHECK and lists columns for UNIQUE.
    assert constraint in str(db_error.value) or "UNIQUE" in str(db_error.value)


def test_event_cannot_end_before_it_starts():
    event = Event(
        kind=EventKind.SUMMIT, title="t", slug="t", start_date=D(2018, 5, 1), end_date=D(2018, 4, 1)
    )
    assert_refused(event, "event_end_after_start", "An event cannot end before it starts.")


@pytest.mark.parametrize("field", ["expelled_low", "expelled_best", "expelled_high"])
def test_each_estimate_of_people_expelled_is_at_least_one(field):
    event = Event(
        kind=EventKind.EXPULSION, title="t", slug="t", start_date=D(2018, 3, 14), **{field: 0}
    )
    assert_refused(event, "event_expelled_positive", "The number of people expelled is at least 1.")


@pytest.mark.parametrize(
    "low, best, high",
    [(61, 60, None), (None, 61, 60), (81, None, 80), (50, 90, 80), (70, 60, 80)],
)
def test_the_estimates_of_people_expelled_are_in_order(low, best, high):
    event = Event(
        kind=EventKind.EXPULSION,
        title="t",
        slug="t",
        start_date=D(2018, 3, 14),
        expelled_low=low,
        expelled_best=best,
        expelled_high=high,
    )
    assert_refused(
        event,
        "event_expelled_estimates_ordered",
        "The estimates of people expelled are in order: low ≤ best ≤ high.",
    )


@pytest.mark.parametrize(
    "low, best, high",
    [(60, 60, 60), (101, None, None), (None, 60, None), (None, None, 80), (60, None, 80)],
)
def test_exact_figures_bounds_and_ranges_are_stored(low, best, high):
    event = make_event(
        kind=EventKind.EXPULSION, expelled_low=low, expelled_best=best, expelled_high=high
    )
    event.refresh_from_db()
    assert (event.expelled_low, event.expelled_best, event.expelled_high) == (low, best, high)


@pytest.mark.parametrize("field", ["expelled_low", "expelled_best", "expelled_high"])
def test_people_expelled_belong_to_expulsions(field):
    event = Event(
        kind=EventKind.MEETING, title="t", slug="t", start_date=D(2018, 3, 21), **{field: 5}
    )
    assert_refused(
        event,
        "event_expelled_expulsion_only",
        "Only an expulsion has a number of people expelled.",
    )


@pytest.mark.parametrize(
    "field, constraint",
    [
        ("kind", "event_kind_valid"),
        ("status", "event_status_valid"),
        ("date_precision", "event_date_precision_valid"),
        ("review_state", "event_review_state_valid"),
    ],
)
def test_event_choice_fields_hold_their_choices(field, constraint):
    event = Event(kind=EventKind.MEETING, title="t", slug="t", start_date=D(2018, 3, 21))
    setattr(event, field, "bogus")
    assert_refused(event, constraint, "must be one of:")


def test_actor_kind_holds_its_choices():
    assert_refused(
        Actor(kind="planet", name="Mars", slug="mars"), "actor_kind_valid", "must be one of:"
    )


def test_source_kind_holds_its_choices():
    source = Source(url="https://example.org/x", title="x", publisher="p", kind="rumour")
    assert_refused(source, "source_kind_valid", "must be one of:")


def test_participation_role_holds_its_choices():
    participation = Participation(event=make_event(), actor=make_actor(), role="villain")
    assert_refused(participation, "participation_role_valid", "must be one of:")


def test_link_kind_holds_its_choices():
    link = EventLink(from_event=make_event(), to_event=make_event(), kind="inspired_by")
    assert_refused(link, "eventlink_kind_valid", "must be one of:")


def test_actor_appears_once_per_role_in_an_event():
    event, actor = make_event(), make_actor()
    Participation.objects.create(event=event, actor=actor, role=Role.INITIATOR)
    Participation.objects.create(event=event, actor=actor, role=Role.SPEAKER)  # another role: fine
    duplicate = Participation(event=event, actor=actor, role=Role.INITIATOR)
    assert_refused(
        duplicate,
        "participation_unique_actor_role",
        "This actor already has this role in this event.",
    )


def test_source_cited_once_per_locator_in_an_event():
    event, source = make_event(), make_source()
    Citation.objects.create(event=event, source=source, locator="para. 9")
    Citation.objects.create(event=event, source=source, locator="para. 2")  # another locator: fine
    duplicate = Citation(event=event, source=source, locator="para. 9")
    assert_refused(
        duplicate,
        "citation_unique_source_locator",
        "This source is already cited at this locator in this event.",
    )


def test_event_cannot_link_to_itself():
    event = make_event()
    link = EventLink(from_event=event, to_event=event, kind="responds_to")
    assert_refused(link, "eventlink_not_self", "An event cannot be linked to itself.")


def test_country_codes_are_capital_letters():
    assert_refused(
        Country(code="gb", code3="GBR", name="x"),
        "country_code_format",
        "The alpha-2 code is two capital letters.",
    )


def test_month_precision_start_is_the_first_of_the_month():
    event = Event(
        kind=EventKind.SUMMIT,
        title="t",
        slug="t",
        start_date=D(2018, 5, 31),
        date_precision="month",
    )
    with pytest.raises(ValidationError) as excinfo:
        event.full_clean()
    assert "At month precision the start date is the first day of its month." in str(excinfo.value)


@pytest.mark.parametrize(
    "precision, start, end, expected",
    [
        ("day", D(2018, 3, 14), None, D(2018, 3, 14)),
        ("month", D(2018, 5, 1), None, D(2018, 5, 31)),
        ("month", D(2018, 2, 1), None, D(2018, 2, 28)),
        ("year", D(2014, 1, 1), D(2016, 1, 1), D(2016, 12, 31)),
    ],
)
def test_period_end_covers_the_stated_precision(precision, start, end, expected):
    event = make_event(start_date=start, end_date=end, date_precision=precision)
    event.refresh_from_db()
    assert event.period_end == expected


@pytest.mark.parametrize(
    "fields, field, message",
    [
        (
            {"kind": "summit", "start_date": D(2018, 5, 1), "end_date": D(2018, 4, 1)},
            "end_date",
            "An event cannot end before it starts.",
        ),
        (
            {"kind": "expulsion", "start_date": D(2018, 3, 14), "expelled_low": 0},
            "expelled_low",
            "The number of people expelled is at least 1.",
        ),
        (
            {
                "kind": "expulsion",
                "start_date": D(2018, 3, 14),
                "expelled_low": 9,
                "expelled_best": 8,
            },
            "expelled_best",
            "The estimates of people expelled are in order: low ≤ best ≤ high.",
        ),
        (
            {"kind": "meeting", "start_date": D(2018, 3, 14), "expelled_best": 8},
            "expelled_low",
            "Only an expulsion has a number of people expelled.",
        ),
    ],
)
def test_constraint_messages_are_reported_on_their_field(fields, field, message):
    event = Event(title="t", slug="t", **fields)
    with pytest.raises(ValidationError) as excinfo:
        event.full_clean()
    assert message in excinfo.value.message_dict[field]


def test_duplicate_participant_role_is_reported_on_the_role():
    event, actor = make_event(), make_actor()
    Participation.objects.create(event=event, actor=actor, role=Role.HOST)
    with pytest.raises(ValidationError) as excinfo:
        Participation(event=event, actor=actor, role=Role.HOST).full_clean()
    assert excinfo.value.message_dict["role"] == ["This actor already has this role in this event."]


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"kind": "summit", "end_date": D(2018, 4, 1)}, "end_date", "cannot end before it starts"),
        ({"kind": "expulsion", "expelled_high": 0}, "expelled_low", "is at least 1"),
        (
            {"kind": "expulsion", "expelled_best": 5, "expelled_high": 4},
            "expelled_best",
            "in order",
        ),
        ({"kind": "expulsion", "expelled_low": 5, "expelled_high": 4}, "expelled_best", "in order"),
        ({"kind": "meeting", "expelled_high": 3}, "expelled_low", "Only an expulsion"),
        ({"kind": "expulsion", "mode": "visit"}, "mode", "does not apply to this kind"),
    ],
)
def test_the_python_check_of_the_constraints_agrees_with_the_database(fields, field, message):
    """Event.constraint_problems() (used by bulk imports) says what the database refuses."""
    event = Event(title="t", slug="t", start_date=D(2018, 5, 1), **fields)
    assert message in " ".join(event.constraint_problems()[field])
    with pytest.raises(IntegrityError), transaction.atomic():
        event.save()
    assert (
        Event(
            title="ok",
            slug="ok",
            kind="expulsion",
            start_date=D(2018, 5, 1),
            expelled_low=2,
            expelled_best=3,
            expelled_high=4,
        ).constraint_problems()
        == {}
    )
