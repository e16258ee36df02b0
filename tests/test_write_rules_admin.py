"""The write rules (issue 11) at every door of the admin: the event form, its inlines, the
participant, citation and link pages, the actions, the event's delete page and merge, for
anonymous users, curators and editors, on a draft and on a published event.

The outcomes are the rules, written out: anonymous never writes; curators change drafts and
propose changes to published events through the event form; only editors publish, unpublish,
delete, merge, or change a published event's participants, citations and links; a published
event keeps a participant and a citation; a change to a child row is a change to its event
(version raised, history names who). Then: no lost updates for events, actors, sources and
child rows, and no refusal is a 500.
"""

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from events.models import (
    Actor,
    Citation,
    Event,
    EventLink,
    EventProposal,
    LinkKind,
    Participation,
    ReviewState,
    Role,
    Source,
)
from tests.factories import make_actor, make_event, make_published_event, make_source
from tests.test_admin import form_data, make_user, messages_of

pytestmark = pytest.mark.django_db

DRAFT, PUBLISHED = ReviewState.DRAFT, ReviewState.PUBLISHED
EVENTS = "/admin/events/event/"
PARTICIPATIONS = "/admin/events/participation/"


def make_world(state):
    """An event in `state` with an initiator, a target, one citation and a link to another
    event in the same state; and a third event (a draft) to link to."""
    event = make_published_event(
        title="The event",
        initiator=make_actor(name="Ruritania"),
        target=make_actor(name="Freedonia"),
    )
    other = make_published_event(title="The other event")
    link = EventLink.objects.create(from_event=event, to_event=other, kind=LinkKind.RESPONDS_TO)
    if state == DRAFT:
        Event.objects.filter(pk__in=[event.pk, other.pk]).update(review_state=DRAFT)
    event.refresh_from_db()
    return SimpleNamespace(
        state=state,
        event=event,
        other=other,
        third=make_event(title="A third event"),
        link=link,
        initiator=event.participations.get(role=Role.INITIATOR),
        target=event.participations.get(role=Role.TARGET),
        citation=event.citations.get(),
    )


def rows(world, **changes):
    """The event form's inline rows as stored, with `changes` by inline."""
    participations = list(world.event.participations.values("id", "actor", "role", "position"))
    citations = list(world.event.citations.values("id", "source", "locator", "note"))
    links = list(world.event.outgoing_links.values("id", "kind", "to_event"))
    return {
        "participations": changes.get("participations", lambda r: r)(participations),
        "citations": changes.get("citations", lambda r: r)(citations),
        "links": changes.get("links", lambda r: r)(links),
    }


def with_role(role):
    def change(participations):
        return [p | {"role": role} if p["role"] == Role.INITIATOR else p for p in participations]

    return change


# --- The doors and their operations ----------------------------------------------------------


@dataclass
class Operation:
    name: str
    perform: object  # (client, world) -> response
    happened: object  # (world) -> whether the change is in the database
    keeps_event: bool = True  # False when the operation deletes or merges the event away
    action: str = ""  # an action of the events list: offered only to whoever may take it


def form_title(client, world):
    return client.post(
        change_url(world.event), form_data(world.event, **rows(world), title="A new title")
    )


def form_review_state(client, world):
    flipped = DRAFT if world.state == PUBLISHED else PUBLISHED
    return client.post(change_url(world.event), form_data(world.event, review_state=flipped))


def inline_role(client, world):
    return client.post(
        change_url(world.event),
        form_data(world.event, **rows(world, participations=with_role(Role.HOST))),
    )


def inline_remove_citation(client, world):
    def remove(citations):
        return [c | {"DELETE": "on"} for c in citations]

    return client.post(
        change_url(world.event), form_data(world.event, **rows(world, citations=remove))
    )


def inline_add_link(client, world):
    def add(links):
        return [*links, {"kind": LinkKind.FOLLOWS_UP, "to_event": world.third.pk}]

    return client.post(change_url(world.event), form_data(world.event, **rows(world, links=add)))


def participant_page_role(client, world):
    row = world.initiator
    return client.post(
        reverse("admin:events_participation_change", args=[row.pk]),
        {
            "event": row.event_id,
            "actor": row.actor_id,
            "role": Role.HOST,
            "position": row.position,
            "seen_version": world.event.version,
        },
    )


def participant_page_add(client, world):
    return client.post(
        reverse("admin:events_participation_add"),
        {
            "event": world.event.pk,
            "actor": make_actor(name="A guest").pk,
            "role": Role.GUEST,
            "position": 5,
        },
    )


