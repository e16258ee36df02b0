"""Duplicates and merging in the admin: the warning after a save, the merge action, and the
merged slug still answering on the public pages and in the API."""

import datetime

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from events.models import Citation, Event, EventAlias, EventLink, Participation, Role
from tests.factories import make_actor, make_event, make_published_event, make_source
from tests.test_admin import form_data, make_user, messages_of

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/events/event/"
ADD = "/admin/events/event/add/"


@pytest.fixture
def states():
    return make_actor(name="Ruritania", slug="ruritania"), make_actor(
        name="Freedonia", slug="freedonia"
    )


@pytest.fixture
def curator_client(client):
    client.force_login(make_user("carla", "curators"))
    return client


@pytest.fixture
def editor():
    return make_user("edgar", "editors")


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def expulsion(initiator, target, **fields):
    fields.setdefault("start_date", datetime.date(2019, 5, 6))
    return make_published_event(kind="expulsion", initiator=initiator, target=target, **fields)


def add_expulsion(client, initiator, target, start_date="2019-05-06"):
    """The curator's POST of the add form: an expulsion between the two, with a citation."""
    data = form_data(
        kind="expulsion",
        title="Ruritania expels Freedonian diplomats",
        slug="ruritania-expels-freedonian-diplomats",
        start_date=start_date,
        participations=[
            {"actor": initiator.pk, "role": Role.INITIATOR, "position": 0},
            {"actor": target.pk, "role": Role.TARGET, "position": 1},
        ],
        citations=[{"source": make_source().pk, "locator": "para. 1", "note": ""}],
    )
    return client.post(ADD, data, follow=True)


# --- The duplicate warning ------------------------------------------------------------------


def test_saving_a_likely_duplicate_warns_with_a_link_to_the_existing_event(curator_client, states):
    existing = expulsion(*states, title="Ruritania expels two diplomats")
    response = add_expulsion(curator_client, *states)
    assert response.status_code == 200
    new = Event.objects.get(slug="ruritania-expels-freedonian-diplomats")  # saved all the same
    [warning] = [m for m in response.context["messages"] if m.level_tag == "warning"]
    text = str(warning)
    assert text.startswith("This event looks like one already recorded")
    assert f"href='{reverse('admin:events_event_change', args=[existing.pk])}'" in text
    assert "Ruritania expels two diplomats" in text

    # Saving it again (a change) warns again; the existing event now has it as its duplicate.
    response = curator_client.post(
        reverse("admin:events_event_change", args=[new.pk]), form_data(new), follow=True
    )
    assert any(m.level_tag == "warning" for m in response.context["messages"])


def test_no_warning_without_a_duplicate(curator_client, states):
    expulsion(*states, start_date=datetime.date(2019, 6, 1))  # another month
    response = add_expulsion(curator_client, *states)
    assert [m.level_tag for m in response.context["messages"]] == ["success"]


# --- The merge action ------------------------------------------------------------------------


def merge_post(event_ids, **extra):
    return {"action": "merge_selected", "_selected_action": [str(pk) for pk in event_ids], **extra}


