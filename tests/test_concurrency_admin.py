"""No lost updates through the admin's doors (issue 11): two writers open the same version of
an event, a participant, a citation, a link, an actor or a source, and both save. Exactly one change
is stored (the version goes up by one, history gains one record), the other writer gets the
form back with the stale-copy message and their input, and nothing of theirs is written.

Each writer is a separate `Client` that GETs the change page first, so both post the hidden
`seen_version` the page carried. The ways of running the two saves:

- "one after the other": the second save after the first, on SQLite and PostgreSQL;
- "at once": threads on PostgreSQL, released together by a barrier right before they post;
- "both checked": threads on PostgreSQL, held at `writes.check_version` until both have
  passed the form's version check, so both writes really reach the database from the same
  version and only the row's own guard (`Versioned.save`) stands between them;
- "both checked, each holding its first row": as "both checked", then held again once each
  has written its first row (two doors that write the same rows in different orders).

SQLite serialises writers with a database lock, so the threaded races run on PostgreSQL only.
A curator racing an editor on a published event proposes (or is refused as stale) and never
changes it; the event form's inline and a participant's own page racing on one row must also
end with one change and one refusal.
"""

import re
import threading
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.db import connection, connections, models
from django.test import Client
from django.urls import reverse

from events import writes
from events.api.serializers import Conflict
from events.models import (
    Actor,
    Citation,
    ConcurrentEditError,
    Event,
    EventLink,
    EventProposal,
    LinkKind,
    Participation,
    ProposalState,
    Role,
    Source,
)
from tests.factories import make_actor, make_published_event, make_source
from tests.test_admin import make_user

pytestmark = pytest.mark.django_db

SEQUENTIAL, AT_ONCE, BOTH_CHECKED = "one after the other", "at once", "both checked"
CROSSED = "both checked, each holding its first row"


def on_postgresql():
    return connection.vendor == "postgresql"


# Threads need their own connections, so the test's writes are committed (not rolled back at
# its end). A condition in a string is evaluated when the test is set up, before its fixtures
# and once Django is configured.
THREADS = [
    pytest.mark.skipif(
        "not on_postgresql()",
        reason="SQLite serialises writers with a database lock; PostgreSQL runs them at once",
    ),
    pytest.mark.django_db(transaction=True),
]
MODES = [
    SEQUENTIAL,
    pytest.param(AT_ONCE, marks=THREADS),
    pytest.param(BOTH_CHECKED, marks=THREADS),
]
# Rounds per test, each from the version the previous one left: a free race may come out either
# way, so it runs most often; held at the write or one after the other, the interleaving is
# the same every time.
ROUNDS = {SEQUENTIAL: 2, AT_ONCE: 3, BOTH_CHECKED: 2, CROSSED: 2}
STALE = re.compile(
    r"was changed by \w+ since you opened it( \(changed: [^)]*\))?\. Nothing was saved"
)
TIMEOUT = 20  # seconds a thread waits at a barrier before the test fails instead of hanging
CROSSING_TIMEOUT = 1  # seconds a thread that wrote its first row waits for the other's


# --- Two writers ------------------------------------------------------------------------------


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def opened(client, url):
    """GET the change page; the POST body it would send unchanged (the main form, the inline
    formsets with their management forms), and the hidden version it carries."""
    page = client.get(url)
    assert page.status_code == 200
    body = {}
    forms = [page.context["adminform"].form]
    for inline in page.context.get("inline_admin_formsets") or []:
        forms += [inline.formset.management_form, *inline.formset.forms]
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            body[field.html_name] = "on" if value is True else value
    hidden = re.search(r'name="seen_version" value="(\d+)"', page.content.decode())
    assert hidden, "the change form carries the version it was opened at"
    assert body["seen_version"] == int(hidden[1])
    return body


