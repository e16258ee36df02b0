"""The API door obeys the one rulebook (events/writes.py): who may write what, a published
event keeps a participant and a citation, every change states the version it read, and a
curator's change to a published event becomes a proposal that an editor accepts or rejects."""

import threading

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.test import APIClient

from events.groups import CURATORS, EDITORS
from events.models import (
    Actor,
    Citation,
    Event,
    EventLink,
    EventProposal,
    Participation,
    ReviewState,
    Role,
    Source,
)
from tests.factories import make_actor, make_event, make_published_event, make_source

pytestmark = pytest.mark.django_db


def client_for(role):
    client = APIClient()
    if role != "anonymous":
        user = User.objects.create_user(f"api-{role}-{User.objects.count()}")
        user.groups.add(Group.objects.get(name={"curator": CURATORS, "editor": EDITORS}[role]))
        client.force_authenticate(user)
        client.user = user
    return client


def event_in(state):
    if state == "published":
        return make_published_event(target=make_actor())
    event = make_event()
    Participation.objects.create(event=event, actor=make_actor(), role=Role.INITIATOR)
    Citation.objects.create(event=event, source=make_source(), locator="para. 1")
    return event


def path_of(event):
    return f"/api/events/{event.slug}/"


# What each role gets for each operation on a draft and on a published event.
# "proposal": 202 and the event unchanged.
OUTCOMES = {
    ("anonymous", "draft"): {"change": 401, "children": 401, "publish": 401},
    ("anonymous", "published"): {"change": 401, "children": 401, "unpublish": 401},
    ("curator", "draft"): {"change": 200, "children": 200, "publish": 403},
    ("curator", "published"): {"change": 202, "children": 202, "unpublish": 403},
    ("editor", "draft"): {"change": 200, "children": 200, "publish": 200},
    ("editor", "published"): {"change": 200, "children": 200, "unpublish": 200},
}
BODIES = {
    "change": lambda event: {"title": "Changed title"},
    "children": lambda event: {"participants": [{"actor": make_actor().slug, "role": "target"}]},
    "publish": lambda event: {"review_state": "published"},
    "unpublish": lambda event: {"review_state": "draft"},
}


@pytest.mark.parametrize(
    "role, state, operation",
    [(role, state, op) for (role, state), ops in OUTCOMES.items() for op in ops],
)
def test_the_api_door_gives_each_role_what_the_rules_say(role, state, operation):
    event = event_in(state)
    before = Event.objects.values("title", "version", "review_state").get(pk=event.pk)
    body = {**BODIES[operation](event), "version": event.version}
    response = client_for(role).patch(path_of(event), body, format="json")
    expected = OUTCOMES[(role, state)][operation]
    assert response.status_code == expected, response.content
    after = Event.objects.values("title", "version", "review_state").get(pk=event.pk)
    if expected == 200:
        assert after["version"] == before["version"] + 1
    else:
        assert after == before  # refused or proposed: nothing changed
    if expected == 202:
        assert EventProposal.objects.filter(event=event, state="pending").count() == 1


def test_a_stale_version_is_refused_and_names_both_versions():
    event = event_in("draft")
    editor = client_for("editor")
    assert (
        editor.patch(path_of(event), {"title": "A", "version": 1}, format="json").status_code == 200
    )
    stale = editor.patch(path_of(event), {"title": "B", "version": 1}, format="json")
    assert stale.status_code == 409
    assert "version 1" in stale.json()["detail"] and "version 2" in stale.json()["detail"]
    assert Event.objects.get(pk=event.pk).title == "A"


def test_a_published_event_keeps_a_participant_and_a_citation():
    event = event_in("published")
    editor = client_for("editor")
    for body in ({"participants": []}, {"citations": []}):
        response = editor.patch(path_of(event), {**body, "version": 1}, format="json")
        assert response.status_code == 400
        assert "cannot be published" in response.json()["review_state"][0]
    assert event.participations.exists() and event.citations.exists()


