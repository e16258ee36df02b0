"""Curation in the admin: who may do what, the publish rules, stale copies, history, bad input."""

import datetime
import re

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.urls import reverse

from events import writes
from events.models import (
    Citation,
    Event,
    EventLink,
    EventProposal,
    Participation,
    ReviewState,
    Role,
)
from tests.articles import load_articles
from tests.factories import make_actor, make_event, make_published_event, make_source

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/events/event/"


def make_user(username, group=None, **fields):
    user = User.objects.create_user(username, password="pw", is_staff=True, **fields)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def curator():
    return make_user("carla", "curators")


@pytest.fixture
def editor():
    return make_user("edgar", "editors")


def change_url(event):
    return reverse("admin:events_event_change", args=[event.pk])


def form_data(event=None, participations=None, citations=None, links=None, **fields):
    """The POST body of the event change form: the event's current values, then `fields`.

    Inline rows are dicts; a row with an "id" is an existing one. By default an existing
    event's rows are posted unchanged.
    """
    if event is not None:
        event.refresh_from_db()
        if participations is None:
            participations = list(event.participations.values("id", "actor", "role", "position"))
        if citations is None:
            citations = list(event.citations.values("id", "source", "locator", "note"))
        if links is None:
            links = list(event.outgoing_links.values("id", "kind", "to_event"))
    data = {
        "kind": "meeting",
        "mode": "",
        "title": "A meeting",
        "slug": "a-meeting",
        "summary": "",
        "start_date": "2018-03-21",
        "end_date": "",
        "date_precision": "day",
        "status": "occurred",
        "location_country": "",
        "place": "",
        "expelled_low": "",
        "expelled_best": "",
        "expelled_high": "",
        "quoted_words": "",
        "review_state": "draft",
        "seen_version": "",
    }
    if event is not None:
        for name in data:
            if name == "seen_version":
                data[name] = event.version
                continue
            value = getattr(event, name + "_id", None) if name == "location_country" else None
            value = value if value is not None else getattr(event, name, "")
            data[name] = "" if value is None else str(value)
    data.update(fields)
    for prefix, rows, fk in (
        ("participations", participations or [], "event"),
        ("citations", citations or [], "event"),
        ("outgoing_links", links or [], "from_event"),
    ):
        data[f"{prefix}-TOTAL_FORMS"] = len(rows)
        data[f"{prefix}-INITIAL_FORMS"] = sum(1 for row in rows if row.get("id"))
        data[f"{prefix}-MIN_NUM_FORMS"] = 0
        data[f"{prefix}-MAX_NUM_FORMS"] = 1000
        for index, row in enumerate(rows):
            for key, value in row.items():
                data[f"{prefix}-{index}-{key}"] = "" if value is None else value
            if event is not None:
                data[f"{prefix}-{index}-{fk}"] = event.pk
    return {key: value for key, value in data.items() if value is not None}


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def field_errors(response, prefix=""):
    """{field name: [messages]} of the main form, or of the inline formset `prefix`."""
    if not prefix:
        return response.context["adminform"].form.errors
    for formset in response.context["inline_admin_formsets"]:
        if formset.formset.prefix == prefix:
            return formset.formset.errors
    raise AssertionError(f"no inline {prefix}")


# --- Permissions ------------------------------------------------------------------------------


def test_anonymous_user_is_sent_to_the_login_page(client):
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/admin/events/event/")


def test_curator_gets_no_publish_action_and_no_review_state_input(client, curator):
    event = make_event()
    client.force_login(curator)
    listing = client.get(CHANGELIST).content.decode()
    assert 'value="publish_selected"' not in listing
    assert 'value="delete_selected"' not in listing
    form = client.get(change_url(event)).content.decode()
    assert 'name="review_state"' not in form
    assert 'name="title"' in form


def test_editor_gets_the_publish_actions_and_the_review_state_input(client, editor):
    event = make_event()
    client.force_login(editor)
    listing = client.get(CHANGELIST).content.decode()
    assert 'value="publish_selected"' in listing
    assert 'value="unpublish_selected"' in listing
    assert 'name="review_state"' in client.get(change_url(event)).content.decode()