class Held:
    """While in use, holds each thread at its first `writes.check_version` or
    `writes.lock_events` (inside the write, after the form's own version check) until every
    thread is there, and notes each
    `ConcurrentEditError` raised (the write's own refusal of a stale copy).

    With `crossed`, holds each thread again once its first row is written (after the check),
    for a short while: each then holds the lock on the row it wrote first, before either
    writes its second row.
    """

    def __init__(self, parties, crossed=False):
        self.barrier = threading.Barrier(parties)
        self.second = threading.Barrier(parties) if crossed else None
        self.local = threading.local()
        self.met, self.conflicts, self.first_rows = [], [], []

    @contextmanager
    def patched(self):
        check_version, conflict = writes.check_version, ConcurrentEditError.__init__
        lock_events = writes.lock_events
        save = models.Model.save

        def hold():
            if not getattr(self.local, "held", False):
                self.local.held = True
                self.barrier.wait(TIMEOUT)

        def held_lock_events(events):
            # A child's write locks its events before its version check: held before that.
            hold()
            return lock_events(events)

        def held_check_version(record, seen):
            hold()
            if not getattr(self.local, "noted", False):
                self.local.noted = True
                self.met.append(seen)
            return check_version(record, seen)

        def noted_conflict(error, record, stored_version):
            self.conflicts.append((record.version, stored_version))
            conflict(error, record, stored_version)

        def held_save(row, *args, **kwargs):
            first = getattr(self.local, "held", False) and not getattr(self.local, "saved", False)
            self.local.saved = getattr(self.local, "saved", False) or first
            result = save(row, *args, **kwargs)
            if first:
                self.first_rows.append(type(row).__name__)
                with suppress(threading.BrokenBarrierError):
                    # Not for long: a write that waits for the other's lock never gets here.
                    self.second.wait(CROSSING_TIMEOUT)
            return result

        with (
            mock.patch.object(writes, "check_version", held_check_version),
            mock.patch.object(writes, "lock_events", held_lock_events),
            mock.patch.object(ConcurrentEditError, "__init__", noted_conflict),
            mock.patch.object(models.Model, "save", held_save) if self.second else nullcontext(),
        ):
            yield self


@dataclass
class Race:
    answers: list  # the responses, in the order of the posts
    conflicts: list | None = None  # held at the write: (copy's version, stored) per refusal
    first_rows: list | None = None  # CROSSED: the row each thread wrote first, held


def race(posts, mode):
    """Run the posts (callables) as `mode` says."""
    if mode == SEQUENTIAL:
        return Race([post() for post in posts])
    held = Held(len(posts), crossed=mode == CROSSED)
    start = threading.Barrier(len(posts))
    answers, failures = [None] * len(posts), []

    def run(index, post):
        try:
            start.wait(TIMEOUT)  # both threads leave together, right before posting
            answers[index] = post()
        except BaseException as error:  # reported by the test, not lost in the thread
            failures.append(error)
        finally:
            connections.close_all()

    with held.patched() if mode != AT_ONCE else nullcontext():
        threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(posts)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT * 3)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    assert not failures, failures
    if mode == AT_ONCE:
        return Race(answers)
    # Both writes were under way from the same version before either was stored.
    assert len(held.met) == len(posts) and len(set(held.met)) == 1, held.met
    return Race(answers, held.conflicts, held.first_rows if mode == CROSSED else None)


def one_won(result, version):
    """Exactly one save succeeded (a redirect) and the other got the form back with the
    stale-copy message; the winner's index. Both writers opened `version`."""
    answers = result.answers
    codes = [answer.status_code for answer in answers]
    assert sorted(codes) == [200, 302], (
        [errors_of(answer) for answer in answers],
        f"rows written first, each thread holding its lock: {result.first_rows}",
    )
    winner = codes.index(302)
    loser = answers[1 - winner]
    content = loser.content.decode()
    assert STALE.search(content), errors_of(loser)
    assert "errornote" in content
    assert not loser.context["adminform"].form.is_valid()
    if result.conflicts is not None:
        # Both had passed the form's check: the loser's write itself found the row changed.
        assert result.conflicts == [(version, version + 1)]
    return winner