def test_an_editor_merges_two_events_and_the_old_slug_redirects_in_pages_and_api(
    client, editor, states
):
    source = make_source()
    keep = expulsion(*states, slug="keep-me", title="Kept", source=source)
    merged = expulsion(*states, slug="merge-me", title="Merged", source=source)
    speaker = make_actor(name="A spokesperson")
    Participation.objects.create(event=merged, actor=speaker, role=Role.SPEAKER)
    Citation.objects.create(event=merged, source=make_source(), locator="para. 4")
    answer = make_event(slug="an-answer")
    EventLink.objects.create(from_event=answer, to_event=merged, kind="responds_to")
    client.force_login(editor)

    page = client.post(CHANGELIST, merge_post([keep.pk, merged.pk]))
    assert page.status_code == 200
    assert page.templates[0].name == "admin/events/event/merge_confirmation.html"
    html = page.content.decode()
    assert "Kept" in html and "Merged" in html
    assert f'name="keep" value="{keep.pk}"' in html

    response = client.post(CHANGELIST, merge_post([keep.pk, merged.pk], post="yes", keep=keep.pk))

    assert response.status_code == 302
    [message] = messages_of(response)
    assert message.startswith("Merged “Merged” into <a href=")
    assert "(merge-me) leads there" in message
    assert not Event.objects.filter(pk=merged.pk).exists()
    assert EventAlias.objects.get(slug="merge-me").event == keep
    assert set(keep.participations.values_list("actor__name", "role")) == {
        ("Ruritania", "initiator"),
        ("Freedonia", "target"),
        ("A spokesperson", "speaker"),
    }
    assert keep.citations.count() == 2
    assert list(EventLink.objects.values_list("from_event__slug", "to_event__slug")) == [
        ("an-answer", "keep-me")
    ]
    record = keep.history.first()
    assert record.history_change_reason == "Merged merge-me into this event"
    assert record.history_user == editor
    assert Event.history.get(slug="merge-me", history_type="-").history_user == editor

    client.logout()
    page = client.get("/events/merge-me/")
    assert page.status_code == 301 and page["Location"] == "/events/keep-me/"
    api = client.get("/api/events/merge-me/?format=json")
    assert api.status_code == 301
    assert api["Location"] == "http://testserver/api/events/keep-me/?format=json"
    assert client.get(api["Location"]).json()["slug"] == "keep-me"


def test_the_api_keeps_its_404_for_unknown_slugs_and_drafts_behind_an_alias(client, states):
    draft = make_event(slug="a-draft")
    EventAlias.objects.create(slug="old-draft", event=draft)
    for slug in ("no-such-event", "old-draft"):
        response = client.get(f"/api/events/{slug}/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
    # Whoever may see drafts is redirected to the draft.
    client.force_login(make_user("carla", "curators"))
    assert client.get("/api/events/old-draft/")["Location"].endswith("/api/events/a-draft/")


@pytest.mark.parametrize("count", [1, 3])
def test_merge_needs_exactly_two_events(editor_client, states, count):
    events = [expulsion(*states, slug=f"event-{n}") for n in range(count)]
    response = editor_client.post(
        CHANGELIST, merge_post([e.pk for e in events], post="yes", keep=events[0].pk)
    )
    assert response.status_code == 302
    assert messages_of(response) == [
        "Select exactly two events to merge (one is kept, the other merged into it)."
    ]
    assert Event.objects.count() == count
    assert not EventAlias.objects.exists()


def test_a_curator_cannot_merge(curator_client, states):
    keep, merged = expulsion(*states, slug="one"), expulsion(*states, slug="two")
    changelist = curator_client.get(CHANGELIST)
    assert "merge_selected" not in changelist.content.decode()
    curator_client.post(CHANGELIST, merge_post([keep.pk, merged.pk], post="yes", keep=keep.pk))
    assert Event.objects.filter(slug__in=["one", "two"]).count() == 2
    assert not EventAlias.objects.exists()


def test_aliases_are_listed_and_searched_read_only(curator_client, states):
    keep = expulsion(*states, slug="keep-me")
    EventAlias.objects.create(slug="old-slug", event=keep)
    EventAlias.objects.create(slug="other-slug", event=expulsion(*states, slug="other"))
    url = reverse("admin:events_eventalias_changelist")
    listing = curator_client.get(url, {"q": "old"})
    assert listing.status_code == 200
    assert [a.slug for a in listing.context["cl"].result_list] == ["old-slug"]
    alias = EventAlias.objects.get(slug="old-slug")
    detail = curator_client.get(reverse("admin:events_eventalias_change", args=[alias.pk]))
    assert detail.status_code == 200 and 'name="slug"' not in detail.content.decode()
    assert curator_client.get(reverse("admin:events_eventalias_add")).status_code == 403
    delete = reverse("admin:events_eventalias_delete", args=[alias.pk])
    assert curator_client.post(delete, {"post": "yes"}).status_code == 403
    assert EventAlias.objects.filter(slug="old-slug").exists()


def test_aliases_are_hidden_from_staff_who_cannot_view_events(client):
    client.force_login(User.objects.create_user("sam", password="pw", is_staff=True))
    assert client.get(reverse("admin:events_eventalias_changelist")).status_code == 403