def citation_page_delete(client, world):
    url = reverse("admin:events_citation_delete", args=[world.citation.pk])
    return client.post(url, {"post": "yes"})


def link_page_delete(client, world):
    url = reverse("admin:events_eventlink_delete", args=[world.link.pk])
    return client.post(url, {"post": "yes"})


def participant_list_delete(client, world):
    return client.post(
        PARTICIPATIONS,
        {"action": "delete_selected", "_selected_action": [world.target.pk], "post": "yes"},
    )


def participant_history_revert(client, world):
    # The initiator's role was changed behind the admin's back; revert to its first version.
    row = world.initiator
    first = row.history.earliest("history_date")
    row.role = Role.HOST
    row.save()
    url = reverse("admin:events_participation_simple_history", args=[row.pk, first.history_id])
    return client.post(
        url,
        {
            "event": row.event_id,
            "actor": row.actor_id,
            "role": Role.INITIATOR,
            "position": row.position,
            "seen_version": world.event.version,
        },
    )


def action_review_state(client, world):
    action = "unpublish_selected" if world.state == PUBLISHED else "publish_selected"
    return client.post(EVENTS, {"action": action, "_selected_action": [world.event.pk]})


def action_delete(client, world):
    return client.post(
        EVENTS, {"action": "delete_selected", "_selected_action": [world.event.pk], "post": "yes"}
    )


def event_delete_page(client, world):
    url = reverse("admin:events_event_delete", args=[world.event.pk])
    return client.post(url, {"post": "yes"})


def merge(client, world):
    return client.post(
        EVENTS,
        {
            "action": "merge_selected",
            "_selected_action": [world.event.pk, world.other.pk],
            "post": "yes",
            "keep": world.event.pk,
        },
    )


def stored(world):
    return Event.objects.filter(pk=world.event.pk).first()


OPERATIONS = [
    Operation(
        "event form: change the title", form_title, lambda w: stored(w).title == "A new title"
    ),
    Operation(
        "event form: publish or unpublish",
        form_review_state,
        lambda w: stored(w).review_state != w.state,
    ),
    Operation(
        "inline: change a participant's role",
        inline_role,
        lambda w: Participation.objects.filter(pk=w.initiator.pk, role=Role.HOST).exists(),
    ),
    Operation(
        "inline: remove the only citation",
        inline_remove_citation,
        lambda w: not Citation.objects.filter(pk=w.citation.pk).exists(),
    ),
    Operation(
        "inline: add a link",
        inline_add_link,
        lambda w: EventLink.objects.filter(from_event=w.event, to_event=w.third).exists(),
    ),
    Operation(
        "participant page: change the role",
        participant_page_role,
        lambda w: Participation.objects.filter(pk=w.initiator.pk, role=Role.HOST).exists(),
    ),
    Operation(
        "participant page: add a participant",
        participant_page_add,
        lambda w: w.event.participations.filter(role=Role.GUEST).exists(),
    ),
    Operation(
        "participant page: revert from history",
        participant_history_revert,
        lambda w: Participation.objects.filter(pk=w.initiator.pk, role=Role.INITIATOR).exists(),
    ),
    Operation(
        "participant list: delete selected",
        participant_list_delete,
        lambda w: not Participation.objects.filter(pk=w.target.pk).exists(),
    ),
    Operation(
        "citation page: delete the only citation",
        citation_page_delete,
        lambda w: not Citation.objects.filter(pk=w.citation.pk).exists(),
    ),
    Operation(
        "link page: delete the link between two events",
        link_page_delete,
        lambda w: not EventLink.objects.filter(pk=w.link.pk).exists(),
    ),
    Operation(
        "action: publish or unpublish",
        action_review_state,
        lambda w: stored(w).review_state != w.state,
        action="publish_selected",
    ),
    Operation(
        "action: delete selected events",
        action_delete,
        lambda w: stored(w) is None,
        keeps_event=False,
        action="delete_selected",
    ),
    Operation(
        "event page: delete", event_delete_page, lambda w: stored(w) is None, keeps_event=False
    ),
    Operation(
        "merge",
        merge,
        lambda w: not Event.objects.filter(pk=w.other.pk).exists(),
        action="merge_selected",
    ),
]

LOGIN = "sent to the login page"
CHANGED = "changed"
PROPOSED = "proposed"
REFUSED = "refused"
# The review state is not on a curator's form: a draft is saved without it, and a published
# event left otherwise unchanged is not proposed.
IGNORED = "saved without it"
NOT_OFFERED = "not offered"  # the action is not on the list; posting it anyway does nothing