def test_curator_cannot_publish_with_the_action(client, curator):
    event = make_published_event()
    Event.objects.filter(pk=event.pk).update(review_state=ReviewState.DRAFT)
    client.force_login(curator)
    response = client.post(
        CHANGELIST, {"action": "publish_selected", "_selected_action": [event.pk]}, follow=True
    )
    assert response.status_code == 200
    event.refresh_from_db()
    assert event.review_state == ReviewState.DRAFT


def test_curator_cannot_publish_through_the_form(client, curator):
    event = make_published_event()
    Event.objects.filter(pk=event.pk).update(review_state=ReviewState.DRAFT)
    client.force_login(curator)
    response = client.post(change_url(event), form_data(event, review_state="published"))
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.review_state == ReviewState.DRAFT


def test_curator_adds_a_draft_event_with_participant_and_citation(client, curator):
    actor, source = make_actor(name="Japan"), make_source()
    client.force_login(curator)
    response = client.post(
        reverse("admin:events_event_add"),
        form_data(
            title="Kono calls Lavrov",
            slug="kono-calls-lavrov",
            participations=[{"actor": actor.pk, "role": "initiator", "position": 0}],
            citations=[{"source": source.pk, "locator": "para. 4", "note": ""}],
        ),
    )
    assert response.status_code == 302
    event = Event.objects.get(slug="kono-calls-lavrov")
    assert event.review_state == ReviewState.DRAFT
    assert event.participations.get().actor == actor
    assert event.citations.get().locator == "para. 4"


# --- Publish rules ----------------------------------------------------------------------------


def test_editor_publishes_with_the_action_and_history_names_the_editor(client, editor):
    event = make_published_event()
    event.review_state = ReviewState.DRAFT
    event.save()
    client.force_login(editor)
    response = client.post(
        CHANGELIST, {"action": "publish_selected", "_selected_action": [event.pk]}, follow=True
    )
    assert "Published: 1 event." in messages_of(response)
    event.refresh_from_db()
    assert event.review_state == ReviewState.PUBLISHED
    latest = event.history.first()
    assert (latest.history_user, latest.history_change_reason) == (editor, "published")
    assert latest.diff_against(latest.prev_record).changed_fields == ["review_state"]


def test_the_publish_action_names_each_event_it_refuses(client, editor):
    ready = make_published_event(title="Ready")
    Event.objects.filter(pk=ready.pk).update(review_state=ReviewState.DRAFT)
    bare = make_event(title="Bare call")
    client.force_login(editor)
    response = client.post(
        CHANGELIST,
        {"action": "publish_selected", "_selected_action": [ready.pk, bare.pk]},
        follow=True,
    )
    assert messages_of(response) == [
        "Published: 1 event.",
        "“Bare call” cannot be published: it has no participant and it cites no source.",
    ]
    bare.refresh_from_db()
    assert bare.review_state == ReviewState.DRAFT


