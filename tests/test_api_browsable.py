"""The browsable API is part of the site (issue 15): its name, a link home and to the API docs."""

import re

from tests.test_security_headers import inline_code


def browse(client, url):
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def test_the_api_root_links_back_to_the_site(client, db):
    html = browse(client, "/api/")
    assert re.search(r'<a class="navbar-brand" href="/">Diplomatic event database</a>', html)
    assert '<a href="/">Site</a>' in html
    assert '<a href="/api/docs/">API docs</a>' in html
    assert "Django REST framework</a>" not in html
    assert "<title>Api Root · API · Diplomatic event database</title>" in html


def test_every_browsable_endpoint_links_back_to_the_site(client, db):
    for url in ("/api/events/", "/api/actors/", "/api/sources/"):
        html = browse(client, url)
        assert '<a class="navbar-brand" href="/">' in html, url
        assert '<a href="/api/docs/">API docs</a>' in html, url


def test_the_browsable_api_has_no_inline_code(client, db):
    """No inline style or script but DRF's JSON data block (not run, so allowed by the policy)."""
    html = browse(client, "/api/")
    html = re.sub(r'<script type="application/json"[^>]*>.*?</script>', "", html, flags=re.S)
    assert inline_code(html) == []
