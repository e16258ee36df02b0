"""The index pages /countries/, /actors/ and /sources/: searchable, each row with its count
of published events (drafts neither counted nor shown), paged by cursor at a fixed number of
queries, linked from the header and the breadcrumbs; and /countries/<alpha-3>/ redirects."""

import base64
import datetime
import html as html_lib
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events import index_pages
from events.models import Actor, ActorKind, Country, Event, ReviewState, Source
from tests.articles import load_articles
from tests.factories import make_actor, make_event, make_published_event, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fixtures():
    load_articles()


def html_of(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, url
    return response.content.decode()


def rows_of(html):
    """(name, count) of each row of the index table, in order."""
    table = html[html.index('<table class="index-table">') : html.index("</table>")]
    found = []
    for row in re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", table, re.S):
        name = html_lib.unescape(re.sub(r"<[^>]+>", "", row.split("</th>")[0]).strip())
        count = re.sub(r"<[^>]+>", "", row.rsplit('<td class="number">', 1)[1]).strip()
        found.append((name, int(count)))
    return found


def published_involving(code):
    return Event.objects.published().involving(Country.objects.get(code=code)).count()


# --- What each page lists ---------------------------------------------------------------------


def test_countries_list_every_country_with_its_count_of_published_events(client):
    rows = dict(rows_of(html_of(client, "/countries/?q=Japan")))
    assert rows == {"Japan": published_involving("JP")}
    assert rows["Japan"] > 0
    # The counts agree with the country pages' own counts (the involvement rule), for every
    # country on the first page.
    for name, count in rows_of(html_of(client, "/countries/")):
        assert count == Event.objects.published().involving(Country.objects.get(name=name)).count()


@pytest.mark.parametrize("query", ["JP", "jpn", "japa"])
def test_countries_are_found_by_iso_code_or_name(client, query):
    assert [name for name, _ in rows_of(html_of(client, f"/countries/?q={query}"))] == ["Japan"]


def test_country_row_links_to_its_page_and_its_events(client):
    html = html_of(client, "/countries/?q=JP")
    assert '<a href="/countries/JP/">Japan</a>' in html
    assert 'href="/events/?country=JP"' in html


def test_actors_are_grouped_by_kind_and_filterable_by_kind(client):
    html = html_of(client, "/actors/")
    groups = re.findall(r'<tr class="group"><th scope="rowgroup" colspan="4">([^<]+)</th>', html)
    assert groups == sorted(set(groups), key=groups.index)  # each kind once
    assert "Person" in groups and "State or government" in groups
    people = rows_of(html_of(client, "/actors/?kind=person"))
    assert people and all(
        Actor.objects.get(name=name).kind == ActorKind.PERSON for name, _ in people
    )
    abe = dict(people)["Shinzo Abe"]
    assert abe == Event.objects.published().with_actor(Actor.objects.get(slug="shinzo-abe")).count()
    assert html_of(client, "/actors/?q=abe").count('href="/actors/shinzo-abe/"') == 1


def test_sources_by_publisher_then_newest_and_by_date(client):
    html = html_of(client, "/sources/")
    groups = re.findall(r'<tr class="group"><th scope="rowgroup" colspan="4">([^<]+)</th>', html)
    assert groups == sorted({source.publisher for source in Source.objects.all()})
    by_date = html_of(client, "/sources/?sort=date")
    dates = re.findall(r'<time datetime="([0-9-]+)">', by_date)
    assert dates == sorted(dates, reverse=True) and dates
    japan_times = rows_of(html_of(client, "/sources/?q=japan+times"))
    assert len(japan_times) == 2 and all(count >= 1 for _, count in japan_times)


# --- Drafts -----------------------------------------------------------------------------------


def test_drafts_are_never_counted_nor_shown(client):
    nz = Country.objects.get(code="NZ")
    wellington = make_actor(name="Zealand Foreign Ministry", kind=ActorKind.AGENCY, country=nz)
    secret = make_source(title="Secret cable", publisher="Zealand Herald")
    draft = make_event(title="A secret draft", slug="secret-draft", review_state=ReviewState.DRAFT)
    draft.participations.create(actor=wellington, role="initiator")
    draft.citations.create(source=secret, locator="para. 1")
    for url in ["/countries/?q=NZL", "/actors/?q=Zealand", "/sources/?q=Zealand"]:
        html = html_of(client, url)
        assert "secret" not in html.lower().replace("secret cable", "")
        assert [count for _, count in rows_of(html)] == [0], url

    make_published_event(initiator=wellington, source=secret, title="A public one", slug="pub")
    for url in ["/countries/?q=NZL", "/actors/?q=Zealand", "/sources/?q=Zealand"]:
        assert [count for _, count in rows_of(html_of(client, url))] == [1], url


# --- Paging and query counts ------------------------------------------------------------------


def walk(client, url):
    """The address of every row over every page, following the Next links; and how many
    pages."""
    rows, pages = [], 0
    while url:
        html = html_of(client, url)
        rows += re.findall(r'<th scope="row"><a href="([^"]+)">', html)
        pages += 1
        found = re.search(r'<a href="(\?[^"]+)" rel="next">', html)
        url = found and url.split("?")[0] + found.group(1).replace("&amp;", "&")
    return rows, pages


@pytest.mark.parametrize(
    ("url", "model"),
    [
        ("/countries/", Country),
        ("/actors/", Actor),
        ("/actors/?sort=name", Actor),
        ("/sources/", Source),
        ("/sources/?sort=date", Source),
    ],
)
def test_cursor_pages_walk_every_row_once(client, monkeypatch, url, model):
    for n in range(7):
        # Ties on the publisher and the date, and undated sources, cross page boundaries.
        published = None if n % 3 == 0 else datetime.date(2018, 3, 1 + n % 2)
        make_source(publisher="Example News", published_on=published)
        make_actor(name=f"Walker {n % 3}")
    monkeypatch.setattr(index_pages, "PAGE_SIZE", 4)
    rows, pages = walk(client, url)
    assert len(rows) == model.objects.count()
    assert len(set(rows)) == len(rows)
    assert pages == -(-model.objects.count() // 4)


@pytest.mark.parametrize("url", ["/countries/", "/actors/", "/sources/"])
@pytest.mark.parametrize("extra", [0, 30])
def test_a_page_runs_two_queries_whatever_its_rows(client, url, extra):
    for n in range(extra):
        actor = make_actor(name=f"Extra {n}", country=Country.objects.get(code="FR"))
        make_published_event(initiator=actor, source=make_source(), slug=f"extra-{n}")
    client.get(url)  # warm up (content types, the URL resolver)
    # 1. the page's rows, by keyset (LIMIT page size + 1); 2. their counts, one grouped
    # query (countries: the rollup cells by country; actors: participations; sources:
    # citations; each on published events only).
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert len(queries) == 2, [q["sql"] for q in queries]


@pytest.mark.parametrize(
    "query",
    ["cursor=not-a-cursor", "cursor=WyJuYW1lIl0", "sort=unknown", "cursor=%00", "q=%00"],
)
def test_bad_page_links_and_sorts_are_400_with_a_way_back(client, query):
    for url in ["/countries/", "/actors/", "/sources/"]:
        response = client.get(f"{url}?{query}")
        assert response.status_code in (200, 400), url
        if "cursor" in query or "sort" in query:
            assert response.status_code == 400
            assert 'role="alert"' in response.content.decode()


@pytest.mark.parametrize(
    "values",
    [["name", "A\u0000", 1], ["name", "A", 2**70], ["name", "A", True], ["name", 1, 1]],
)
def test_a_forged_cursor_is_400_never_500(client, values):
    cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode()
    assert client.get(f"/countries/?cursor={cursor}").status_code == 400


def test_a_cursor_of_another_sort_is_refused(client, monkeypatch):
    monkeypatch.setattr(index_pages, "PAGE_SIZE", 1)
    html = html_of(client, "/sources/?sort=date")
    cursor = re.search(r'cursor=([^"&]+)', html).group(1)
    assert client.get(f"/sources/?sort=publisher&cursor={cursor}").status_code == 400


# --- Links in -----------------------------------------------------------------------------------


def test_header_links_to_the_index_pages(client):
    html = html_of(client, "/")
    header = html[html.index('<header class="site">') : html.index("</header>")]
    for url in ["/countries/", "/actors/", "/sources/"]:
        assert f'href="{url}"' in header
    assert 'href="/countries/" aria-current="page"' in html_of(client, "/countries/")


@pytest.mark.parametrize(
    ("url", "crumb"),
    [
        ("/countries/JP/", '<a href="/countries/">Countries</a>'),
        ("/actors/shinzo-abe/", '<a href="/actors/">Actors</a>'),
        ("/sources/{source}/", '<a href="/sources/">Sources</a>'),
    ],
)
def test_breadcrumbs_link_to_the_index_pages(client, url, crumb):
    html = html_of(client, url.format(source=Source.objects.first().pk))
    breadcrumb = html[html.index('<nav class="breadcrumb"') :]
    assert crumb in breadcrumb[: breadcrumb.index("</nav>")]


# --- Country addresses ------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["JPN", "jpn", "iso3n:392", "cow:740", "gw:740"])
def test_other_country_codes_redirect_to_the_alpha_2_page(client, code):
    response = client.get(f"/countries/{code}/")
    assert response.status_code == 301
    assert response["Location"] == "/countries/JP/"


@pytest.mark.parametrize("code", ["XYZ", "ZZ", "cow:abc", "iso3n:99999", "JAPAN", "J%00N", "日本"])
def test_unknown_country_codes_stay_404(client, code):
    assert client.get(f"/countries/{code}/").status_code == 404