def test_a_proposal_in_the_api_full_cycle():
    event = event_in("published")
    curator, editor = client_for("curator"), client_for("editor")
    proposed = curator.patch(
        path_of(event),
        {"title": "Better title", "citations": [], "version": 1},
        format="json",
    )
    # A proposal is checked like a change: it may not leave the event without a citation.
    assert proposed.status_code == 400
    proposed = curator.patch(path_of(event), {"title": "Better title", "version": 1}, format="json")
    assert proposed.status_code == 202
    proposal_url = proposed["Location"]
    assert APIClient().get(path_of(event)).json()["title"] == event.title
    # The curator sees their own proposal; another curator and anonymous users do not.
    assert client_for("curator").get(proposal_url).status_code == 404
    assert APIClient().get(proposal_url).status_code == 401
    detail = editor.get(proposal_url).json()
    assert {"field": "title", "current": event.title, "proposed": "Better title"} in detail[
        "difference"
    ]
    assert editor.get("/api/proposals/?state=pending").json()["count"] == 1
    # Only an editor accepts.
    assert curator.post(f"{proposal_url}accept/").status_code == 403
    accepted = editor.post(f"{proposal_url}accept/")
    assert accepted.status_code == 200 and accepted.json()["title"] == "Better title"
    assert accepted.json()["version"] == 2
    assert APIClient().get(path_of(event)).json()["title"] == "Better title"
    record = Event.history.filter(id=event.pk).first()
    assert record.history_user == editor.user
    assert editor.post(f"{proposal_url}accept/").status_code == 403  # decided already


def test_a_proposal_made_from_an_old_version_is_refused_and_a_rejection_has_a_reason():
    event = event_in("published")
    curator, editor = client_for("curator"), client_for("editor")
    url = curator.patch(path_of(event), {"title": "Old", "version": 1}, format="json")["Location"]
    assert (
        editor.patch(path_of(event), {"summary": "S", "version": 1}, format="json").status_code
        == 200
    )
    stale = editor.post(f"{url}accept/")
    assert stale.status_code == 409
    assert EventProposal.objects.get().state == "pending"
    no_reason = editor.post(f"{url}reject/", {"reason": " "}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    rejected = editor.post(f"{url}reject/", {"reason": "Overtaken by events."}, format="json")
    assert rejected.json()["state"] == "rejected"
    mine = curator.get(url).json()
    assert mine["reason"] == "Overtaken by events." and mine["state"] == "rejected"


def test_curators_may_not_delete_nor_anyone_change_children_by_the_back_door():
    """Writes that used to skip the rules: a link between two published events."""
    one, two = event_in("published"), event_in("published")
    EventLink.objects.create(from_event=one, to_event=two, kind="responds_to")
    response = client_for("curator").patch(path_of(one), {"links": [], "version": 1}, format="json")
    assert response.status_code == 202
    assert EventLink.objects.filter(from_event=one).exists()


# --- Concurrency: two writers from the same version, threads on real connections -----------


def race(requests):
    """Run the requests at once, each on its own thread and database connection."""
    barrier = threading.Barrier(len(requests))
    answers = [None] * len(requests)

    def run(index, request):
        from django.db import connections

        try:
            barrier.wait()
            answers[index] = request()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("resource", ["event", "actor", "source"])
def test_two_writers_from_the_same_version_one_wins_one_is_refused(resource):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers with a database lock; PostgreSQL runs them at once")
    if resource == "event":
        record, path = event_in("draft"), None
        path = path_of(record)
        field = "title"
    elif resource == "actor":
        record = make_actor()
        path, field = f"/api/actors/{record.slug}/", "name"
    else:
        record = make_source()
        path, field = f"/api/sources/{record.pk}/", "title"
    editors = [client_for("editor"), client_for("editor")]
    answers = race(
        [
            lambda c=client, n=n: c.patch(path, {field: f"Writer {n}", "version": 1}, format="json")
            for n, client in enumerate(editors)
        ]
    )
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200, 409]
    winner = next(n for n, answer in enumerate(answers) if answer.status_code == 200)
    model = {"event": Event, "actor": Actor, "source": Source}[resource]
    stored = model.objects.get(pk=record.pk)
    assert getattr(stored, field) == f"Writer {winner}" and stored.version == 2
    assert model.history.filter(**{model._meta.pk.attname: record.pk}).count() == 2


def test_review_state_stays_a_rule_of_the_write_path_not_the_serializer():
    """A curator cannot create a published event through the API either."""
    event = {
        "slug": "x-2018",
        "kind": "meeting",
        "title": "X",
        "start_date": "2018-03-01",
        "review_state": ReviewState.PUBLISHED,
    }
    assert client_for("curator").post("/api/events/", event, format="json").status_code == 403
    assert not Event.objects.filter(slug="x-2018").exists()
