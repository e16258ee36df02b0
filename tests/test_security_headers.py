"""The security headers: a strict Content-Security-Policy on every kind of response (pages,
errors, admin, API, Swagger UI), Permissions-Policy and Referrer-Policy, no inline script or
style in our templates, X-Forwarded-Proto believed only behind a named proxy, and HSTS
preload only on the owner's word."""

import os
import re
import runpy
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory, override_settings
from django.urls import path

from events.models import Event
from tests.articles import load_articles

ROOT = settings.BASE_DIR

EXPECTED_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
DENIED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb")

COORDINATED = "2018-03-26-coordinated-expulsion-of-russian-diplomats"


def policy_of(response):
    """The Content-Security-Policy header as {directive: [sources]}."""
    policy = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        policy[name] = sources
    return policy


def assert_secure_headers(response):
    policy = policy_of(response)
    assert policy == EXPECTED_POLICY, response.request["PATH_INFO"]
    header = response["Content-Security-Policy"]
    assert "unsafe-inline" not in header and "unsafe-eval" not in header
    features = dict(
        item.strip().split("=", 1) for item in response["Permissions-Policy"].split(",")
    )
    for feature in DENIED_FEATURES:
        assert features[feature] == "()", feature
    assert response["Referrer-Policy"] == "same-origin"


# --- Every kind of response carries the headers -------------------------------------------


@pytest.fixture
def articles(db):
    load_articles()


PUBLIC_PAGES = [
    "/",
    "/events/",
    "/events/?kind=expulsion&q=russia",
    f"/events/{COORDINATED}/",
    "/countries/GB/",
    "/actors/yoshihide-suga/",
    "/dyads/JP/RU/",
    "/api/events/",
    f"/api/events/{COORDINATED}/",
    "/api/events/?format=csv",
    "/api/schema/",
    "/api/docs/",
    "/api/docs/?script=",
    "/admin/login/",
]


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_every_public_response_has_the_policy(client, articles, url):
    response = client.get(url)
    assert response.status_code == 200, url
    assert_secure_headers(response)


def test_a_source_page_has_the_policy(client, articles):
    source = Event.objects.get(slug=COORDINATED).citations.first().source
    response = client.get(f"/sources/{source.pk}/")
    assert response.status_code == 200
    assert_secure_headers(response)


def test_not_found_pages_have_the_policy(client, articles):
    for url in ("/events/no-such-event/", "/no/such/page/", "/api/events/no-such-event/"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert_secure_headers(response)


def test_the_throttled_page_has_the_policy(client, articles, settings):
    from django.core.cache import cache

    cache.clear()
    settings.PAGES_ANON_THROTTLE = "1/minute"
    assert client.get("/").status_code == 200
    throttled = client.get("/events/")
    assert throttled.status_code == 429
    assert_secure_headers(throttled)
    cache.clear()


def broken_view(request):
    raise RuntimeError("a bug")


urlpatterns = [path("broken/", broken_view)]


@override_settings(ROOT_URLCONF=__name__)
def test_the_server_error_page_has_the_policy(client, db):
    client.raise_request_exception = False
    response = client.get("/broken/")
    assert response.status_code == 500
    assert b"<script" not in response.content.lower()
    assert_secure_headers(response)


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", password="pw")
    client.force_login(user)
    return client


def test_admin_pages_have_the_policy(admin_client, articles):
    event = Event.objects.get(slug=COORDINATED)
    for url in (
        "/admin/",
        "/admin/events/event/",
        "/admin/events/event/add/",
        f"/admin/events/event/{event.pk}/change/",
        f"/admin/events/event/{event.pk}/history/",
        "/admin/events/event/import/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_secure_headers(response)


def inline_code(html):
    """What in a page would need 'unsafe-inline': scripts with a body, event-handler and
    style attributes, <style> elements."""
    found = [
        body
        for body in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S | re.I)
        if body.strip()
    ]
    found += re.findall(r"<style\b", html, re.I)
    found += re.findall(r"\s(?:on[a-z]+|style)\s*=", html, re.I)
    return found


def test_rendered_pages_have_no_inline_code(admin_client, articles):
    """What the browser test checks by running the pages, checked here on their HTML: ours,
    Django's admin (the change form with its inlines and widgets) and Swagger UI's page."""
    event = Event.objects.get(slug=COORDINATED)
    for url in (
        "/",
        "/events/",
        f"/events/{COORDINATED}/",
        "/countries/GB/",
        "/actors/yoshihide-suga/",
        "/dyads/JP/RU/",
        "/admin/events/event/",
        "/admin/events/event/add/",
        f"/admin/events/event/{event.pk}/change/",
        "/api/docs/",
    ):
        html = admin_client.get(url).content.decode()
        assert inline_code(html) == [], url


def test_swagger_ui_loads_its_start_up_script_as_a_file(client, articles):
    html = client.get("/api/docs/").content.decode()
    assert '<script src="/api/docs/?script="></script>' in html
    assert "/static/css/swagger-ui-page.css" in html
    script = client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content
    assert b'url: "/api/schema/"' in script.content


# --- The templates themselves -----------------------------------------------------------


TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))