def errors_of(response):
    """What a response said, for a failing assertion: its status, the form's errors (the
    inline formsets' too) and its messages."""
    said = [response.status_code]
    context = getattr(response, "context", None)
    if context and "adminform" in context:
        said.append(context["adminform"].form.errors)
        for inline in context.get("inline_admin_formsets") or []:
            said.append(inline.formset.errors)
    if response.wsgi_request is not None:
        said.append([str(m) for m in get_messages(response.wsgi_request)])
    return said


def history_count(model, pk):
    return model.history.filter(**{model._meta.pk.attname: pk}).count()


@pytest.fixture
def editors():
    return make_user("edgar", "editors"), make_user("edith", "editors")


# --- The event form ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_two_editors_save_the_event_form_from_the_same_version(mode, editors):
    event = make_published_event(title="Original", target=make_actor())
    url = reverse("admin:events_event_change", args=[event.pk])
    clients = [signed_in(user) for user in editors]
    for round_ in range(ROUNDS[mode]):
        version = Event.objects.get(pk=event.pk).version
        records = history_count(Event, event.pk)
        bodies = [opened(client, url) for client in clients]
        assert [body["seen_version"] for body in bodies] == [version, version]
        titles = [f"Round {round_}: {user.username}'s title" for user in editors]

        result = race(
            [
                lambda c=client, b=body, t=title: c.post(url, b | {"title": t})
                for client, body, title in zip(clients, bodies, titles, strict=True)
            ],
            mode,
        )

        winner = one_won(result, version)
        stored = Event.objects.get(pk=event.pk)
        assert (stored.title, stored.version) == (titles[winner], version + 1)
        assert history_count(Event, event.pk) == records + 1
        latest = stored.history.first()
        assert (latest.title, latest.history_user) == (titles[winner], editors[winner])
        assert stored.participations.count() == 2 and stored.citations.count() == 1
        # The loser's input is still in the form, to enter again on the current version.
        loser = result.answers[1 - winner].content.decode()
        assert titles[1 - winner].replace("'", "&#x27;") in loser
    assert not EventProposal.objects.exists()


# --- A participant's, a citation's and a link's own pages ---------------------------------------


def participation_of(event):
    return event.participations.get(role=Role.INITIATOR)


def citation_of(event):
    return event.citations.get()


def link_of(event):
    other = make_published_event(title="The other event")
    return EventLink.objects.create(from_event=event, to_event=other, kind=LinkKind.RESPONDS_TO)


CHILDREN = [
    pytest.param(
        Participation,
        participation_of,
        "role",
        [Role.HOST, Role.SPEAKER, Role.GUEST],
        id="participation",
    ),
    pytest.param(Citation, citation_of, "locator", None, id="citation"),  # a locator per writer
    pytest.param(
        EventLink,
        link_of,
        "kind",
        [LinkKind.PART_OF, LinkKind.RETALIATES_FOR, LinkKind.FOLLOWS_UP],
        id="link",
    ),
]


