"""API tokens: made by a password or a session login, shown once, stored as a digest, refused
once expired or revoked, listed and revoked only by their owner; `create_token` makes one."""

import base64
import datetime

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough password 7"


def basic(username, password=PASSWORD):
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {pair}"}


def with_token(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice():
    return User.objects.create_user("alice", password=PASSWORD)


def log_in(username="alice"):
    response = APIClient().post("/api/auth/login/", **basic(username))
    assert response.status_code == 200, response.content
    return response.json()


def test_a_password_login_gives_a_token_once_with_its_expiry(alice):
    body = log_in()
    assert set(body) == {"token", "prefix", "expiry"}
    assert len(body["token"]) == 64 and body["token"].startswith(body["prefix"])
    expiry = datetime.datetime.fromisoformat(body["expiry"])
    assert abs(expiry - (timezone.now() + datetime.timedelta(days=30))) < datetime.timedelta(
        minutes=1
    )
    listing = with_token(body["token"]).get("/api/auth/tokens/")
    assert listing.status_code == 200
    assert listing.json() == [
        {
            "prefix": body["prefix"],
            "created": listing.json()[0]["created"],
            "expiry": body["expiry"],
        }
    ]
    assert body["token"] not in listing.content.decode()


def test_the_lifetime_comes_from_the_settings(alice, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": datetime.timedelta(days=2)}
    expiry = datetime.datetime.fromisoformat(log_in()["expiry"])
    assert expiry.date() == (timezone.now() + datetime.timedelta(days=2)).date()


def test_a_wrong_password_or_no_credentials_get_no_token(alice):
    wrong = APIClient().post("/api/auth/login/", **basic("alice", "wrong"))
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Invalid username/password."}
    assert wrong["WWW-Authenticate"] == 'Basic realm="api"'
    assert APIClient().post("/api/auth/login/").status_code == 401
    assert not AuthToken.objects.exists()


def test_an_admin_session_gets_a_token(alice):
    client = APIClient()
    client.force_login(alice)
    response = client.post("/api/auth/login/")
    assert response.status_code == 200
    assert with_token(response.json()["token"]).get("/api/auth/tokens/").status_code == 200


def test_a_token_cannot_make_another_token(alice):
    """Else a token could renew itself for ever and never expire."""
    response = with_token(log_in()["token"]).post("/api/auth/login/")
    assert response.status_code == 401
    assert AuthToken.objects.count() == 1


def test_the_database_holds_a_digest_not_the_token(alice):
    token = log_in()["token"]
    stored = AuthToken.objects.get()
    assert stored.digest != token and len(stored.digest) == 128
    assert stored.token_key == token[:15]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        rows = cursor.fetchall()
    assert rows and not any(token in str(value) for row in rows for value in row)


def test_an_expired_token_is_refused(alice):
    token = log_in()["token"]
    AuthToken.objects.update(expiry=timezone.now() - datetime.timedelta(seconds=1))
    response = with_token(token).get("/api/auth/tokens/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert response["WWW-Authenticate"] == "Token"
    # knox deletes it on sight
    assert not AuthToken.objects.exists()


def test_a_revoked_token_stops_working(alice):
    kept, revoked = log_in(), log_in()
    client = with_token(kept["token"])
    assert client.delete(f"/api/auth/tokens/{revoked['prefix']}/").status_code == 204
    assert with_token(revoked["token"]).get("/api/auth/tokens/").status_code == 401
    assert [t["prefix"] for t in client.get("/api/auth/tokens/").json()] == [kept["prefix"]]
    missing = client.delete(f"/api/auth/tokens/{revoked['prefix']}/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "You have no token with that prefix."}


def test_logout_revokes_the_token_in_use_and_logoutall_every_one(alice):
    first, second, third = log_in(), log_in(), log_in()
    assert with_token(first["token"]).post("/api/auth/logout/").status_code == 204
    assert with_token(first["token"]).get("/api/auth/tokens/").status_code == 401
    assert with_token(second["token"]).get("/api/auth/tokens/").status_code == 200
    assert with_token(second["token"]).post("/api/auth/logoutall/").status_code == 204
    for body in (second, third):
        assert with_token(body["token"]).get("/api/auth/tokens/").status_code == 401
    assert not AuthToken.objects.exists()


def test_nobody_lists_or_revokes_another_users_tokens(alice):
    User.objects.create_user("bob", password=PASSWORD)
    alices = log_in("alice")
    bob = with_token(log_in("bob")["token"])
    assert alices["prefix"] not in bob.get("/api/auth/tokens/").content.decode()
    assert bob.delete(f"/api/auth/tokens/{alices['prefix']}/").status_code == 404
    assert with_token(alices["token"]).get("/api/auth/tokens/").status_code == 200


def test_the_token_endpoints_need_a_login():
    client = APIClient()
    assert client.get("/api/auth/tokens/").status_code == 401
    assert client.delete("/api/auth/tokens/abc/").status_code == 401
    assert client.post("/api/auth/logout/").status_code == 401
    assert client.post("/api/auth/logoutall/").status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Token nonsense", "Token \xe9t\xe9", "Token", "Token a b", "Basic \xe9", "Basic bm8tY29sb24="],
)
def test_bad_credentials_are_401_not_500(alice, header):
    response = APIClient().post("/api/auth/login/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert APIClient().get("/api/auth/tokens/", HTTP_AUTHORIZATION=header).status_code == 401


@pytest.mark.parametrize("username", ["al\0ice", "a" * 151])
def test_impossible_user_names_are_refused_before_the_database(username):
    assert APIClient().post("/api/auth/login/", **basic(username)).status_code == 401


def test_create_token_prints_a_working_token(alice, capsys):
    call_command("create_token", "alice", "--days", "2")
    out, err = capsys.readouterr()
    token = out.strip()
    assert len(token) == 64
    stored = AuthToken.objects.get()
    assert f"Token {token[:15]}… for alice, expires" in err
    assert stored.expiry.date() == (timezone.now() + datetime.timedelta(days=2)).date()
    assert with_token(token).get("/api/auth/tokens/").status_code == 200


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["nobody"], "No user 'nobody'."),
        (["alice", "--days", "0"], "--days must be a whole number of days from 1 to 3650"),
        (["alice", "--days", "x"], "--days must be a whole number of days from 1 to 3650"),
    ],
)
def test_create_token_refuses_bad_input(alice, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_token", *arguments)
    assert not AuthToken.objects.exists()


def test_the_admin_lists_tokens_and_login_attempts(admin_client, alice):
    log_in()
    page = admin_client.get("/admin/knox/authtoken/")
    assert page.status_code == 200
    assert "alice" in page.content.decode()
    assert admin_client.get("/admin/axes/accessattempt/").status_code == 200
