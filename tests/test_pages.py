"""The public pages on the article fixtures: what a reader sees on each page, and bad input."""

import re

import pytest

from events import views
from events.models import (
    Actor,
    Country,
    Event,
    EventAlias,
    EventLink,
    Office,
    Participation,
    ReviewState,
    Role,
    Source,
)
from events.pagination import encode_cursor
from tests.articles import load_articles
from tests.factories import (
    make_actor,
    make_country,
    make_event,
    make_published_event,
    make_source,
)

pytestmark = pytest.mark.django_db

COORDINATED = "2018-03-26-coordinated-expulsion-of-russian-diplomats"
US_60 = "2018-03-26-united-states-expels-60-russian-diplomats"
UK_23 = "2018-03-14-uk-expels-23-russian-diplomats"
SKRIPAL = "2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal"
SUGA = "2018-03-27-suga-news-conference"


@pytest.fixture(autouse=True)
def fixtures():
    load_articles()


def html_of(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, url
    return response.content.decode()


def listed_slugs(html):
    """Event slugs in the listing's table, in order."""
    if 'class="event-table"' not in html:
        return []
    table = html[html.index('class="event-table"') :]
    return re.findall(r'<th scope="row" class="title"><a href="/events/([^/]+)/">', table)


def listing(client, query=""):
    return listed_slugs(html_of(client, f"/events/?{query}"))


def text_of(html):
    """The page's text with tags removed and spaces collapsed, as a reader sees it."""
    inline = re.sub(r"</?(?:a|span|time|strong|em|tspan|code)\b[^>]*>", "", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inline))


# --- Home -----------------------------------------------------------------------------------


def test_home_counts_kinds_and_links_to_listing_api_docs_and_admin(client):
    html = html_of(client, "/")
    assert "<td>Expulsion</td><td>3</td>" in html
    assert 'href="/events/?kind=expulsion"' in html
    # "Who expelled whom" lands on the chart, not the top of the listing.
    assert 'href="/events/?kind=expulsion#expulsions"' in html
    assert 'href="/events/"' in html
    assert 'href="/api/docs/"' in html
    assert 'href="/admin/"' in html
    assert f'href="/events/{SUGA}/"' in html  # latest events link to their pages


# --- Listing --------------------------------------------------------------------------------


def test_listing_shows_every_published_event_newest_first_with_date_at_its_precision(client):
    html = html_of(client, "/events/")
    slugs = listed_slugs(html)
    assert len(slugs) == Event.objects.published().count() == 25
    assert slugs[0] in {"2018-05-abe-putin-summit-in-russia", "2018-05-japan-russia-security-talks"}
    assert slugs[-1].startswith("2014-")
    text = text_of(html)
    assert "May 2018" in text and "1 May 2018" not in text
    assert "2014–2016" in text


def test_listing_row_shows_kind_title_initiator_and_target_countries(client):
    html = html_of(client, "/events/?kind=expulsion")
    table = html[html.index('class="event-table"') :]
    row = table[table.index(f'href="/events/{UK_23}/"') :]
    row = row[: row.index("</tr>")]
    assert "United Kingdom expels 23 Russian diplomats" in row
    assert '<a href="/countries/GB/">United Kingdom</a>' in row
    assert '<a href="/countries/RU/">Russian Federation</a>' in row
    assert "kind-expulsion" in html


def test_kind_filter_takes_checkboxes_or_commas(client):
    assert set(listing(client, "kind=expulsion")) == {COORDINATED, US_60, UK_23}
    assert len(listing(client, "kind=expulsion&kind=phone_call")) == 5
    assert len(listing(client, "kind=expulsion,phone_call")) == 5
    html = html_of(client, "/events/?kind=expulsion")
    assert re.search(r'<input type="checkbox" name="kind" value="expulsion"[^>]*checked', html)


