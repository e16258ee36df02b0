"""Proposed changes in the admin: a curator's save of a published event becomes a proposal; an
editor sees what it would change, field by field, and accepts it (through the ordinary write
path, version check included) or rejects it with a reason the curator then reads."""

import datetime

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from events import writes
from events.models import (
    Citation,
    Event,
    EventLink,
    EventProposal,
    LinkKind,
    ProposalState,
    ReviewState,
    Role,
)
from tests.factories import make_actor, make_event, make_published_event, make_source
from tests.test_admin import form_data, make_user, messages_of

pytestmark = pytest.mark.django_db

PROPOSALS = "/admin/events/eventproposal/"


@pytest.fixture
def curator():
    return make_user("carla", "curators")


@pytest.fixture
def editor():
    return make_user("edgar", "editors")


@pytest.fixture
def event():
    """A published event with an initiator, a citation and a link to another event."""
    event = make_published_event(
        title="Old title",
        slug="old-title",
        initiator=make_actor(name="Ruritania"),
        source=make_source(title="The Gazette"),
    )
    EventLink.objects.create(
        from_event=event,
        to_event=make_published_event(title="An earlier meeting"),
        kind=LinkKind.FOLLOWS_UP,
    )
    return event


def change_url(event):
    return reverse("admin:events_event_change", args=[event.pk])


def proposal_url(proposal):
    return reverse("admin:events_eventproposal_change", args=[proposal.pk])


def stored_rows(event):
    return {
        "participations": list(event.participations.values("id", "actor", "role", "position")),
        "citations": list(event.citations.values("id", "source", "locator", "note")),
        "links": list(event.outgoing_links.values("id", "kind", "to_event")),
    }


def propose(client, curator, event, **fields):
    """The curator's save of the published event's form with `fields` changed."""
    client.force_login(curator)
    rows = stored_rows(event)
    for name in ("participations", "citations", "links"):
        rows[name] = fields.pop(name, lambda stored: stored)(rows[name])
    return client.post(change_url(event), form_data(event, **rows, **fields))


def public_title(client, event):
    client.logout()
    return client.get(f"/api/events/{event.slug}/").json()["title"]


def test_a_curator_proposes_an_editor_sees_the_difference_and_accepts_it(
    client, curator, editor, event
):
    guest, answer = make_actor(name="Freedonia"), make_event(title="A later answer")
    client.force_login(curator)
    form = client.get(change_url(event)).content.decode()
    assert "saving sends your change to an editor as a proposal" in form

    response = propose(
        client,
        curator,
        event,
        title="New title",
        participations=lambda rows: [
            *rows,
            {"actor": guest.pk, "role": Role.GUEST, "position": 1},
        ],
        citations=lambda rows: [row | {"note": "Says so in para. 1."} for row in rows],
        links=lambda rows: [*rows, {"kind": LinkKind.RESPONDS_TO, "to_event": answer.pk}],
    )

    proposal = EventProposal.objects.get()
    assert response.status_code == 302 and response["Location"] == proposal_url(proposal)
    [message] = messages_of(response)
    assert message.startswith(
        "Your change was saved as a proposal for an editor to review: "
        f"<a href='{proposal_url(proposal)}'>"
    )
    # Nothing changed: the public still sees the old event.
    event.refresh_from_db()
    assert (event.title, event.version, event.participations.count()) == ("Old title", 1, 1)
    assert public_title(client, event) == "Old title"
    assert (proposal.proposed_by, proposal.based_on_version, proposal.state) == (
        curator,
        1,
        ProposalState.PENDING,
    )

    # The editor is told on the event's page, finds it in the queue, and sees the difference.
    client.force_login(editor)
    page = client.get(change_url(event)).content.decode()
    waiting = f"{PROPOSALS}?event__id__exact={event.pk}"
    assert f'<a href="{waiting}">1 proposal waits for this event: review it</a>' in page
    assert list(client.get(waiting).context["cl"].result_list) == [proposal]
    review = client.get(proposal_url(proposal))
    assert review.status_code == 200
    difference = {
        row["field"]: (row["now"], row["proposed"]) for row in review.context["difference"]
    }
    assert difference == {
        "title": ([("Old title", True)], [("New title", True)]),
        "participants": (
            [("Ruritania (Initiator)", False)],
            [("Ruritania (Initiator)", False), ("Freedonia (Guest)", True)],
        ),
        "citations": (
            [("The Gazette, para. 1", True)],
            [("The Gazette, para. 1: “Says so in para. 1.”", True)],
        ),
        "links": (
            [("Follows up “An earlier meeting”", False)],
            [("Follows up “An earlier meeting”", False), ("Responds to “A later answer”", True)],
        ),
    }
    html = review.content.decode()
    assert 'name="_accept"' in html and 'name="_reject"' in html
    assert "<ins>Freedonia (Guest)</ins>" in html

    response = client.post(proposal_url(proposal), {"_accept": "Accept"})

    assert response.status_code == 302 and response["Location"] == PROPOSALS
    assert messages_of(response)[0].startswith("Accepted: <a href=")
    event.refresh_from_db()
    assert (event.title, event.version, event.review_state) == ("New title", 2, "published")
    assert list(event.participations.values_list("actor__name", "role")) == [
        ("Ruritania", "initiator"),
        ("Freedonia", "guest"),
    ]
    assert event.citations.get().note == "Says so in para. 1."
    assert event.outgoing_links.filter(to_event=answer).exists()
    latest = event.history.first()
    assert latest.history_user == editor
    assert latest.history_change_reason == f"Accepted proposal {proposal.pk} by carla"
    proposal.refresh_from_db()
    assert (proposal.state, proposal.decided_by) == (ProposalState.ACCEPTED, editor)
    assert public_title(client, event) == "New title"


