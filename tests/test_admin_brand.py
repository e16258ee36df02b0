"""The admin carries the site's name, not "Django administration", from its login page on."""

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db


def test_login_page_shows_the_brand(client):
    response = client.get("/admin/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<a href="/admin/">Diplomatic events: curation</a>' in html
    assert "<title>Log in | Diplomatic events admin</title>" in html
    assert "Django administration" not in html and "Django site admin" not in html


def test_admin_home_is_branded_and_links_to_the_site(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.org", "x"))
    html = client.get("/admin/").content.decode()
    assert "Diplomatic events: curation" in html
    assert "Curate events, actors and sources" in html
    assert '<a href="/">View site</a>' in html
