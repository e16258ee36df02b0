"""A real primary and hot standby (tests/pgpair.py): where reads and writes go, replica lag,
and what a client sees while either server is down and after it comes back.

The pair is a PostgreSQL server of its own, not pytest-django's test database: `default` and
`replica1` point at it for this module. Each statement's server is read off its connection
(the port), and the standby's `pg_is_in_recovery()` shows which one that is. Requests run as
under gunicorn: Django's `close_old_connections` at each request's start and end (the test
client turns it off for test transactions, which this module does not use).
"""

import contextlib
import contextvars
import time

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections
from django.test import Client, override_settings
from rest_framework.test import APIClient

from diplomacy import routers
from diplomacy.routers import PIN_COOKIE, PrimaryReplicaRouter
from events.groups import CURATORS, EDITORS
from events.models import Event
from tests.factories import make_actor, make_country, make_published_event, make_source
from tests.pgpair import BINDIR, REPLICA_ALIAS, PostgresPair, django_on, missing_tools
from tests.test_admin import form_data
from tests.test_api_writes import NEWS, new_event

pytestmark = pytest.mark.postgres_only

SLUG = "2018-03-19-abe-putin-phone-call"
TITLE = "Shinzo Abe and Vladimir Putin speak by phone"


def make_data():
    """What the tests read and write: one published event, and what the API's new events name."""
    make_country("JP", "JPN", "Japan")
    abe = make_actor("Shinzo Abe", slug="shinzo-abe")
    putin = make_actor("Vladimir Putin", slug="vladimir-putin")
    make_published_event(
        initiator=abe, target=putin, source=make_source(url=NEWS), slug=SLUG, title=TITLE
    )
    for name, group in (("edna", EDITORS), ("carl", CURATORS)):
        user = User.objects.create_user(name, password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=group))


def new_call(**fields):
    """The API's body for a new event, linking none (the fixtures' linked event is not here)."""
    return new_event(links=[], **fields)


@pytest.fixture(scope="module")
def pair(django_db_blocker):
    """The pair, with the schema and the article fixtures, shared by the module's tests."""
    missing = missing_tools()
    if missing:
        pytest.fail(f"PostgreSQL's tools are missing from {BINDIR}: {', '.join(missing)}")
    pair = PostgresPair()
    try:
        pair.start()
        with (
            django_db_blocker.unblock(),
            django_on(pair),
            override_settings(DATABASE_REPLICAS=[REPLICA_ALIAS], DATABASE_RETRY_SECONDS=1),
        ):
            call_command("migrate", verbosity=0)
            make_data()
            yield pair
    finally:
        pair.remove()


@pytest.fixture(autouse=True)
def both_up_and_in_step(pair):
    """Each test starts and ends with both servers up, replay running and caught up, and no
    server remembered as down."""
    routers._down_until.clear()
    yield
    for server in (pair.primary, pair.replica):
        if not server.running():
            server.start()
    pair.resume_replay()
    pair.wait_for_replay()
    routers._down_until.clear()


@pytest.fixture(autouse=True)
def requests_as_in_production():
    def close_old(**kwargs):
        close_old_connections()

    request_started.connect(close_old)
    request_finished.connect(close_old)
    yield
    request_started.disconnect(close_old)
    request_finished.disconnect(close_old)


def editor(pair):
    client = Client()
    client.force_login(User.objects.get(username="edna"))
    pair.wait_for_replay()
    return client


def curator_api():
    client = APIClient()
    client.force_authenticate(User.objects.get(username="carl"))
    return client


@contextlib.contextmanager
def ports_used():
    """Records (server port, SQL) of each statement that Django ran on either alias and that
    the server answered, and ("failed", SQL) of each that failed."""
    used = []

    def record(execute, sql, params, many, context):
        try:
            result = execute(sql, params, many, context)
        except Exception:
            used.append(("failed", sql))
            raise
        used.append((context["connection"].connection.info.port, sql))
        return result

    with contextlib.ExitStack() as stack:
        for alias in ("default", REPLICA_ALIAS):
            stack.enter_context(connections[alias].execute_wrapper(record))
        yield used


def ports_reading(used, table):
    """The servers that answered reads of `table`."""
    return {
        port
        for port, sql in used
        if port != "failed" and sql.startswith("SELECT") and f'"{table}"' in sql
    }


def ports_writing(used, table):
    """The servers that answered writes to `table`."""
    return {
        port
        for port, sql in used
        if port != "failed" and sql.startswith(("INSERT", "UPDATE")) and f'"{table}"' in sql
    }


def after_the_retry_window():
    time.sleep(routers.settings.DATABASE_RETRY_SECONDS + 0.1)


def test_reads_go_to_the_standby_and_writes_to_the_primary(pair):
    router = PrimaryReplicaRouter()
    alias = contextvars.Context().run(router.db_for_read, Event)
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
        assert cursor.fetchone() == (True, pair.replica.port)

    with ports_used() as used:
        response = Client().get("/events/")
    assert response.status_code == 200
    assert TITLE in response.text
    assert ports_reading(used, "events_event") == {pair.replica.port}

    with ports_used() as used:
        response = curator_api().post("/api/events/", new_call(), format="json")
    assert response.status_code == 201, response.json()
    assert ports_writing(used, "events_event") == {pair.primary.port}
    assert pair.primary.query("SELECT pg_is_in_recovery()") == [(False,)]


