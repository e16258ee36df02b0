"""Project set-up: migrations, settings, the database switch, the admin login, the home page."""

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from tests.articles import load_articles

ROOT = settings.BASE_DIR


def test_migrations_are_complete(db):
    out = io.StringIO()
    call_command("makemigrations", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()


def test_database_url_picks_the_database():
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    assert connection.vendor == expected


def run_manage(*args, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_debug_off():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY="a-long-random-production-like-secret-key-0123456789-abcdefghijkl",
        DJANGO_ALLOWED_HOSTS="events.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_secret_key_is_required_when_debug_is_off():
    result = run_manage("check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_ensure_admin_creates_a_login_and_prints_it(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "BASE_DIR", tmp_path)
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    password = (tmp_path / ".local" / "admin-password").read_text().strip()
    assert f"password '{password}'" in out.getvalue()
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.check_password(password)
    # A second run keeps the same password.
    call_command("ensure_admin", stdout=io.StringIO())
    assert (tmp_path / ".local" / "admin-password").read_text().strip() == password


@pytest.mark.django_db
def test_home_page_says_what_the_site_is(client):
    load_articles()
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "curated record of diplomatic events" in html
    assert 'href="/admin/"' in html
    assert "<td>Expulsion</td><td>3</td>" in html
    assert "May 2018" in html  # month precision shown as such
