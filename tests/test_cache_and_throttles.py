"""The shared cache and the throttles that count in it: Redis or local memory by `REDIS_URL`;
anonymous API requests, CSV exports and HTML pages each at their own rate, 429 with
`Retry-After`; counts shared between processes through Redis; the client's address taken from
`X-Forwarded-For` only as far as `DJANGO_TRUSTED_PROXIES` says proxies set it."""

import os
import runpy
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache

from diplomacy.cache import RedisCache

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="needs Redis: set REDIS_URL (the PostgreSQL pass of .ci/run does)",
)


@pytest.fixture(autouse=True)
def empty_cache():
    """Every test starts and ends with no throttle counts, so none leaks into another."""
    cache.clear()
    yield
    cache.clear()


def forged_address():
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def cache_settings(monkeypatch, redis_url):
    if redis_url is None:
        monkeypatch.delenv("REDIS_URL", raising=False)
    else:
        monkeypatch.setenv("REDIS_URL", redis_url)
    return runpy.run_path(str(ROOT / "diplomacy" / "settings.py"))["CACHES"]["default"]


# --- The cache ---------------------------------------------------------------------------


def test_redis_url_makes_the_default_cache_redis(monkeypatch):
    default = cache_settings(monkeypatch, "redis://127.0.0.1:6379/3")
    assert default["BACKEND"] == "diplomacy.cache.RedisCache"
    assert default["LOCATION"] == "redis://127.0.0.1:6379/3"
    assert default["KEY_PREFIX"] == "diplomacy"


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")
def test_the_redis_cache_keeps_one_client_per_pool():
    """Django's RedisCache builds a client per operation; ours keeps one, and it works."""
    from django.core.cache import caches
    from django.core.cache.backends import redis

    assert isinstance(caches["default"], RedisCache)
    assert issubclass(RedisCache, redis.RedisCache)
    cache.set("one-client", 1)
    assert cache.get("one-client") == 1
    assert cache.incr("one-client") == 2
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client
    cache.delete("one-client")


def test_without_redis_url_the_default_cache_is_local_memory(monkeypatch):
    default = cache_settings(monkeypatch, None)
    assert default["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


# --- The API -----------------------------------------------------------------------------

# Requests to the API root from a fresh Python process, printed as status codes. The process
# has no test database (a SQLite file that does not exist): the root and the throttle need none.
REQUESTS_FROM_ANOTHER_PROCESS = """
import sys

import django

django.setup()
from django.test import Client

client = Client(HTTP_HOST="localhost")
print(" ".join(str(client.get("/api/").status_code) for _ in range(int(sys.argv[1]))))
"""


def statuses_from_another_process(count, tmp_path):
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "diplomacy.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'none.sqlite3'}",
        "API_ANON_THROTTLE": "5/minute",
    }
    result = subprocess.run(
        [sys.executable, "-c", REQUESTS_FROM_ANOTHER_PROCESS, str(count)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


@needs_redis
def test_the_api_throttle_counts_across_processes(tmp_path):
    """Two worker processes, one client address, a limit of 5 a minute: the sixth request
    is refused, whichever process it reaches."""
    assert statuses_from_another_process(3, tmp_path) == ["200", "200", "200"]
    assert statuses_from_another_process(3, tmp_path) == ["200", "200", "429"]


@pytest.mark.parametrize("path", ["/api/countries/", "/"])
def test_a_forged_forwarded_for_is_ignored_without_proxies(client, settings, path):
    settings.API_ANON_THROTTLE = settings.PAGES_ANON_THROTTLE = "2/minute"
    statuses = [
        client.get(path, HTTP_X_FORWARDED_FOR=forged_address()).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize("path", ["/api/countries/", "/"])
def test_with_one_proxy_the_address_it_appended_is_the_client(client, settings, path):
    settings.API_ANON_THROTTLE = settings.PAGES_ANON_THROTTLE = "2/minute"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def get(client_address):
        # What the client sent (anything), then what the proxy appended.
        forwarded = f"{forged_address()}, {client_address}"
        return client.get(path, HTTP_X_FORWARDED_FOR=forwarded).status_code

    assert [get("203.0.113.7") for _ in range(3)] == [200, 200, 429]
    assert get("203.0.113.8") == 200


def test_the_anonymous_api_throttle_answers_429_with_retry_after(client, settings):
    settings.API_ANON_THROTTLE = "1/minute"
    assert client.get("/api/countries/").status_code == 200
    throttled = client.get("/api/countries/")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0


# --- CSV exports -------------------------------------------------------------------------


def test_csv_exports_are_throttled_at_their_own_rate(client, settings):
    settings.API_ANON_THROTTLE = "5/minute"
    settings.CSV_ANON_THROTTLE = "2/minute"
    assert client.get("/api/events/?format=csv").status_code == 200
    assert client.get("/api/aggregates/events/?format=csv&group_by=year").status_code == 200
    throttled = client.get("/api/events/?format=csv")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    # The JSON API has its own count, which the exports did not use up.
    assert client.get("/api/events/").status_code == 200


def test_csv_exports_do_not_use_up_the_api_rate(client, settings):
    settings.API_ANON_THROTTLE = "1/minute"
    settings.CSV_ANON_THROTTLE = "5/minute"
    assert client.get("/api/events/").status_code == 200
    assert client.get("/api/events/").status_code == 429
    assert client.get("/api/events/?format=csv").status_code == 200


# --- HTML pages --------------------------------------------------------------------------


def test_anonymous_pages_are_throttled_with_a_429_page_and_retry_after(client, settings):
    settings.PAGES_ANON_THROTTLE = "2/minute"
    assert client.get("/").status_code == 200
    assert client.get("/events/").status_code == 200
    throttled = client.get("/")
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert b"Too many requests" in throttled.content


def test_the_page_rate_leaves_the_api_and_the_admin_alone(client, settings):
    settings.PAGES_ANON_THROTTLE = "1/minute"
    assert client.get("/").status_code == 200
    assert client.get("/").status_code == 429
    assert client.get("/api/countries/").status_code == 200
    assert client.get("/admin/login/").status_code == 200


def test_signed_in_staff_are_not_throttled(client, settings, django_user_model):
    settings.PAGES_ANON_THROTTLE = settings.API_ANON_THROTTLE = "1/minute"
    settings.CSV_ANON_THROTTLE = "1/minute"
    staff = django_user_model.objects.create_user("curator", is_staff=True)
    client.force_login(staff)
    for path in ["/", "/api/countries/", "/api/events/?format=csv"]:
        assert [client.get(path).status_code for _ in range(3)] == [200, 200, 200], path