@pytest.mark.parametrize("model, row_of, field, values", CHILDREN)
@pytest.mark.parametrize("mode", MODES)
def test_two_editors_save_a_childs_page_from_the_same_version(
    mode, model, row_of, field, values, editors
):
    """The page carries its event's version (a link's: its `from_event`'s); a change to the
    row is a change to its event(s): one new version and one history record each."""
    event = make_published_event(title="The event", target=make_actor())
    row = row_of(event)
    ids = [each.pk for each in writes.child_events(row)]  # a link's: both its events
    url = reverse(f"admin:events_{model._meta.model_name}_change", args=[row.pk])
    clients = [signed_in(user) for user in editors]
    for round_ in range(ROUNDS[mode]):
        versions = dict(Event.objects.filter(pk__in=ids).values_list("pk", "version"))
        event_records = {pk: history_count(Event, pk) for pk in ids}
        row_records = history_count(model, row.pk)
        bodies = [opened(client, url) for client in clients]
        version = versions[event.pk]
        assert [body["seen_version"] for body in bodies] == [version, version]
        current = getattr(model.objects.get(pk=row.pk), field)
        if values is None:
            wanted = [f"para. {round_}.{n}" for n in range(2)]
        else:
            wanted = [value for value in values if value != current][:2]

        result = race(
            [
                lambda c=client, b=body, v=value: c.post(url, b | {field: v})
                for client, body, value in zip(clients, bodies, wanted, strict=True)
            ],
            mode,
        )

        winner = one_won(result, version)
        assert getattr(model.objects.get(pk=row.pk), field) == wanted[winner]
        assert history_count(model, row.pk) == row_records + 1
        assert model.history.filter(id=row.pk).first().history_user == editors[winner]
        for stored in Event.objects.filter(pk__in=ids):
            assert stored.version == versions[stored.pk] + 1
            assert history_count(Event, stored.pk) == event_records[stored.pk] + 1
            assert stored.history.first().history_user == editors[winner]


# --- An actor's and a source's forms ----------------------------------------------------------


RECORDS = [
    pytest.param(Actor, lambda: make_actor(name="Taro Kono"), "actor", "name", id="actor"),
    pytest.param(Source, lambda: make_source(title="Japan Times"), "source", "title", id="source"),
]


@pytest.mark.parametrize("model, make, url_name, field", RECORDS)
@pytest.mark.parametrize("mode", MODES)
def test_two_editors_save_a_records_form_from_the_same_version(
    mode, model, make, url_name, field, editors
):
    record = make()
    url = reverse(f"admin:events_{url_name}_change", args=[record.pk])
    clients = [signed_in(user) for user in editors]
    for round_ in range(ROUNDS[mode]):
        version = model.objects.get(pk=record.pk).version
        records = history_count(model, record.pk)
        bodies = [opened(client, url) for client in clients]
        assert [body["seen_version"] for body in bodies] == [version, version]
        values = [f"Round {round_} by {user.username}" for user in editors]

        result = race(
            [
                lambda c=client, b=body, v=value: c.post(url, b | {field: v})
                for client, body, value in zip(clients, bodies, values, strict=True)
            ],
            mode,
        )

        winner = one_won(result, version)
        stored = model.objects.get(pk=record.pk)
        assert (getattr(stored, field), stored.version) == (values[winner], version + 1)
        assert history_count(model, record.pk) == records + 1
        assert stored.history.first().history_user == editors[winner]


