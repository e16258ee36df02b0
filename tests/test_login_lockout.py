"""Login lockout (django-axes): after `AXES_FAILURE_LIMIT` wrong passwords an account is
refused from that address, even with the right password, on the admin's form and the API's
token login alike, until the cool-off passes or `axes_reset_username` lifts it."""

import base64
import datetime

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough password 7"


@pytest.fixture(autouse=True)
def editor(settings):
    # A fast hasher: each failure before the lock checks a password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return User.objects.create_user("editor", password=PASSWORD, is_staff=True)


def admin_login(password, username="editor", client=None, **headers):
    """One try at the admin's login form; the client, to see whether it is logged in."""
    client = client or Client(**headers)
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
    )
    return client, response


def fail(times, **headers):
    """Wrong passwords for the editor, from one client (a new one loads every middleware)."""
    client = Client(**headers)
    for _ in range(times):
        admin_login("wrong", client=client)


def logged_in(client):
    return client.get("/admin/").status_code == 200


def api_login(password, username="editor", **headers):
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return APIClient().post("/api/auth/login/", HTTP_AUTHORIZATION=f"Basic {pair}", **headers)


def test_200_wrong_passwords_lock_the_account_until_it_is_reset():
    fail(200)
    client, response = admin_login(PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)

    call_command("axes_reset_username", "editor")
    client, response = admin_login(PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert logged_in(client)


def test_the_limit_is_five_and_the_fifth_failure_already_shows_the_lock():
    client = Client()
    for _ in range(4):
        _, response = admin_login("wrong", client=client)
        assert response.status_code == 200  # the form again, with its error
    _, response = admin_login("wrong", client=client)
    assert response.status_code == 429


def test_the_lockout_page_says_why_and_when_to_come_back():
    fail(5)
    _, response = admin_login(PASSWORD)
    page = response.content.decode()
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Login locked" in page
    assert "5 failed logins from your address" in page
    assert "for 15 minutes" in page
    # the strict Content-Security-Policy allows no inline script or style
    assert "<script" not in page and "<style" not in page and "style=" not in page


def test_the_lock_holds_for_one_account_from_one_address():
    User.objects.create_user("curator", password=PASSWORD, is_staff=True)
    fail(5, REMOTE_ADDR="203.0.113.7")
    _, response = admin_login(PASSWORD, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 429
    # the same account from elsewhere, and another account from there, still log in
    client, _ = admin_login(PASSWORD, REMOTE_ADDR="198.51.100.2")
    assert logged_in(client)
    client, _ = admin_login(PASSWORD, username="curator", REMOTE_ADDR="203.0.113.7")
    assert logged_in(client)


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy():
    client = Client()
    for number in range(5):
        client.post(
            "/admin/login/",
            {"username": "editor", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{number}",
        )
    _, response = admin_login(PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_behind_one_trusted_proxy_the_address_is_the_one_it_saw(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    fail(5, HTTP_X_FORWARDED_FOR="10.9.9.9, 192.0.2.1")
    _, response = admin_login(PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9, 192.0.2.1")
    assert response.status_code == 429
    client, _ = admin_login(PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.2")
    assert logged_in(client)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.1"}


def test_the_lock_ends_after_the_cool_off():
    fail(5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=16))
    client, _ = admin_login(PASSWORD)
    assert logged_in(client)


def test_wrong_passwords_at_the_token_login_lock_the_admin_too():
    for _ in range(3):
        assert api_login("wrong").status_code == 401
    fail(2)
    _, response = admin_login(PASSWORD)
    assert response.status_code == 429


def test_a_locked_token_login_is_429_with_a_message():
    fail(4)
    assert api_login("wrong").status_code == 429
    response = api_login(PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert response.json() == {
        "detail": "Too many failed logins for this account from this address: try again in "
        "15 minutes (an administrator can lift the lock)."
    }
    call_command("axes_reset_ip", "127.0.0.1")
    assert api_login(PASSWORD).status_code == 200