def test_the_templates_are_found():
    assert len(TEMPLATES) > 20


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_inline_script_or_style(template):
    text = template.read_text()
    # Template comments say what a template does, inline code included; they never render.
    text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", text, flags=re.S)
    text = re.sub(r"{#.*?#}", "", text, flags=re.S)
    # A JSON data block (type="application/json") runs nothing; any other <script> needs a src.
    assert not re.search(
        r'<script\b(?![^>]*\b(?:src=|type="application/json"))[^>]*>', text, re.I
    ), "an inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", text, re.I), "an inline event handler"
    assert not re.search(r"<style\b", text, re.I), "a <style> element"
    assert not re.search(r"\sstyle\s*=", text, re.I), "a style attribute"


# --- Proxy trust and HSTS, as the settings module reads the environment -------------------


def settings_from(monkeypatch, **env):
    for name in ("DJANGO_TRUSTED_PROXIES", "DJANGO_HSTS_PRELOAD", "DJANGO_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "diplomacy" / "settings.py"))


def test_without_proxies_forwarded_headers_are_not_believed(monkeypatch):
    module = settings_from(monkeypatch)
    assert module["TRUSTED_PROXIES"] == 0
    assert "SECURE_PROXY_SSL_HEADER" not in module
    assert module["REST_FRAMEWORK"]["NUM_PROXIES"] == 0


def test_one_setting_names_the_proxies_for_both_headers(monkeypatch):
    module = settings_from(monkeypatch, DJANGO_TRUSTED_PROXIES="1")
    assert module["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert module["REST_FRAMEWORK"]["NUM_PROXIES"] == 1


def test_a_forged_forwarded_proto_is_not_secure_without_a_proxy():
    request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https")
    assert settings.SECURE_PROXY_SSL_HEADER is None
    assert not request.is_secure()


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_behind_a_proxy_its_forwarded_proto_is_believed():
    assert RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https").is_secure()
    assert not RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="http").is_secure()


@override_settings(SECURE_SSL_REDIRECT=True)
def test_the_https_redirect_is_not_fooled_by_a_forged_header(client, articles):
    response = client.get("/events/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/events/"


@override_settings(
    SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
)
def test_the_https_redirect_trusts_the_named_proxy(client, articles):
    assert client.get("/events/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert client.get("/events/", HTTP_X_FORWARDED_PROTO="http").status_code == 301


def test_hsts_preload_is_off_unless_asked_for(monkeypatch):
    module = settings_from(monkeypatch)
    assert module["SECURE_HSTS_PRELOAD"] is False
    assert module["SECURE_HSTS_SECONDS"] == 31536000
    assert "security.W021" in module["SILENCED_SYSTEM_CHECKS"]
    module = settings_from(monkeypatch, DJANGO_HSTS_PRELOAD="1")
    assert module["SECURE_HSTS_PRELOAD"] is True
    assert "security.W021" not in module["SILENCED_SYSTEM_CHECKS"]


def hsts_header():
    # A new client: SecurityMiddleware reads its settings once, when the client builds it. A
    # query of its own: no response stored by another test.
    response = Client().get(f"/?hsts={settings.SECURE_HSTS_PRELOAD}", secure=True)
    return response["Strict-Transport-Security"]


@override_settings(SECURE_SSL_REDIRECT=False)
def test_the_hsts_header_has_preload_only_with_the_opt_in(articles, settings):
    assert hsts_header() == "max-age=31536000; includeSubDomains"
    settings.SECURE_HSTS_PRELOAD = True
    assert hsts_header() == "max-age=31536000; includeSubDomains; preload"


def check_deploy(**env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(
        DJANGO_DEBUG="0",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECRET_KEY="a-long-random-production-like-secret-key-0123456789-abcdefghijkl",
        DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
        **env,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "env",
    [{}, {"DJANGO_HSTS_PRELOAD": "1"}, {"DJANGO_TRUSTED_PROXIES": "1"}],
    ids=["make serve", "preload", "behind a proxy"],
)
def test_check_deploy_passes_with_make_serves_environment(env):
    result = check_deploy(**env)
    assert result.returncode == 0, result.stdout + result.stderr