def test_status_date_country_initiator_target_actor_source_link_and_text_filters(client):
    assert listing(client, "status=planned") == [
        "2018-05-abe-putin-summit-in-russia",
        "2018-05-japan-russia-security-talks",
        "2018-04-19-japan-russia-strategic-dialogue-moscow",
        "2018-g7-summit",
    ]
    march = listing(client, "kind=expulsion&date_after=2018-03-01&date_before=2018-03-31")
    assert set(march) == {COORDINATED, US_60, UK_23}
    assert listing(client, "kind=expulsion&date_after=2018-04-01") == []
    assert listing(client, "kind=expulsion&initiator=us") == [US_60]  # not its coalition's
    assert listing(client, "kind=expulsion&initiator=JPN") == []
    assert len(listing(client, "kind=expulsion&target=RU")) == 3
    assert SUGA in listing(client, "country=JP")
    assert listing(client, "actor=yoshihide-suga") == [SUGA]
    source = Source.objects.get(publisher__startswith="UK Government")
    assert listing(client, f"source={source.pk}")
    assert set(listing(client, f"linked_to={US_60}")) == {COORDINATED}
    assert listing(client, "q=Skripal")[-1] == SKRIPAL


def test_sorting_by_title_and_oldest_first(client):
    titles = list(Event.objects.published().order_by("title", "id").values_list("slug", flat=True))
    assert listing(client, "ordering=title") == titles
    oldest = listing(client, "ordering=date")
    assert oldest[0].startswith("2014-") and oldest[-1].startswith("2018-05-")
    html = html_of(client, "/events/?kind=expulsion&ordering=title")
    assert 'href="?kind=expulsion&amp;ordering=date"' in html  # sort links keep the filters
    assert re.search(r'<a href="\?kind=expulsion&amp;ordering=title" aria-current="true">', html)


def test_csv_link_exports_the_same_filtered_set_through_the_api(client):
    html = html_of(client, "/events/?kind=expulsion&date_after=2018-03-01&initiator=US")
    assert (
        'href="/api/events/?format=csv&amp;kind=expulsion&amp;date_after=2018-03-01&amp;initiator=US"'
        in html
    )
    assert 'href="/api/events/?format=csv"' in html_of(client, "/events/")


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("date_after=2018-13-45", "date_after", "Enter a valid date."),
        ("kind=unknown", "kind", "Unknown value unknown"),
        ("initiator=XX", "initiator", "Unknown country code"),
        ("ordering=size", "ordering", "Select a valid choice."),
    ],
)
def test_invalid_filter_shows_the_form_with_the_error_at_the_field_and_no_results(
    client, query, field, message
):
    html = html_of(client, f"/events/?{query}", status=400)
    error = re.search(rf'<p class="error" id="id_{field}-error">([^<]*)</p>', html)
    assert error and message in error.group(1)
    assert 'class="error-summary" role="alert"' in html
    assert f'href="#id_{field}' in html
    assert 'class="event-table"' not in html and "Download CSV" not in html
    if field != "kind":
        assert re.search(rf'id="id_{field}"[^>]*aria-invalid="true"', html) or re.search(
            rf'aria-invalid="true"[^>]*id="id_{field}"', html
        )


def test_every_form_control_has_a_label(client):
    html = html_of(client, "/events/")
    form = html[html.index('<form method="get"') : html.index("</form>")]
    ids = re.findall(r'<(?:input|select)[^>]* id="([^"]+)"', form)
    assert len(ids) >= 18
    for control in ids:
        assert f'for="{control}"' in form, control


def test_keyset_pages_walk_forward_and_back_over_every_event(client, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 7)
    for ordering in ("-date", "date", "title"):
        assert len(listing(client, f"ordering={ordering}")) == 7
        seen, url, pages = [], f"/events/?ordering={ordering}", []
        while url:
            html = html_of(client, url)
            pages.append((url, listed_slugs(html)))
            seen += listed_slugs(html)
            found = re.search(r'<a href="(\?[^"]+)" rel="next">', html)
            url = "/events/" + found.group(1).replace("&amp;", "&") if found else None
        order = {"-date": ("-start_date", "-id"), "date": ("start_date", "id")}.get(
            ordering, ("title", "id")
        )
        assert seen == list(
            Event.objects.published().order_by(*order).values_list("slug", flat=True)
        )
        assert len(pages) == 4  # 7 + 7 + 7 + 4
        # Back from the last page, one page at a time.
        url = pages[-1][0]
        for _url, back_slugs in reversed(pages[:-1]):
            html = html_of(client, url)
            previous = re.search(r'<a href="(\?[^"]+)" rel="prev">', html).group(1)
            url = "/events/" + previous.replace("&amp;", "&")
            assert listed_slugs(html_of(client, url)) == back_slugs
        assert 'rel="prev"' not in html_of(client, pages[0][0])


