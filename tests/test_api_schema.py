"""The OpenAPI schema is valid, the docs are served without a CDN, and schemathesis, run over
every operation (anonymously, and as an editor for the writes), finds no server error and no
response that breaks the schema."""

import pytest
import schemathesis
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, settings
from knox.models import AuthToken
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from events.groups import EDITORS
from tests.articles import load_articles

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def articles(django_db_setup, django_db_blocker):
    """The article fixtures, loaded once for the module; each test runs in a savepoint."""
    with django_db_blocker.unblock(), transaction.atomic():
        load_articles()
        yield
        transaction.set_rollback(True)


@pytest.fixture
def wsgi_app(articles, db, settings):
    """Django as a WSGI app inside the test's transaction (as Django's test client does it:
    closing old connections at each request would end the transaction)."""
    settings.API_ANON_THROTTLE = "1000000/hour"
    cache.clear()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(wsgi_app):
    return schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)


def test_the_schema_validates(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )


def test_the_schema_documents_filters_and_errors(db):
    document = APIClient().get("/api/schema/?format=json").json()
    events = document["paths"]["/api/events/"]["get"]
    parameters = {p["name"]: p["schema"] for p in events["parameters"]}
    assert parameters["date_after"] == {"type": "string", "format": "date"}
    assert parameters["ordering"]["enum"] == ["-date", "date", "title"]
    assert parameters["page_size"]["maximum"] == 500
    assert {"kind", "status", "country", "initiator", "target", "actor", "source"} <= set(
        parameters
    )
    assert {"linked_to", "q", "cursor", "format"} <= set(parameters)
    assert {"200", "400", "401", "429"} <= set(events["responses"])
    assert "404" in document["paths"]["/api/events/{slug}/"]["get"]["responses"]
    patch = document["paths"]["/api/events/{slug}/"]["patch"]["responses"]
    assert {"400", "401", "403", "404", "409", "412", "429"} <= set(patch)


def test_the_docs_are_served_from_our_own_static_files(db):
    page = APIClient().get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page


def conform(api_schema, methods, headers=None, paths=lambda path: True):
    """Run schemathesis over every operation with one of `methods` on one of `paths`; return
    those run.

    Each operation is a Hypothesis test of its own (schemathesis' pytest plugin does not yet
    run under this pytest, so the strategies are driven directly)."""
    run = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() not in methods or not paths(operation.path):
            continue

        @given(case=operation.as_strategy())
        @EXAMPLES
        def check(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
        run.append(f"{operation.method.upper()} {operation.path}")
    return run


def test_anonymous_requests_conform(api_schema):
    run = conform(api_schema, {"GET", "POST", "PUT", "PATCH"})
    # every operation in the schema (proposals: list, detail, accept, reject; aggregates; dyads;
    # the token login, list, logout and logoutall)
    assert len(run) == 27


def test_an_editors_writes_conform(api_schema):
    user = User.objects.create_user("fuzzing-editor")
    user.groups.add(Group.objects.get(name=EDITORS))
    _, token = AuthToken.objects.create(user)
    # Not the token operations: a logout would revoke the token the others use.
    run = conform(
        api_schema,
        {"POST", "PUT", "PATCH"},
        {"Authorization": f"Token {token}"},
        paths=lambda path: not path.startswith("/api/auth/"),
    )
    # POST, PUT and PATCH on events, actors and sources; accept and reject a proposal
    assert len(run) == 11


def test_the_token_operations_conform(api_schema):
    """Listing, revoking and logging out with a token; once it is revoked, 401s that conform."""
    _, token = AuthToken.objects.create(User.objects.create_user("fuzzing-curator"))
    run = conform(
        api_schema,
        {"GET", "POST", "DELETE"},
        {"Authorization": f"Token {token}"},
        paths=lambda path: path.startswith("/api/auth/"),
    )
    assert sorted(run) == [
        "DELETE /api/auth/tokens/{prefix}/",
        "GET /api/auth/tokens/",
        "POST /api/auth/login/",
        "POST /api/auth/logout/",
        "POST /api/auth/logoutall/",
    ]
