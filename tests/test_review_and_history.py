"""The shared rules behind the admin and the API: groups, publishing, stale copies, history."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from events.models import ConcurrentEditError, Event, ReviewState
from events.writes import CommandLine, PublishError, publish, set_review_state
from tests.factories import make_actor, make_event, make_published_event

pytestmark = pytest.mark.django_db

EDITOR = CommandLine(editor=True)


def test_groups_exist_after_migrate():
    curators = set(
        Group.objects.get(name="curators").permissions.values_list("codename", flat=True)
    )
    editors = set(Group.objects.get(name="editors").permissions.values_list("codename", flat=True))
    assert {"add_event", "change_event", "add_source", "change_actor"} <= curators
    assert "publish_event" not in curators
    assert "publish_event" in editors
    assert curators < editors
    # Curators see their own proposals; editors decide them.
    assert "view_eventproposal" in curators and "change_eventproposal" not in curators
    assert "change_eventproposal" in editors


def test_an_event_without_participant_or_citation_cannot_be_published():
    event = make_event(title="Bare meeting")
    with pytest.raises(PublishError) as error:
        publish(EDITOR, event)
    assert str(error.value) == (
        "“Bare meeting” cannot be published: it has no participant and it cites no source."
    )
    event.refresh_from_db()
    assert event.review_state == ReviewState.DRAFT


def test_bulk_publish_publishes_the_ready_and_names_the_refused():
    ready = make_published_event()
    ready.review_state = ReviewState.DRAFT
    ready.save()
    bare = make_event(title="Bare call")
    changed, refused = set_review_state(
        EDITOR, Event.objects.filter(pk__in=[ready.pk, bare.pk]), "published"
    )
    assert changed == [ready]
    assert refused == [
        "“Bare call” cannot be published: it has no participant and it cites no source."
    ]


def test_a_stale_copy_cannot_overwrite_a_newer_save():
    event = make_event(title="Original")
    first, second = Event.objects.get(pk=event.pk), Event.objects.get(pk=event.pk)
    first.title = "First curator's title"
    first.save()
    second.summary = "Second curator's summary"
    with pytest.raises(ConcurrentEditError) as error:
        second.save()
    assert "changed by someone else" in str(error.value)
    event.refresh_from_db()
    assert (event.title, event.summary, event.version) == ("First curator's title", "", 2)


def test_every_save_is_recorded_field_by_field():
    event = make_event(title="Before")
    event.title = "After"
    event.save()
    latest, previous = event.history.all()[:2]
    delta = latest.diff_against(previous)
    assert [(c.field, c.old, c.new) for c in delta.changes if c.field == "title"] == [
        ("title", "Before", "After")
    ]


def test_participants_and_actors_have_history_too():
    actor = make_actor(name="Taro Kono")
    actor.description = "Foreign Minister"
    actor.save()
    assert actor.history.count() == 2
    event = make_published_event(initiator=actor)
    assert event.participations.get().history.count() == 1


def test_fixture_loads_are_recorded_once():
    call_command("load_fixtures", verbosity=0)
    event = Event.objects.get(slug="2018-03-14-uk-expels-23-russian-diplomats")
    assert event.history.count() == 1
    call_command("load_fixtures", verbosity=0)
    assert event.history.count() == 1  # nothing changed, nothing recorded
