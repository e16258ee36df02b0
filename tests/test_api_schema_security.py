"""The OpenAPI schema says which operations anonymous users may call (issue 15): an empty
security requirement, `{}`, among an operation's `security` makes authentication optional,
and Swagger UI then stops marking public reads as needing a token or cookie."""

import pytest
from rest_framework.test import APIClient

PUBLIC_READS = [
    ("get", "/api/events/"),
    ("get", "/api/events/{slug}/"),
    ("get", "/api/actors/"),
    ("get", "/api/actors/{slug}/"),
    ("get", "/api/sources/"),
    ("get", "/api/sources/{id}/"),
    ("get", "/api/countries/"),
    ("get", "/api/countries/{code}/"),
    ("get", "/api/aggregates/events/"),
    ("get", "/api/dyads/{a}/{b}/"),
]
NEEDS_A_LOGIN = [
    ("post", "/api/events/"),
    ("put", "/api/events/{slug}/"),
    ("patch", "/api/events/{slug}/"),
    ("post", "/api/actors/"),
    ("post", "/api/sources/"),
    ("get", "/api/proposals/"),
    ("post", "/api/proposals/{id}/accept/"),
    ("get", "/api/auth/tokens/"),
    ("post", "/api/auth/login/"),
]


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/?format=json").json()


@pytest.mark.parametrize(("method", "path"), PUBLIC_READS)
def test_public_reads_need_no_authentication(schema, method, path):
    security = schema["paths"][path][method]["security"]
    assert {} in security
    # A token or the session still works: they stay listed beside the empty requirement.
    assert {"tokenAuth": []} in security


@pytest.mark.parametrize(("method", "path"), NEEDS_A_LOGIN)
def test_writes_and_private_reads_need_authentication(schema, method, path):
    security = schema["paths"][path][method]["security"]
    assert security and {} not in security