def test_a_save_shows_on_the_editors_next_page_while_the_standby_lags(pair):
    client = editor(pair)
    event = Event.objects.get(slug=SLUG)
    pair.pause_replay()

    response = client.post(
        f"/admin/events/event/{event.pk}/change/", form_data(event, title="Renamed while lagging")
    )
    assert response.status_code == 302
    assert response.cookies[PIN_COOKIE]["max-age"] == 10
    # The editor's next page reads the primary (the cookie pins it) and shows the save ...
    with ports_used() as used:
        page = client.get(f"/events/{SLUG}/")
    assert "Renamed while lagging" in page.text
    assert ports_reading(used, "events_event") == {pair.primary.port}
    # ... while a visitor reads the standby, which has not replayed it yet: replica lag.
    with ports_used() as used:
        stale = Client().get(f"/events/{SLUG}/")
    assert TITLE in stale.text and "Renamed while lagging" not in stale.text
    assert ports_reading(used, "events_event") == {pair.replica.port}

    pair.resume_replay()
    pair.wait_for_replay()
    assert "Renamed while lagging" in Client().get(f"/events/{SLUG}/").text


def test_with_the_standby_down_reads_go_to_the_primary_then_back(pair):
    title = Event.objects.get(slug=SLUG).title
    Client().get("/events/")  # a connection to the standby is open, as in a running worker
    pair.replica.stop()

    started = time.monotonic()
    with ports_used() as used:
        page = Client().get("/events/")
        api = Client().get("/api/events/")
    assert (page.status_code, api.status_code) == (200, 200)
    assert title in page.text and api.json()["results"]
    assert ports_reading(used, "events_event") == {pair.primary.port}
    # The router found the standby gone before sending it anything (its health check).
    assert not [sql for port, sql in used if port == "failed"]
    # No waiting on the stopped server: its refused connection is remembered, not retried.
    assert time.monotonic() - started < 5

    pair.replica.start()
    after_the_retry_window()
    with ports_used() as used:
        assert Client().get("/events/").status_code == 200
    assert ports_reading(used, "events_event") == {pair.replica.port}


def test_a_read_under_way_when_the_standby_stops_is_answered_from_the_primary(pair):
    stopped = []

    def stop_the_standby_first(execute, sql, params, many, context):
        if not stopped:
            stopped.append(sql)
            pair.replica.stop("immediate")
        return execute(sql, params, many, context)

    title = Event.objects.get(slug=SLUG).title
    Client().get("/events/")
    with (
        connections[REPLICA_ALIAS].execute_wrapper(stop_the_standby_first),
        ports_used() as used,
    ):
        page = Client().get("/events/")
    assert stopped, "the request did not read the standby"
    assert page.status_code == 200
    assert title in page.text
    # One statement failed on the standby; the view ran again on the primary.
    assert [port for port, sql in used if port == "failed"] == ["failed"]
    assert ports_reading(used, "events_event") == {pair.primary.port}


def test_with_the_primary_down_reads_work_and_writes_answer_503_then_recover(pair):
    client = editor(pair)
    event = Event.objects.get(slug=SLUG)
    title = event.title
    change = f"/admin/events/event/{event.pk}/change/"
    body = form_data(event, title="Saved after the outage")
    pinned = Client()
    pinned.cookies[PIN_COOKIE] = "1"
    pair.primary.stop()

    # Reading: the public pages and the API from the standby, a pinned client too.
    for reader, path in ((Client(), "/events/"), (pinned, f"/events/{SLUG}/")):
        response = reader.get(path)
        assert response.status_code == 200, path
        assert title in response.text
    assert Client().get("/api/events/").status_code == 200

    # Writing: a page (admin) or JSON (API) that says so, with Retry-After, never a 500.
    refused = client.post(change, body)
    assert refused.status_code == 503
    assert refused["Retry-After"] == "1"
    assert "read-only for now" in refused.text
    assert refused.templates[0].name == "read_only.html"
    started = time.monotonic()
    api = curator_api().post("/api/events/", new_call(), format="json")
    assert time.monotonic() - started < 1.5  # known down: no new attempt to connect
    assert api.status_code == 503
    assert api["Retry-After"] == "1"
    assert api.json()["read_only"] is True
    assert "read-only for now" in api.json()["detail"]

    # Back: the next writes after the retry window go through, without restarting Django.
    pair.primary.start()
    after_the_retry_window()
    saved = client.post(change, body)
    assert saved.status_code == 302
    created = curator_api().post("/api/events/", new_call(slug="after-the-outage"), format="json")
    assert created.status_code == 201, created.json()
    assert "Saved after the outage" in client.get(f"/events/{SLUG}/").text