# anonymous, curator on a draft, curator on a published event, editor on a draft, editor on
# a published event.
OUTCOMES = {
    "event form: change the title": (LOGIN, CHANGED, PROPOSED, CHANGED, CHANGED),
    "event form: publish or unpublish": (LOGIN, IGNORED, IGNORED, CHANGED, CHANGED),
    "inline: change a participant's role": (LOGIN, CHANGED, PROPOSED, CHANGED, CHANGED),
    "inline: remove the only citation": (LOGIN, CHANGED, REFUSED, CHANGED, REFUSED),
    "inline: add a link": (LOGIN, CHANGED, PROPOSED, CHANGED, CHANGED),
    "participant page: change the role": (LOGIN, CHANGED, REFUSED, CHANGED, CHANGED),
    "participant page: add a participant": (LOGIN, CHANGED, REFUSED, CHANGED, CHANGED),
    "participant page: revert from history": (LOGIN, CHANGED, REFUSED, CHANGED, CHANGED),
    "participant list: delete selected": (LOGIN, CHANGED, REFUSED, CHANGED, CHANGED),
    "citation page: delete the only citation": (LOGIN, CHANGED, REFUSED, CHANGED, REFUSED),
    "link page: delete the link between two events": (LOGIN, CHANGED, REFUSED, CHANGED, CHANGED),
    "action: publish or unpublish": (LOGIN, NOT_OFFERED, NOT_OFFERED, CHANGED, CHANGED),
    "action: delete selected events": (LOGIN, NOT_OFFERED, NOT_OFFERED, CHANGED, CHANGED),
    "event page: delete": (LOGIN, REFUSED, REFUSED, CHANGED, CHANGED),
    "merge": (LOGIN, NOT_OFFERED, NOT_OFFERED, CHANGED, CHANGED),
}
CASES = [
    ("anonymous", DRAFT, 0),
    ("curator", DRAFT, 1),
    ("curator", PUBLISHED, 2),
    ("editor", DRAFT, 3),
    ("editor", PUBLISHED, 4),
    ("anonymous", PUBLISHED, 0),
]


def change_url(event):
    return reverse("admin:events_event_change", args=[event.pk])


def refusal_shown(response):
    """A 403, a form with errors, or an error or warning message: never a 500, never silent."""
    if response.status_code == 403:
        return True
    levels = {message.level_tag for message in get_messages(response.wsgi_request)}
    if levels & {"error", "warning"}:
        return True
    content = response.content.decode() if response.status_code == 200 else ""
    return "errornote" in content or 'class="errorlist' in content


@pytest.mark.parametrize(
    "operation, role, state, outcome",
    [
        pytest.param(op, role, state, OUTCOMES[op.name][column], id=f"{op.name}-{role}-{state}")
        for op in OPERATIONS
        for role, state, column in CASES
    ],
)
def test_each_admin_door_obeys_the_write_rules(client, operation, role, state, outcome):
    world = make_world(state)
    user = None if role == "anonymous" else make_user(role, f"{role}s")
    if user is not None:
        client.force_login(user)
    version = world.event.version
    if outcome == CHANGED and operation.action:
        assert f'value="{operation.action}"' in client.get(EVENTS).content.decode()

    response = operation.perform(client, world)

    assert response.status_code < 500
    event = stored(world)
    if outcome == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
        assert not operation.happened(world)
        assert event.version == version
        return
    if outcome == CHANGED:
        assert operation.happened(world), messages_of(response)
        if operation.keeps_event:
            # A change to a participant, citation or link is a change to its event.
            assert event.version > version
            assert event.history.first().history_user == user
        else:
            deletion = Event.history.get(id=world.event.pk, history_type="-")
            assert deletion.history_user == user
        assert not EventProposal.objects.exists()
        return
    assert not operation.happened(world)
    if outcome == PROPOSED:
        assert response.status_code == 302
        assert "proposal for an editor to review" in " ".join(messages_of(response))
        proposal = EventProposal.objects.get()
        assert (proposal.event, proposal.proposed_by, proposal.state) == (
            world.event,
            user,
            "pending",
        )
        assert event.version == version  # the published event is as it was
    elif outcome == IGNORED:
        assert response.status_code == 302
        assert not EventProposal.objects.exists()
    elif outcome == NOT_OFFERED:
        assert f'value="{operation.action}"' not in client.get(EVENTS).content.decode()
        assert event.version == version
    else:
        assert refusal_shown(response), (response.status_code, messages_of(response))
        assert event.version == version
        assert not EventProposal.objects.exists()