# --- A curator and an editor on a published event's form ---------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_curator_and_an_editor_save_a_published_events_form_from_the_same_version(mode):
    """The editor's change is stored; the curator's becomes a proposal based on the version
    both opened (which an editor can then no longer accept unawares: it is stale) or is
    refused as a stale copy. Either way, nothing is lost and the event changes once."""
    curator, editor = make_user("carla", "curators"), make_user("edgar", "editors")
    event = make_published_event(title="Original", target=make_actor())
    url = reverse("admin:events_event_change", args=[event.pk])
    clients = {"curator": signed_in(curator), "editor": signed_in(editor)}
    outcomes = []
    for round_ in range(ROUNDS[mode]):
        version = Event.objects.get(pk=event.pk).version
        records = history_count(Event, event.pk)
        proposals = EventProposal.objects.count()
        bodies = {who: opened(client, url) for who, client in clients.items()}
        assert bodies["curator"]["seen_version"] == bodies["editor"]["seen_version"] == version
        titles = {who: f"Round {round_}: the {who}'s title" for who in clients}

        result = race(
            [
                lambda c=clients[who], b=bodies[who] | {"title": titles[who]}: c.post(url, b)
                for who in ("curator", "editor")
            ],
            mode,
        )

        curator_answer, editor_answer = result.answers
        # The editor may change a published event; the curator's save never changes it.
        assert editor_answer.status_code == 302, editor_answer.status_code
        stored = Event.objects.get(pk=event.pk)
        assert (stored.title, stored.version) == (titles["editor"], version + 1)
        assert history_count(Event, event.pk) == records + 1
        assert stored.history.first().history_user == editor
        if curator_answer.status_code == 302:
            # Saved as a proposal of a change to the version both opened.
            proposal = EventProposal.objects.latest("pk")
            assert EventProposal.objects.count() == proposals + 1
            assert curator_answer["Location"] == reverse(
                "admin:events_eventproposal_change", args=[proposal.pk]
            )
            assert (proposal.proposed_by, proposal.state) == (curator, ProposalState.PENDING)
            assert (proposal.based_on_version, proposal.document["title"]) == (
                version,
                titles["curator"],
            )
            # Accepting it now would overwrite the editor's change: refused as stale (the
            # API's 409).
            with pytest.raises(Conflict, match="changed by someone else"):
                writes.accept_proposal(editor, proposal)
            proposal.refresh_from_db()
            assert proposal.state == ProposalState.PENDING
            assert Event.objects.get(pk=event.pk).title == titles["editor"]
            outcomes.append("proposed")
        else:
            assert curator_answer.status_code == 200
            content = curator_answer.content.decode()
            assert STALE.search(content) and "was changed by edgar" in content
            assert EventProposal.objects.count() == proposals
            if result.conflicts is not None:
                # Both had passed the check: the curator's write found the row changed.
                assert result.conflicts == [(version, version + 1)]
            outcomes.append("refused")
    if mode == SEQUENTIAL:
        # The curator saves first: always a proposal, from the version then stored.
        assert outcomes == ["proposed"] * ROUNDS[mode]


# --- Two doors onto one row: the event form's inline and the participant's own page ------------


@pytest.mark.parametrize(
    "mode",
    [SEQUENTIAL, *(pytest.param(mode, marks=THREADS) for mode in (AT_ONCE, BOTH_CHECKED, CROSSED))],
)
def test_the_event_forms_inline_and_the_participants_page_from_the_same_version(mode, editors):
    """One editor changes the initiator's role in the event form's inline, the other on the
    participant's own page, both from the same version of the event: one change is stored,
    the other writer is refused with the stale-copy message (never a 500).

    Found with this test: the two doors took the row locks in opposite orders (the event form
    updates the event row, then the participation; the participant's page updated the
    participation, then the event), and PostgreSQL aborted one with a deadlock, a 500. Now
    every child write locks its events first (`writes.lock_events`).
    """
    event = make_published_event(title="The event", target=make_actor())
    row = participation_of(event)
    event_url = reverse("admin:events_event_change", args=[event.pk])
    row_url = reverse("admin:events_participation_change", args=[row.pk])
    clients = [signed_in(user) for user in editors]
    for client in clients:
        client.raise_request_exception = False  # a 500 is an answer to assert on
    for _ in range(ROUNDS[mode]):
        version = Event.objects.get(pk=event.pk).version
        records = history_count(Event, event.pk)
        current = Participation.objects.get(pk=row.pk).role
        roles = [role for role in (Role.HOST, Role.SPEAKER, Role.GUEST) if role != current][:2]
        form, page = opened(clients[0], event_url), opened(clients[1], row_url)
        assert form["seen_version"] == page["seen_version"] == version
        index = next(
            key.split("-")[1]
            for key, value in form.items()
            if key.startswith("participations-") and key.endswith("-id") and value == row.pk
        )
        form[f"participations-{index}-role"] = roles[0]
        page["role"] = roles[1]

        result = race(
            [
                lambda form=form: clients[0].post(event_url, form),
                lambda page=page: clients[1].post(row_url, page),
            ],
            mode,
        )

        winner = one_won(result, version)
        assert Participation.objects.get(pk=row.pk).role == roles[winner]
        stored = Event.objects.get(pk=event.pk)
        assert stored.version == version + 1
        assert history_count(Event, event.pk) == records + 1
        assert stored.history.first().history_user == editors[winner]
