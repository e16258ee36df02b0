"""/codes/ explains every code in words (kinds, modes, CAMEO, PLOVER, Goldstein, quad class),
each under an anchor, and every code shown on an event page links to its entry there."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events import glossary
from events.codes import CAMEO_CODES, CODES, PLOVER_TYPES, EventMode, QuadClass
from events.models import Event, EventKind
from tests.articles import load_articles

pytestmark = pytest.mark.django_db

SKRIPAL = "2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal"
UK_23 = "2018-03-14-uk-expels-23-russian-diplomats"


@pytest.fixture(autouse=True)
def fixtures():
    load_articles()


def anchors_of(html):
    return set(re.findall(r' id="([^"]+)"', html))


def codes_page(client):
    response = client.get("/codes/")
    assert response.status_code == 200
    return response.content.decode()


def test_every_code_has_an_entry_with_an_anchor(client):
    anchors = anchors_of(codes_page(client))
    expected = {
        *(f"kind-{kind}" for kind in EventKind.values),
        *(f"mode-{mode.replace('_', '-')}" for mode in EventMode.values if mode),
        *(f"cameo-{root:02d}" for root in range(1, 21)),
        *(f"cameo-{code}" for code in CAMEO_CODES),
        *(f"plover-{plover.lower()}" for plover in PLOVER_TYPES),
        *(f"plover-mode-{codes.plover_mode}" for codes in CODES.values() if codes.plover_mode),
        *(f"quad-class-{quad}" for quad in QuadClass.values),
        "goldstein",
    }
    assert expected <= anchors, expected - anchors


def test_each_code_used_by_published_events_is_explained(client):
    html = codes_page(client)
    used = set(Event.objects.published().values_list("cameo_code", flat=True))
    assert used
    for code in used:
        row = re.search(rf'<tr id="cameo-{code}">(.*?)</tr>', html, re.S).group(1)
        assert glossary.CAMEO_NAMES[code] in row.replace("&ldquo;", "“").replace("&rdquo;", "”")
        assert f'href="/events/?cameo={code}"' in row


def test_entries_say_what_codes_mean(client):
    html = codes_page(client)
    assert "Reduce or break diplomatic relations" in html  # 161, the expulsions
    assert "Discuss by telephone" in html  # 041
    assert "Use unconventional mass violence" in html  # root 20
    assert "from −10 (the most conflictual" in html
    assert "CAMEO roots 14, 15, 16, 17, 18, 19, 20" in html


def test_the_glossary_names_exactly_the_codes_assigned():
    # A code added to events/codes.py without words here fails this.
    assert set(glossary.CAMEO_NAMES) == set(CAMEO_CODES)
    assert set(glossary.PLOVER_TYPE_NOTES) == set(PLOVER_TYPES)
    modes = {codes.plover_mode for codes in CODES.values() if codes.plover_mode}
    assert modes <= set(glossary.PLOVER_MODE_NOTES)
    assert set(glossary.KIND_NOTES) == set(EventKind)
    assert set(glossary.CAMEO_ROOTS) == {f"{root:02d}" for root in range(1, 21)}


def test_the_page_runs_no_query(client):
    client.get("/codes/")
    with CaptureQueriesContext(connection) as queries:
        codes_page(client)
    assert len(queries) == 0


@pytest.mark.parametrize("slug", [SKRIPAL, UK_23])
def test_every_code_on_an_event_page_links_to_its_entry(client, slug):
    anchors = anchors_of(codes_page(client))
    html = client.get(f"/events/{slug}/").content.decode()
    links = re.findall(r'href="/codes/#([^"]+)"', html)
    event = Event.objects.get(slug=slug)
    expected = {
        f"kind-{event.kind}",
        f"cameo-{event.cameo_code}",
        "goldstein",
        f"plover-{event.plover_type.lower()}",
    }
    assert expected <= set(links)
    assert set(links) <= anchors, set(links) - anchors


def test_event_page_names_its_codes(client):
    html = client.get(f"/events/{UK_23}/").content.decode()
    assert (
        '<a href="/codes/#cameo-161" class="code-link">161</a> Reduce or break diplomatic' in html
    )
    assert '<a href="/codes/#plover-mode-expel" class="code-link">expel</a>' in html
    assert '<dd class="number">-4.0</dd>' in html  # Goldstein
    assert '<a href="/codes/#quad-class-4">Material conflict</a>' in html


def test_all_published_event_pages_link_only_to_entries_that_exist(client):
    anchors = anchors_of(codes_page(client))
    for slug in Event.objects.published().values_list("slug", flat=True):
        links = set(
            re.findall(r'href="/codes/#([^"]+)"', client.get(f"/events/{slug}/").content.decode())
        )
        assert links and links <= anchors, (slug, links - anchors)


def test_header_links_to_the_codes(client):
    html = client.get("/").content.decode()
    header = html[html.index('<header class="site">') : html.index("</header>")]
    assert 'href="/codes/"' in header