def test_a_broken_or_foreign_cursor_is_a_400_naming_cursor(client):
    html = html_of(client, "/events/?kind=expulsion&cursor=not-a-cursor", status=400)
    assert "Page link (<code>cursor</code>): Invalid cursor" in html
    assert listed_slugs(html) == []
    assert 'href="?kind=expulsion">Go to the first page' in html
    title_cursor = encode_cursor("title", ("A", 1), False)
    html = html_of(client, f"/events/?cursor={title_cursor}", status=400)
    assert "This cursor pages ordering=title, not -date." in html


def test_listing_timeline_has_one_linked_mark_per_event_and_spans_for_months(client):
    html = html_of(client, "/events/")
    svg = html[html.index('<svg class="timeline-svg"') : html.index("</svg>")]
    assert 'role="group"' in svg and 'aria-labelledby="timeline-title"' in svg
    marks = re.findall(r'<a class="mark" href="/events/([^/]+)/"', svg)
    assert sorted(marks) == sorted(listed_slugs(html))
    # Month and year precision events are bars over their period; each mark has a tooltip.
    assert (
        svg.count('class="span"') == Event.objects.published().exclude(date_precision="day").count()
    )
    assert "<title>May 2018 · Summit · Abe–Putin summit in Russia (planned)</title>" in svg
    assert 'class="legend"' in html


def test_expulsion_chart_shows_who_expelled_whom_with_numbers(client):
    html = html_of(client, "/events/?kind=expulsion&date_after=2018-03-01&date_before=2018-03-31")
    svg = html[html.index('<svg class="expulsions-svg"') :]
    svg = svg[: svg.index("</svg>")]
    assert len(re.findall(r'<a class="mark"', svg)) == 3
    text = text_of(svg)
    assert "United Kingdom" in text and "23 → Russian Federation" in text
    assert "60 → Russian Federation" in text and "more than 100 → Russian Federation" in text
    # One view of each expulsion: the chart, and the table of events as its table (numbers,
    # sides and what it is part of), not a second table of the same expulsions.
    assert 'class="expulsion-table"' not in html
    table = text_of(html[html.index('class="event-table"') :])
    assert "United States expels 60 Russian diplomats 60 expelled" in table
    assert "(part of Coordinated expulsion of Russian diplomats" in table
    assert "United Kingdom expels 23 Russian diplomats 23 expelled" in table
    assert len(re.findall(r'class="title"><a href="/events/[^"]+/">', html)) == 3
    # No chart when the listing holds no expulsion.
    assert "expulsions-svg" not in html_of(client, "/events/?kind=phone_call")


# --- Event page -----------------------------------------------------------------------------


def test_event_page_answers_what_when_who_how_many_and_links_both_ways(client):
    html = html_of(client, f"/events/{COORDINATED}/")
    text = text_of(html)
    assert "<h1" in html and "Coordinated expulsion of Russian diplomats" in text
    assert "26 March 2018 (known to the day)" in text
    assert "People expelled more than 100" in text
    initiator = "Initiator The United Kingdom&#x27;s international partners"
    assert initiator in text and "Target Russia" in text
    assert "Has part: United States expels 60 Russian diplomats (26 March 2018)" in text
    assert f'<li><a href="/events/{US_60}/">United States expels 60' in html
    assert "Responds to: Poisoning of Sergei and Yulia Skripal in Salisbury" in text
    assert "Answered by: Yoshihide Suga: Japan told Russia" in text
    assert "Followed up by: Boris Johnson calls it the largest" in text
    # The chart of this expulsion and the one that is part of it.
    assert "60 → Russian Federation" in text_of(html[html.index("expulsions-svg") :])
    # Its codes, each linking to the listing filtered on it.
    assert "CAMEO code 161" in text and "PLOVER SANCTION / expel" in text
    assert 'href="/events/?cameo=161"' in html and 'href="/events/?plover=SANCTION"' in html