# --- Refusals are explained ----------------------------------------------------------------


def test_a_curator_sees_a_published_events_participant_read_only(client):
    world = make_world(PUBLISHED)
    client.force_login(make_user("carla", "curators"))
    page = client.get(reverse("admin:events_participation_change", args=[world.initiator.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert 'name="role"' not in content and 'name="_save"' not in content
    delete = reverse("admin:events_participation_delete", args=[world.initiator.pk])
    assert client.get(delete).status_code == 403


def test_an_editor_cannot_delete_a_published_events_only_citation_and_is_told_why(client):
    world = make_world(PUBLISHED)
    client.force_login(make_user("edgar", "editors"))
    response = citation_page_delete(client, world)
    assert response.status_code == 302
    assert messages_of(response) == [
        "“The event” cannot be published: it cites no source. Nothing was deleted."
    ]
    assert Citation.objects.filter(pk=world.citation.pk).exists()


def test_a_curator_cannot_move_a_drafts_participant_to_a_published_event(client):
    draft = make_world(DRAFT)
    published = make_published_event(title="Published elsewhere")
    client.force_login(make_user("carla", "curators"))
    row = draft.initiator
    response = client.post(
        reverse("admin:events_participation_change", args=[row.pk]),
        {
            "event": published.pk,
            "actor": row.actor_id,
            "role": row.role,
            "position": 0,
            "seen_version": draft.event.version,
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert errors == [
        "“Published elsewhere” is published: only an editor may change it or its participants, "
        "citations and links (a curator proposes a change instead)."
    ]
    assert Participation.objects.get(pk=row.pk).event == draft.event


def test_a_curator_cannot_add_a_participant_to_a_published_event_on_its_page(client):
    world = make_world(PUBLISHED)
    client.force_login(make_user("carla", "curators"))
    response = participant_page_add(client, world)
    assert response.status_code == 200
    assert "only an editor may change it" in str(response.context["adminform"].form.errors)
    assert world.event.participations.count() == 2


def test_deleting_a_participant_on_its_page_is_recorded_on_the_event(client):
    world = make_world(DRAFT)
    curator = make_user("carla", "curators")
    client.force_login(curator)
    url = reverse("admin:events_participation_delete", args=[world.target.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    latest = stored(world).history.first()
    assert latest.history_user == curator
    assert latest.history_change_reason.startswith("Removed participation:")


def test_deleting_a_link_raises_both_events_versions(client):
    world = make_world(PUBLISHED)
    client.force_login(make_user("edgar", "editors"))
    before = (world.event.version, world.other.version)
    assert link_page_delete(client, world).status_code == 302
    world.other.refresh_from_db()
    assert (stored(world).version, world.other.version) == (before[0] + 1, before[1] + 1)


def test_a_staff_user_without_permissions_writes_nothing(client):
    world = make_world(DRAFT)
    client.force_login(make_user("sam"))
    for perform in (form_title, participant_page_role, citation_page_delete, action_delete):
        response = perform(client, world)
        assert response.status_code == 403 or refusal_shown(response)
    assert stored(world).version == world.event.version
    assert Citation.objects.filter(pk=world.citation.pk).exists()


def test_only_an_editor_deletes_or_merges_events_whatever_the_model_permissions(client):
    # The delete permission alone opened the delete page and the merge action; the rule is
    # writes.delete_event's and merge_events': editors only.
    from django.contrib.auth.models import Permission

    world = make_world(DRAFT)
    user = make_user("dora")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="events",
            codename__in=[
                "view_event",
                "change_event",
                "delete_event",
                "delete_participation",
                "delete_citation",
                "delete_eventlink",
            ],
        )
    )
    client.force_login(user)

    response = event_delete_page(client, world)
    assert messages_of(response)[-1] == "Only an editor may delete events. Nothing was deleted."
    response = action_delete(client, world)
    assert messages_of(response)[-1] == "Only an editor may delete events. Nothing was changed."
    response = merge(client, world)
    assert messages_of(response)[-1] == "Only an editor may merge events. Nothing was merged."
    assert Event.objects.filter(pk__in=[world.event.pk, world.other.pk]).count() == 2


# --- No lost updates: two editors open the same version, both save ----------------------------


@pytest.fixture
def editors():
    return make_user("edgar", "editors"), make_user("edith", "editors")


def test_two_editors_save_the_same_event_version_one_wins_the_other_is_told(client, editors):
    first, second = editors
    event = make_published_event(title="Original")
    opened = form_data(event)  # both opened version 1

    client.force_login(first)
    assert client.post(change_url(event), opened | {"title": "Edgar's title"}).status_code == 302
    client.force_login(second)
    response = client.post(change_url(event), opened | {"summary": "Edith's summary"})

    assert response.status_code == 200
    content = response.content.decode()
    assert "This event was changed by edgar since you opened it (changed: title)" in content
    assert "Edith&#x27;s summary</textarea>" in content  # her input is still in the form
    event.refresh_from_db()
    assert (event.title, event.summary, event.version) == ("Edgar's title", "", 2)


@pytest.mark.parametrize(
    "model, make, url_name, fields",
    [
        (
            Actor,
            lambda: make_actor(name="Taro Kono", slug="taro-kono", kind="person"),
            "actor",
            {"kind": "person", "name": "Taro Kono", "slug": "taro-kono", "country": ""},
        ),
        (
            Source,
            lambda: make_source(title="Japan Times", url="https://example.org/jt"),
            "source",
            {
                "url": "https://example.org/jt",
                "title": "Japan Times",
                "publisher": "Example News",
                "author": "",
                "kind": "news",
                "published_on": "2018-03-27",
                "language": "en",
            },
        ),
    ],
    ids=["actor", "source"],
)
def test_two_editors_save_the_same_record_version_one_wins_the_other_is_told(
    client, editors, model, make, url_name, fields
):
    first, second = editors
    record = make()
    url = reverse(f"admin:events_{url_name}_change", args=[record.pk])
    client.force_login(first)
    page = client.get(url)
    assert page.context["adminform"].form["seen_version"].value() == 1
    opened = fields | {"seen_version": 1}
    if model is Actor:
        opened |= {
            "offices-TOTAL_FORMS": 0,
            "offices-INITIAL_FORMS": 0,
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        }
    first_change = {"description": "Foreign Minister"} if model is Actor else {"author": "Edgar"}
    second_change = {"description": "Minister"} if model is Actor else {"title": "Edith's"}

    response = client.post(url, opened | first_change)
    assert response.status_code == 302, response.context["adminform"].form.errors
    client.force_login(second)
    response = client.post(url, opened | second_change)

    assert response.status_code == 200
    content = response.content.decode()
    noun = model._meta.verbose_name
    changed = "description" if model is Actor else "author"
    assert f"This {noun} was changed by edgar since you opened it (changed: {changed})" in content
    assert reverse(f"admin:events_{url_name}_history", args=[record.pk]) in content
    record.refresh_from_db()
    assert record.version == 2
    if model is Actor:
        assert record.description == "Foreign Minister"
    else:
        assert (record.author, record.title) == ("Edgar", "Japan Times")
    assert record.history.first().history_user == first


def test_a_record_saved_between_the_check_and_the_write_is_refused_not_a_500(
    client, editors, monkeypatch
):
    from events.admin import SeenVersionForm

    first, _ = editors
    source = make_source(title="Japan Times", url="https://example.org/jt")
    url = reverse("admin:events_source_change", args=[source.pk])
    Source.objects.filter(pk=source.pk).update(version=2)  # another editor's save, committed
    monkeypatch.setattr(SeenVersionForm, "_stored", lambda form: {"version": 1})
    client.force_login(first)
    response = client.post(
        url,
        {
            "url": source.url,
            "title": "Mine",
            "publisher": "Example News",
            "kind": "news",
            "published_on": "2018-03-27",
            "language": "en",
            "seen_version": 1,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert any("changed by someone else" in m for m in messages_of(response))
    source.refresh_from_db()
    assert (source.title, source.version) == ("Japan Times", 2)


def test_two_editors_change_the_same_participant_one_wins_the_other_is_told(client, editors):
    first, second = editors
    world = make_world(PUBLISHED)
    row = world.initiator
    url = reverse("admin:events_participation_change", args=[row.pk])
    client.force_login(first)
    seen = client.get(url).context["adminform"].form["seen_version"].value()
    body = {"event": row.event_id, "actor": row.actor_id, "position": 0, "seen_version": seen}

    assert client.post(url, body | {"role": Role.HOST}).status_code == 302
    client.force_login(second)
    response = client.post(url, body | {"role": Role.SPEAKER})

    assert response.status_code == 200
    assert "This event was changed by edgar since you opened it" in response.content.decode()
    assert Participation.objects.get(pk=row.pk).role == Role.HOST
    assert stored(world).version == world.event.version + 1