def test_unpublish_action_returns_events_to_draft(client, editor):
    event = make_published_event()
    client.force_login(editor)
    client.post(CHANGELIST, {"action": "unpublish_selected", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert event.review_state == ReviewState.DRAFT


def test_editor_cannot_publish_in_the_form_without_participant_and_citation(client, editor):
    event = make_event()
    client.force_login(editor)
    response = client.post(change_url(event), form_data(event, review_state="published"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "A published event needs at least one participant" in content
    assert "A published event needs at least one citation" in content
    event.refresh_from_db()
    assert (event.review_state, event.version) == (ReviewState.DRAFT, 1)


def test_editor_adds_participant_and_citation_and_publishes_in_one_save(client, editor):
    event, actor, source = make_event(), make_actor(), make_source()
    client.force_login(editor)
    response = client.post(
        change_url(event),
        form_data(
            event,
            review_state="published",
            participations=[{"actor": actor.pk, "role": "initiator", "position": 0}],
            citations=[{"source": source.pk, "locator": "para. 1", "note": ""}],
        ),
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.review_state == ReviewState.PUBLISHED
    assert writes.publish_problems(event) == []


def test_a_published_event_cannot_lose_its_last_citation(client, curator):
    event = make_published_event()
    client.force_login(curator)
    citation = event.citations.values("id", "source", "locator", "note").get()
    response = client.post(
        change_url(event), form_data(event, citations=[citation | {"DELETE": "on"}])
    )
    assert response.status_code == 200
    assert "A published event needs at least one citation" in response.content.decode()
    assert event.citations.count() == 1


def test_a_curators_edit_of_a_published_event_is_a_proposal_not_a_change(client, curator):
    # Was: the curator's new title went live at once (issue 11). Now it waits for an editor.
    event = make_published_event(title="Old title")
    client.force_login(curator)
    response = client.post(change_url(event), form_data(event, title="New title"))
    proposal = EventProposal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:events_eventproposal_change", args=[proposal.pk])
    event.refresh_from_db()
    assert (event.title, event.review_state, event.version) == (
        "Old title",
        ReviewState.PUBLISHED,
        1,
    )
    assert (proposal.proposed_by, proposal.document["title"]) == (curator, "New title")


# --- No lost updates --------------------------------------------------------------------------


def test_a_save_from_a_stale_copy_is_refused_and_keeps_the_input(client, curator, editor):
    event = make_event(title="Original")
    client.force_login(curator)
    opened = form_data(event)  # the form as the curator opened it, at version 1
    first = Event.objects.get(pk=event.pk)
    first.title = "The first curator's title"
    first._history_user = editor
    first.save()

    response = client.post(change_url(event), opened | {"summary": "The second curator's words"})

    assert response.status_code == 200
    content = response.content.decode()
    assert "This event was changed by edgar since you opened it (changed: title)" in content
    assert reverse("admin:events_event_history", args=[event.pk]) in content
    assert "The second curator&#x27;s words" in content  # still in the form
    event.refresh_from_db()
    assert (event.title, event.summary, event.version) == ("The first curator's title", "", 2)


def test_a_race_between_the_check_and_the_save_is_refused_not_a_500(client, curator, monkeypatch):
    from events.admin import EventAdminForm

    event = make_event(title="Original")
    client.force_login(curator)
    opened = form_data(event)
    Event.objects.filter(pk=event.pk).update(version=2)  # another curator's save, committed
    real_stored = EventAdminForm._stored
    calls = []

    def stored_as_first_read(form):
        # The first check read the row just before the other save landed: it passes, and the
        # model's own check in Event.save() must catch the stale copy.
        calls.append(1)
        return {"version": 1, "review_state": "draft"} if len(calls) == 1 else real_stored(form)

    monkeypatch.setattr(EventAdminForm, "_stored", stored_as_first_read)
    response = client.post(change_url(event), opened | {"summary": "Mine"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "since you opened it" in content
    assert "Mine</textarea>" in content
    event.refresh_from_db()
    assert (event.summary, event.version) == ("", 2)


def test_a_second_race_is_reported_without_a_500(client, curator, monkeypatch):
    from events.admin import EventAdminForm

    event = make_event(title="Original")
    client.force_login(curator)
    opened = form_data(event)
    Event.objects.filter(pk=event.pk).update(version=2)
    monkeypatch.setattr(
        EventAdminForm, "_stored", lambda form: {"version": 1, "review_state": "draft"}
    )
    response = client.post(change_url(event), opened | {"summary": "Mine"}, follow=True)
    assert response.status_code == 200
    assert any("changed by someone else" in m for m in messages_of(response))
    event.refresh_from_db()
    assert event.summary == ""


# --- History ----------------------------------------------------------------------------------


def test_a_form_edit_is_recorded_with_its_user_and_child_rows_show_on_the_event_history(
    client, curator
):
    event = make_event(title="Before")
    actor = make_actor(name="Sergey Lavrov")
    client.force_login(curator)
    client.post(
        change_url(event),
        form_data(
            event,
            title="After",
            participations=[{"actor": actor.pk, "role": "speaker", "position": 0}],
        ),
    )
    latest = event.history.first()
    assert latest.history_user == curator
    assert [
        (c.field, c.old, c.new)
        for c in latest.diff_against(latest.prev_record).changes
        if c.field == "title"
    ] == [("title", "Before", "After")]
    participation = event.participations.get()
    assert participation.history.get().history_user == curator

    page = client.get(reverse("admin:events_event_history", args=[event.pk]))
    content = page.content.decode()
    assert "Sergey Lavrov as speaker" in content
    version_url = reverse(
        "admin:events_participation_simple_history",
        args=[participation.pk, participation.history.get().history_id],
    )
    assert version_url in content
    assert client.get(version_url).status_code == 200


def test_a_removed_participant_can_be_restored_from_the_event_history(client, editor):
    event = make_published_event()
    Participation.objects.create(event=event, actor=make_actor(name="Extra"), role=Role.GUEST)
    removed = event.participations.get(role=Role.GUEST)
    removed_id = removed.pk
    removed.delete()
    record = Participation.history.filter(id=removed_id, history_type="+").get()
    client.force_login(editor)
    url = reverse("admin:events_participation_simple_history", args=[removed_id, record.history_id])
    # The page carries the event's version: restoring a participant is a change to the event.
    seen = client.get(url).context["adminform"].form["seen_version"].value()
    version = event.version
    response = client.post(
        url,
        {
            "event": event.pk,
            "actor": record.actor_id,
            "role": "guest",
            "position": 0,
            "seen_version": seen,
        },
    )
    assert response.status_code == 302
    assert event.participations.filter(role=Role.GUEST).exists()
    event.refresh_from_db()
    assert event.version == version + 1
    assert event.history.first().history_user == editor


def test_an_event_can_be_reverted_from_its_history(client, editor):
    event = make_event(title="First title")
    event.title = "Second title"
    event.save()
    first = event.history.earliest("history_date")
    client.force_login(editor)
    url = reverse("admin:events_event_simple_history", args=[event.pk, first.history_id])
    page = client.get(url)
    assert page.status_code == 200
    data = form_data(event) | {
        "title": "First title",
        "seen_version": page.context["adminform"].form["seen_version"].value(),
    }
    for key in [k for k in data if "-" in k]:
        del data[key]
    response = client.post(url, data)
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.title, event.version) == ("First title", 3)
    assert event.history.first().history_user == editor


def test_a_curators_revert_of_a_published_event_is_a_proposal_that_keeps_it_published(
    client, curator
):
    # Was: the curator's revert changed the published event at once (issue 11).
    event = make_event(title="Draft title")
    first = event.history.get()
    Participation.objects.create(event=event, actor=make_actor(), role=Role.INITIATOR)
    Citation.objects.create(event=event, source=make_source(), locator="para. 1")
    event.review_state = ReviewState.PUBLISHED
    event.title = "Later title"
    event.save()
    client.force_login(curator)
    url = reverse("admin:events_event_simple_history", args=[event.pk, first.history_id])
    page = client.get(url)
    data = {
        name: page.context["adminform"].form[name].value() or ""
        for name in page.context["adminform"].form.fields
    }
    assert client.post(url, data).status_code == 302
    event.refresh_from_db()
    assert (event.title, event.review_state) == ("Later title", ReviewState.PUBLISHED)
    proposal = EventProposal.objects.get(event=event)
    assert proposal.document["title"] == "Draft title"
    assert "review_state" not in proposal.document  # reverting never unpublishes


def test_a_curators_revert_of_a_draft_leaves_the_review_state_alone(client, curator):
    event = make_event(title="First title")
    first = event.history.get()
    event.title = "Later title"
    event.save()
    client.force_login(curator)
    url = reverse("admin:events_event_simple_history", args=[event.pk, first.history_id])
    page = client.get(url)
    data = {
        name: page.context["adminform"].form[name].value() or ""
        for name in page.context["adminform"].form.fields
    }
    assert client.post(url, data).status_code == 302
    event.refresh_from_db()
    assert (event.title, event.review_state, event.version) == (
        "First title",
        ReviewState.DRAFT,
        3,
    )
    assert event.history.first().history_user == curator


# --- Bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"end_date": "2018-03-01"}, "end_date", "An event cannot end before it starts."),
        (
            {"kind": "expulsion", "expelled_low": "-3"},
            "expelled_low",
            "The number of people expelled is at least 1.",
        ),
        (
            {"kind": "expulsion", "expelled_best": "0"},
            "expelled_best",
            "The number of people expelled is at least 1.",
        ),
        (
            {"kind": "expulsion", "expelled_high": "0"},
            "expelled_high",
            "The number of people expelled is at least 1.",
        ),
        (
            {"kind": "expulsion", "expelled_low": "61", "expelled_best": "60"},
            "expelled_best",
            "The estimates of people expelled are in order: low ≤ best ≤ high.",
        ),
        (
            {"kind": "expulsion", "expelled_low": "90", "expelled_high": "80"},
            "expelled_best",
            "The estimates of people expelled are in order: low ≤ best ≤ high.",
        ),
        (
            {"kind": "meeting", "expelled_low": "101"},
            "expelled_low",
            "Only an expulsion has a number of people expelled.",
        ),
    ],
)
def test_bad_event_input_is_shown_on_its_field_and_nothing_is_saved(
    client, curator, fields, field, message
):
    event = make_event(title="Kept")
    client.force_login(curator)
    response = client.post(change_url(event), form_data(event, title="Changed", **fields))
    assert response.status_code == 200
    assert field_errors(response)[field] == [message]
    event.refresh_from_db()
    assert (event.title, event.version) == ("Kept", 1)


@pytest.mark.parametrize(
    "estimates", [("60", "60", "60"), ("101", "", ""), ("50", "", "80"), ("50", "60", "80")]
)
def test_the_admin_saves_the_estimates_of_people_expelled(client, curator, estimates):
    event = make_event(kind="expulsion", title="Kept")
    client.force_login(curator)
    low, best, high = estimates
    data = form_data(event, expelled_low=low, expelled_best=best, expelled_high=high)
    response = client.post(change_url(event), data)
    assert response.status_code == 302
    event.refresh_from_db()
    stored = (event.expelled_low, event.expelled_best, event.expelled_high)
    assert stored == tuple(int(value) if value else None for value in estimates)


def test_a_duplicate_participant_role_is_shown_on_the_role(client, curator):
    event, actor = make_event(title="Kept"), make_actor()
    client.force_login(curator)
    row = {"actor": actor.pk, "role": "initiator", "position": 0}
    response = client.post(change_url(event), form_data(event, participations=[row, dict(row)]))
    assert response.status_code == 200
    errors = field_errors(response, "participations")
    assert errors[1]["role"] == ["This actor already has this role in this event."]
    assert not Participation.objects.filter(event=event).exists()


def test_a_participant_role_already_stored_is_shown_on_the_role(client, curator):
    event, actor = make_event(), make_actor()
    existing = Participation.objects.create(event=event, actor=actor, role=Role.INITIATOR)
    client.force_login(curator)
    rows = [
        {"id": existing.pk, "actor": actor.pk, "role": "initiator", "position": 0},
        {"actor": actor.pk, "role": "initiator", "position": 1},
    ]
    response = client.post(change_url(event), form_data(event, participations=rows))
    assert response.status_code == 200
    assert field_errors(response, "participations")[1]["role"] == [
        "This actor already has this role in this event."
    ]
    assert Participation.objects.filter(event=event).count() == 1


def test_a_citation_without_a_source_is_shown_on_the_source(client, curator):
    event = make_event(title="Kept")
    client.force_login(curator)
    response = client.post(
        change_url(event),
        form_data(event, title="Changed", citations=[{"source": "", "locator": "para. 2"}]),
    )
    assert response.status_code == 200
    assert field_errors(response, "citations")[0]["source"] == ["This field is required."]
    event.refresh_from_db()
    assert event.title == "Kept"
    assert not Citation.objects.exists()


def test_a_link_to_the_event_itself_is_shown_on_the_linked_event(client, curator):
    event = make_event()
    client.force_login(curator)
    response = client.post(
        change_url(event),
        form_data(event, links=[{"kind": "responds_to", "to_event": event.pk}]),
    )
    assert response.status_code == 200
    assert field_errors(response, "outgoing_links")[0]["to_event"] == [
        "An event cannot be linked to itself."
    ]
    assert not EventLink.objects.exists()


# --- The changelist ---------------------------------------------------------------------------


def test_the_list_shows_dates_at_their_precision_and_the_two_sides(client, curator):
    japan = make_actor(name="Japan", country=_country("JP", "JPN", "Japan"))
    russia = make_actor(name="Russia", country=_country("RU", "RUS", "Russia"))
    g7 = make_actor(name="G7", kind="bloc")
    make_published_event(
        title="Summit",
        start_date=datetime.date(2018, 5, 1),
        date_precision="month",
        initiator=japan,
        target=russia,
    )
    make_event(
        title="Talks",
        start_date=datetime.date(2014, 1, 1),
        end_date=datetime.date(2016, 1, 1),
        date_precision="year",
    )
    day = make_published_event(
        title="Expulsion", start_date=datetime.date(2018, 3, 14), initiator=g7
    )
    client.force_login(curator)
    content = client.get(CHANGELIST).content.decode()
    assert "May 2018" in content
    assert "2014–2016" in content
    assert "14 March 2018" in content
    rows = {cells[0]: cells for cells in _rows(content)}
    assert rows["Summit"][3:5] == ["JP", "RU"]
    assert rows[day.title][3] == "G7"


def test_search_matches_participants_names(client, curator):
    make_published_event(title="A phone call", initiator=make_actor(name="Taro Kono"))
    make_event(title="Another call")
    client.force_login(curator)
    content = client.get(CHANGELIST, {"q": "Kono"}).content.decode()
    assert [row[0] for row in _rows(content)] == ["A phone call"]


def test_the_country_filter_takes_a_typed_code(client, curator):
    gb = _country("GB", "GBR", "United Kingdom")
    make_event(title="In London", location_country=gb)
    make_event(title="Elsewhere")
    client.force_login(curator)
    assert [r[0] for r in _rows(client.get(CHANGELIST, {"country": "gbr"}).content.decode())] == [
        "In London"
    ]
    response = client.get(CHANGELIST, {"country": "XX"})
    assert _rows(response.content.decode()) == []
    assert "Unknown country code “XX”." in messages_of(response)


def test_no_drop_down_lists_every_country(client, curator):
    from events.models import Country

    Country.objects.bulk_create(
        Country(code=f"{a}{b}", code3=f"{a}{b}X", name=f"Country {a}{b}")
        for a in "ABCDEFGHIJ"
        for b in "ABCDEFGHIJKLMNOP"
    )
    event = make_event()
    client.force_login(curator)
    for url in (CHANGELIST, change_url(event), reverse("admin:events_event_add")):
        assert client.get(url).content.decode().count("<option") < 100, url


def test_only_indexed_columns_sort(client, curator):
    make_event(title="B", kind="summit", start_date=datetime.date(2018, 1, 1))
    make_event(title="A", kind="meeting", start_date=datetime.date(2019, 1, 1))
    client.force_login(curator)
    response = client.get(CHANGELIST, {"o": "2"})  # the kind column: not sortable
    assert [row[0] for row in _rows(response.content.decode())] == ["A", "B"]
    assert response.context["cl"].get_ordering(response.wsgi_request, Event.objects.all()) == [
        "-start_date",
        "-id",
    ]
    response = client.get(CHANGELIST, {"o": "0"})  # title, ascending
    assert response.context["cl"].get_ordering(response.wsgi_request, Event.objects.all()) == [
        "title",
        "id",
    ]


def test_view_on_site_opens_the_public_page(client, curator):
    event = make_event(slug="kono-lavrov-call")
    client.force_login(curator)
    assert 'href="/events/kono-lavrov-call/"' in client.get(change_url(event)).content.decode()


@pytest.mark.postgres_only
def test_an_unfiltered_list_of_a_large_table_shows_an_estimate(client, curator, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from events.admin import events as event_admin

    for _ in range(3):
        make_event()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_event")
    monkeypatch.setattr(event_admin, "ESTIMATE_COUNT_ABOVE", 1)
    client.force_login(curator)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST)
    assert "about 3 events" in response.content.decode()
    assert response.context["cl"].paginator.estimated
    assert not [q for q in queries if '"__count"' in q["sql"]]  # no COUNT(*) ran
    # A filtered list is counted exactly.
    assert "about" not in client.get(CHANGELIST, {"kind__exact": "meeting"}).content.decode()


# --- Actors, sources, countries ---------------------------------------------------------------


def test_an_actors_page_lists_its_events(client, curator):
    actor = make_actor(name="Taro Kono")
    event = make_published_event(title="Kono calls", initiator=actor)
    client.force_login(curator)
    content = client.get(reverse("admin:events_actor_change", args=[actor.pk])).content.decode()
    assert f'<a href="{change_url(event)}">Kono calls</a>' in content.replace("'", '"')
    assert f"?actor={actor.slug}" in content


def test_a_sources_page_lists_the_events_citing_it(client, curator):
    source = make_source(title="Japan Times")
    event = make_published_event(title="Expulsions", source=source)
    client.force_login(curator)
    content = client.get(reverse("admin:events_source_change", args=[source.pk])).content.decode()
    assert f'<a href="{change_url(event)}">Expulsions</a>' in content.replace("'", '"')


def test_actor_and_source_autocompletes_search_by_name(client, curator):
    make_actor(name="Sergey Lavrov", slug="sergey-lavrov")
    make_actor(name="Taro Kono")
    make_source(title="Russia expels diplomats")
    event = make_event()
    client.force_login(curator)

    def complete(model, field, term):
        response = client.get(
            "/admin/autocomplete/",
            {"app_label": "events", "model_name": model, "field_name": field, "term": term},
        )
        return [item["text"] for item in response.json()["results"]]

    assert complete("participation", "actor", "lavr") == ["Sergey Lavrov"]
    assert complete("participation", "actor", "sergey-lavrov") == ["Sergey Lavrov"]
    assert complete("citation", "source", "expels") == ["Russia expels diplomats (Example News)"]
    assert complete("event", "location_country", "zz") == []
    assert event  # the autocomplete is reached from the event form


def test_countries_are_listed_and_searched(client, curator):
    _country("JP", "JPN", "Japan")
    _country("GB", "GBR", "United Kingdom")
    client.force_login(curator)
    content = client.get("/admin/events/country/", {"q": "jap"}).content.decode()
    assert "Japan" in content and "United Kingdom" not in content


# --- helpers ----------------------------------------------------------------------------------


def _country(code, code3, name):
    from tests.factories import make_country

    return make_country(code, code3, name)


def _rows(content):
    """The result rows of a changelist page, each a list of cell texts (no checkbox)."""
    if 'id="result_list"' not in content:
        return []
    body = content.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    body = body.split("<tbody>", 1)[1]
    cell = re.compile(r"<t[dh]( [^>]*)?>(.*?)</t[dh]>", re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", text).strip()
            for attrs, text in cell.findall(row)
            if "action-checkbox" not in (attrs or "")
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_every_admin_page_renders_with_the_article_fixtures(client):

    from events.models import Actor, Source

    load_articles()
    client.force_login(User.objects.create_superuser("root", password="pw"))
    event = Event.objects.filter(participations__isnull=False, incoming_links__isnull=False)[0]
    bloc = Actor.objects.filter(kind="bloc").first()
    person = Actor.objects.filter(offices__isnull=False).first()
    source = Source.objects.first()
    urls = [
        "/admin/",
        CHANGELIST,
        CHANGELIST + "?q=Salisbury",
        CHANGELIST + "?country=GB&kind__exact=expulsion",
        CHANGELIST + "?start_date__year=2018",
        reverse("admin:events_event_add"),
        change_url(event),
        reverse("admin:events_event_history", args=[event.pk]),
        "/admin/events/actor/?q=kono",
        reverse("admin:events_actor_change", args=[bloc.pk]),
        reverse("admin:events_actor_change", args=[person.pk]),
        reverse("admin:events_actor_history", args=[person.pk]),
        "/admin/events/source/?q=japan",
        reverse("admin:events_source_change", args=[source.pk]),
        "/admin/events/country/?q=GB",
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url