def test_a_rejected_proposal_shows_the_curator_the_reason(client, curator, editor, event):
    propose(client, curator, event, title="New title")
    proposal = EventProposal.objects.get()
    client.force_login(editor)

    response = client.post(proposal_url(proposal), {"_reject": "Reject", "reason": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["Say why the proposal is rejected."]}
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PENDING

    reason = "The source says the old title."
    response = client.post(proposal_url(proposal), {"_reject": "Reject", "reason": reason})
    assert response.status_code == 302
    assert messages_of(response) == ["Rejected; carla sees your reason with the proposal."]

    client.force_login(curator)
    mine = client.get(PROPOSALS, {"state": "rejected"})
    assert list(mine.context["cl"].result_list) == [proposal]
    page = client.get(proposal_url(proposal))
    html = page.content.decode()
    assert '<strong id="proposal-state">Rejected</strong>' in html
    assert reason in html
    assert 'name="_accept"' not in html
    event.refresh_from_db()
    assert (event.title, event.version) == ("Old title", 1)


def test_a_proposal_on_an_old_version_is_refused_and_stays_waiting(client, curator, editor, event):
    propose(client, curator, event, title="Curator's title")
    proposal = EventProposal.objects.get()
    client.force_login(editor)
    saved = client.post(change_url(event), form_data(event, **stored_rows(event), summary="New."))
    assert saved.status_code == 302

    page = client.get(proposal_url(proposal))
    assert "accepting it would undo that change" in page.content.decode()
    response = client.post(proposal_url(proposal), {"_accept": "Accept"})

    assert response.status_code == 302 and response["Location"] == proposal_url(proposal)
    assert messages_of(response) == [
        "Not accepted: this proposal was made on version 1 of the event, which has changed "
        "since (it is at version 2 now), and accepting it would undo that change. Nothing was "
        "written and the proposal still waits: reject it, saying why, so that the curator can "
        "propose the change again on the current version."
    ]
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PENDING
    event.refresh_from_db()
    assert (event.title, event.summary, event.version) == ("Old title", "New.", 2)


def test_a_curator_sees_only_their_own_proposals_and_cannot_decide(client, curator, event):
    other = make_user("cora", "curators")
    propose(client, other, event, title="Cora's title")
    propose(client, curator, event, title="Carla's title")
    theirs, mine = EventProposal.objects.order_by("id")

    listing = client.get(PROPOSALS)
    assert list(listing.context["cl"].result_list) == [mine]
    assert client.get(proposal_url(theirs)).status_code == 404
    page = client.get(proposal_url(mine)).content.decode()
    assert 'name="_accept"' not in page and 'name="_reject"' not in page
    # The event's page counts only the curator's own.
    assert (
        "1 of your proposals for this event waits" in client.get(change_url(event)).content.decode()
    )

    response = client.post(proposal_url(mine), {"_accept": "Accept"})
    assert messages_of(response) == ["Only an editor may accept proposals."]
    mine.refresh_from_db()
    assert mine.state == ProposalState.PENDING
    event.refresh_from_db()
    assert event.title == "Old title"


def test_the_queue_shows_waiting_proposals_unless_asked_for_others(client, editor, event):
    def make(state, **fields):
        return EventProposal.objects.create(
            event=event,
            proposed_by=make_user(f"curator-{state}", "curators"),
            based_on_version=1,
            document={"title": state},
            state=state,
            **fields,
        )

    waiting, accepted = make("pending"), make("accepted")
    rejected = make("rejected", reason="No source.")
    client.force_login(editor)
    assert list(client.get(PROPOSALS).context["cl"].result_list) == [waiting]
    assert list(client.get(PROPOSALS, {"state": "accepted"}).context["cl"].result_list) == [
        accepted
    ]
    everything = client.get(PROPOSALS, {"state": "all"}).context["cl"].result_list
    assert set(everything) == {waiting, accepted, rejected}
    assert client.get(reverse("admin:events_eventproposal_add")).status_code == 403


def test_an_invalid_change_to_a_published_event_shows_its_errors_and_proposes_nothing(
    client, curator, event
):
    response = propose(client, curator, event, title="New title", end_date="2018-03-01")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["end_date"] == [
        "An event cannot end before it starts."
    ]
    assert "New title" in response.content.decode()  # the input is kept
    assert not EventProposal.objects.exists()


def test_a_stale_copy_of_a_published_event_is_refused_not_proposed(client, curator, editor, event):
    opened = form_data(event, **stored_rows(event))  # the curator opened version 1
    Event.objects.filter(pk=event.pk).update(summary="Changed.")
    changed = Event.objects.get(pk=event.pk)
    changed._history_user = editor
    changed.save()
    client.force_login(curator)

    response = client.post(change_url(event), opened | {"title": "New title"})

    assert response.status_code == 200
    assert "This event was changed by edgar since you opened it" in response.content.decode()
    assert not EventProposal.objects.exists()


def test_saving_a_published_event_unchanged_proposes_nothing(client, curator, event):
    response = propose(client, curator, event)
    assert response.status_code == 302 and response["Location"] == change_url(event)
    assert messages_of(response) == ["You changed nothing, so nothing was proposed."]
    assert not EventProposal.objects.exists()


def test_removing_a_published_events_last_citation_is_not_proposed(client, curator, event):
    response = propose(
        client, curator, event, citations=lambda rows: [r | {"DELETE": "on"} for r in rows]
    )
    assert response.status_code == 200
    assert "A published event needs at least one citation" in response.content.decode()
    assert not EventProposal.objects.exists()
    assert Citation.objects.filter(event=event).count() == 1


def test_an_editor_sees_how_many_proposals_wait_for_an_event(client, curator, editor, event):
    for title in ("One", "Two"):
        propose(client, curator, event, title=title)
    client.force_login(editor)
    page = client.get(change_url(event)).content.decode()
    assert "2 proposals wait for this event: review them" in page
    other = make_published_event(start_date=datetime.date(2019, 1, 1))
    assert "wait for this event" not in client.get(change_url(other)).content.decode()


def test_proposals_are_for_signed_in_curators_and_editors(client, curator, event):
    propose(client, curator, event, title="New title")
    proposal = EventProposal.objects.get()
    client.logout()
    assert client.get(PROPOSALS)["Location"].startswith("/admin/login/")
    client.force_login(User.objects.create_user("sam", password="pw", is_staff=True))
    assert client.get(PROPOSALS).status_code == 403
    assert client.get(proposal_url(proposal)).status_code in (403, 404)


def test_the_write_path_is_what_the_admin_calls(curator, editor, event):
    # The admin keeps no rule of its own: the same refusal from writes, called directly.
    with pytest.raises(writes.WriteRefused):
        writes.save_event(curator, event, seen_version=event.version)
    assert writes.may_propose(curator, event) and not writes.may_propose(editor, event)
    assert event.review_state == ReviewState.PUBLISHED