def test_event_page_cites_every_source_with_title_publisher_date_locator_note_and_link(client):
    event = Event.objects.get(slug=COORDINATED)
    html = html_of(client, f"/events/{COORDINATED}/")
    text = text_of(html)
    for citation in event.citations.select_related("source"):
        source = citation.source
        assert f'<a class="source-link" href="{source.url}"' in html
        assert f'href="/sources/{source.pk}/"' in html
        assert source.publisher in text and "27 March 2018" in text
        assert citation.locator in text
    assert "Tokyo's response stayed low-key" in text.replace("&#x27;", "'")


def test_event_page_shows_quoted_words_speaker_and_office_at_the_time(client):
    html = html_of(client, f"/events/{SUGA}/")
    text = text_of(html)
    assert "<blockquote>" in html
    assert "it is unacceptable to use chemical weapons" in text
    assert "Yoshihide Suga, Chief Cabinet Secretary of Japan" in text
    assert "Responds to: Coordinated expulsion of Russian diplomats" in text


def test_office_shown_only_when_held_on_the_event_date(client):
    import datetime

    suga = Actor.objects.get(slug="yoshihide-suga")
    Office.objects.create(
        holder=suga,
        title="Prime Minister",
        country=Country.objects.get(code="JP"),
        start_date=datetime.date(2020, 9, 16),
    )
    text = text_of(html_of(client, f"/events/{SUGA}/"))
    assert "Chief Cabinet Secretary of Japan" in text
    assert "Prime Minister of Japan" not in text


def test_planned_event_says_so(client):
    html = html_of(client, "/events/2018-05-abe-putin-summit-in-russia/")
    text = text_of(html)
    assert "Planned." in text and "they do not say that it took place" in text
    assert "May 2018 (known to the month; the sources give no exact day)" in text


def test_old_slug_of_a_merged_event_redirects(client):
    EventAlias.objects.create(slug="us-expels-60", event=Event.objects.get(slug=US_60))
    response = client.get("/events/us-expels-60/")
    assert response.status_code == 301
    assert response["Location"] == f"/events/{US_60}/"


# --- Country, actor and source pages --------------------------------------------------------


def test_japan_page_shows_it_expelled_no_one_and_what_it_did_instead(client):
    html = html_of(client, "/countries/jp/")
    text = text_of(html)
    assert "<h1>Japan" in html
    assert "Japan initiated no expulsion" in text
    assert "Group of Seven (G7)" in text
    initiated = text_of(
        html[html.index('id="initiated-title"') : html.index('id="targeted-title"')]
    )
    assert "Yoshihide Suga: Japan told Russia chemical weapons use is unacceptable" in initiated
    assert re.search(r"Statement</a></th><td>\d+</td><td>[1-9]", html)
    assert "expulsions-svg" not in html
    assert 'class="timeline-svg"' in html


def test_russia_page_shows_the_expulsions_that_targeted_it(client):
    html = html_of(client, "/countries/RU/")
    targeted = text_of(html[html.index('id="targeted-title"') :])
    assert "United Kingdom expels 23 Russian diplomats" in targeted
    assert re.search(r"Expulsion</a></th><td>3</td><td>0</td><td>3</td>", html)
    chart = text_of(html[html.index("expulsions-svg") :])
    assert "23 → Russian Federation" in chart and "60 → Russian Federation" in chart


def test_uk_page_lists_its_memberships(client):
    text = text_of(html_of(client, "/countries/GB/"))
    assert "Group of Seven (G7)" in text and "European Union" in text
    assert "United Kingdom initiated no expulsion" not in text


