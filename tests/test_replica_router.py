"""Read replicas: reads go to a replica, writes and the reads right after them to the primary.

The replica here is a second alias to the same database, as the issue asks; the test commits
its data (transactional) so that the second connection sees it. A replica that refuses
connections is a PostgreSQL alias on a port where nothing listens. tests/test_real_replica.py
runs all this against a real primary and standby.
"""

import contextvars

import pytest
from django.db import connections
from django.http import HttpResponse
from django.test import RequestFactory

from diplomacy import routers
from diplomacy.routers import PIN_COOKIE, PinPrimaryAfterWriteMiddleware, PrimaryReplicaRouter
from events.models import Country
from tests.pgpair import free_port

DEAD = "replica_dead"


@pytest.fixture(autouse=True)
def no_server_down():
    routers._down_until.clear()
    yield
    routers._down_until.clear()


@pytest.fixture
def replica(settings):
    """`replica_test` (tests/conftest.py): a second connection to the test database."""
    settings.DATABASE_REPLICAS = ["replica_test"]
    return "replica_test"


def fresh(function, *args):
    """Run in a new context, as a new request would."""
    return contextvars.Context().run(function, *args)


@pytest.mark.django_db(transaction=True, databases=["default", "replica_test"])
def test_reads_go_to_the_replica_and_see_the_primarys_data(replica):
    Country.objects.create(code="ZZ", code3="ZZZ", name="Testland")
    router = PrimaryReplicaRouter()
    assert fresh(router.db_for_read, Country) == "replica_test"

    def read():
        queryset = Country.objects.filter(code="ZZ")
        return queryset.db, list(queryset.values_list("name", flat=True))

    assert fresh(read) == ("replica_test", ["Testland"])
    assert connections["replica_test"] is not connections["default"]
    assert (
        connections["replica_test"].settings_dict["NAME"]
        == (connections["default"].settings_dict["NAME"])
    )


@pytest.mark.django_db(databases=["default", "replica_test"])
def test_a_write_pins_the_rest_of_the_request_to_the_primary(replica):
    router = PrimaryReplicaRouter()

    def write_then_read():
        assert router.db_for_read(Country) == "replica_test"
        assert router.db_for_write(Country) == "default"
        return router.db_for_read(Country)

    assert fresh(write_then_read) == "default"


@pytest.mark.django_db(databases=["default", "replica_test"])
def test_the_middleware_pins_the_next_requests_after_a_write(replica):
    router = PrimaryReplicaRouter()
    seen = []

    def view(request):
        if request.method == "POST":
            router.db_for_write(Country)
        seen.append(router.db_for_read(Country))
        return HttpResponse()

    middleware = PinPrimaryAfterWriteMiddleware(view)
    factory = RequestFactory()
    fresh(middleware, factory.get("/events/"))
    response = fresh(middleware, factory.post("/admin/events/event/1/change/"))
    assert response.cookies[PIN_COOKIE]["max-age"] == 10
    after = factory.get("/events/")
    after.COOKIES[PIN_COOKIE] = "1"
    fresh(middleware, after)
    assert seen == ["replica_test", "default", "default"]


def test_only_the_primary_is_migrated():
    router = PrimaryReplicaRouter()
    assert router.allow_migrate("default", "events")
    assert not router.allow_migrate("replica_test", "events")


@pytest.fixture
def dead_replica(django_db_blocker):
    """A replica alias whose server refuses connections (nothing listens on its port).

    Outside a database test: Django's test case refuses connections to aliases it was not
    told about, and this one has no test database to be told about.
    """
    connections.settings[DEAD] = {
        **connections.settings["default"],
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "nowhere",
        "USER": "nobody",
        "PASSWORD": "",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "OPTIONS": {"connect_timeout": 2},
    }
    with django_db_blocker.unblock():
        yield DEAD
    connections[DEAD].close()
    del connections[DEAD]
    del connections.settings[DEAD]


def test_a_replica_that_refuses_connections_is_skipped_and_tried_again_later(
    dead_replica, settings
):
    router = PrimaryReplicaRouter()
    settings.DATABASE_REPLICAS = [dead_replica]
    assert fresh(router.db_for_read, Country) == "default"
    assert routers.is_down(dead_replica)

    # Remembered as down: not tried again within DATABASE_RETRY_SECONDS.
    first_mark = routers._down_until[dead_replica]
    assert fresh(router.db_for_read, Country) == "default"
    assert routers._down_until[dead_replica] == first_mark

    # Then tried again (and marked down again: still dead).
    routers._down_until[dead_replica] = 0
    assert fresh(router.db_for_read, Country) == "default"
    assert routers._down_until[dead_replica] > first_mark


@pytest.mark.django_db
def test_writes_answer_503_read_only_while_the_primary_is_known_down(client, settings):
    settings.DATABASE_RETRY_SECONDS = 30
    routers.mark_down("default")

    api = client.post("/api/events/", {}, content_type="application/json")
    assert api.status_code == 503
    assert api["Retry-After"] == "30"
    assert api.json() == {
        "detail": "The site is read-only for now: the main database is not answering, so "
        "changes cannot be saved. Reading still works. Please try again in 30 seconds.",
        "read_only": True,
    }
    page = client.post("/admin/login/", {"username": "someone", "password": "x"})
    assert page.status_code == 503
    assert page["Retry-After"] == "30"
    assert "<h1>The site is read-only for now</h1>" in page.text
    # Reads go on (here the primary is up after all; with replicas they would read those).
    assert client.get("/events/").status_code == 200
