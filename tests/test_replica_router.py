"""Read replicas: reads go to a replica, writes and the reads right after them to the primary.

The replica here is a second alias to the same database, as the issue asks; the test commits
its data (transactional) so that the second connection sees it.
"""

import contextvars

import pytest
from django.db import connections
from django.http import HttpResponse
from django.test import RequestFactory

from diplomacy.routers import PIN_COOKIE, PinPrimaryAfterWriteMiddleware, PrimaryReplicaRouter
from events.models import Country


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


def test_a_write_pins_the_rest_of_the_request_to_the_primary(replica):
    router = PrimaryReplicaRouter()

    def write_then_read():
        assert router.db_for_read(Country) == "replica_test"
        assert router.db_for_write(Country) == "default"
        return router.db_for_read(Country)

    assert fresh(write_then_read) == "default"


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