def test_actor_page_shows_offices_and_events_by_role(client):
    text = text_of(html_of(client, "/actors/yoshihide-suga/"))
    assert "Chief Cabinet Secretary" in text
    assert "As speaker" in text and "Yoshihide Suga: Japan told Russia" in text
    members = text_of(html_of(client, "/actors/g7/"))
    assert "Members" in members and "Japan" in members and "Canada" in members


def test_source_page_shows_the_source_and_the_events_it_evidences(client):
    source = Source.objects.get(author="James D.J. Brown")
    html = html_of(client, f"/sources/{source.pk}/")
    text = text_of(html)
    assert "Japan and the Skripal poisoning" in text and "The Japan Times" in text
    assert f'href="{source.url}"' in html
    for event in Event.objects.filter(citations__source=source).distinct():
        assert f'href="/events/{event.slug}/"' in html


# --- Drafts, escaping and 404s --------------------------------------------------------------


def test_drafts_appear_on_no_public_page(client):
    draft = make_event(
        kind="expulsion",
        title="Secret draft expulsion",
        slug="secret-draft",
        expelled_low=5,
        expelled_best=5,
        expelled_high=5,
        review_state=ReviewState.DRAFT,
    )
    Participation.objects.create(
        event=draft, actor=Actor.objects.get(slug="japan"), role=Role.INITIATOR
    )
    source = Source.objects.first()
    draft.citations.create(source=source, locator="para. 99")
    EventLink.objects.create(
        from_event=draft, to_event=Event.objects.get(slug=COORDINATED), kind="responds_to"
    )
    pages = [
        "/",
        "/events/",
        "/events/?kind=expulsion",
        f"/events/{COORDINATED}/",
        "/countries/JP/",
        "/actors/japan/",
        f"/sources/{source.pk}/",
    ]
    for url in pages:
        assert "Secret draft" not in html_of(client, url), url
        assert "secret-draft" not in html_of(client, url), url
    assert "Japan initiated no expulsion" in text_of(html_of(client, "/countries/JP/"))
    assert "<td>Expulsion</td><td>3</td>" in html_of(client, "/")
    html_of(client, "/events/secret-draft/", status=404)


def test_everything_a_curator_typed_is_escaped(client):
    script = "<script>alert(1)</script>"
    country = make_country("ZZ", "ZZZ", f"Land {script}")
    actor = make_actor(name=f"Minister {script}", kind="person", country=country, slug="evil")
    actor.offices.create(title=f"Office {script}", country=country)
    source = make_source_with(script)
    event = make_published_event(
        initiator=actor,
        target=make_actor(country=country),
        source=source,
        kind="expulsion",
        expelled_best=3,
        title=f"Title {script}",
        slug="evil-event",
        summary=f"Summary {script}",
        quoted_words=f"Quote {script}",
        place=f"Place {script}",
    )
    Participation.objects.create(event=event, actor=actor, role=Role.SPEAKER)
    event.citations.update(note=f"Note {script}", locator=f"para. {script}")
    pages = [
        "/",
        "/events/",
        "/events/?q=Title",
        "/events/evil-event/",
        "/countries/ZZ/",
        "/actors/evil/",
        f"/sources/{source.pk}/",
    ]
    for url in pages:
        html = html_of(client, url)
        assert script not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    # The filter form echoes a typed value escaped, too.
    html = html_of(client, "/events/?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert script not in html


def make_source_with(text):
    return make_source(title=f"Source {text}", publisher=f"Publisher {text}", author=text)


@pytest.mark.parametrize(
    "url",
    [
        "/events/no-such-event/",
        "/countries/XX/",
        "/countries/XXX/",  # an alpha-3 no country has (GBR redirects to GB)
        "/countries/1/",
        "/actors/no-such-actor/",
        "/sources/999999/",
        "/sources/abc/",
        "/no-such-page/",
    ],
)
def test_unknown_pages_are_real_404_pages(client, url):
    html = html_of(client, url, status=404)
    assert "<h1>Not found</h1>" in html
    assert 'href="/events/"' in html  # the site's own page, with a way on
