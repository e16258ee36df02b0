"""Text search over title, summary, quoted words and participants' names."""

import pytest
from django.db import connection

from events.models import Event, Participation, Role
from tests.factories import make_actor, make_event

pytestmark = pytest.mark.django_db


def slugs(queryset):
    return set(queryset.values_list("slug", flat=True))


@pytest.fixture
def events():
    lavrov = make_actor(name="Sergey Lavrov", kind="person", slug="sergey-lavrov")
    meeting = make_event(
        slug="meeting",
        title="Kono meets his counterpart",
        quoted_words="we’ve decided to interfere in your weather",
    )
    Participation.objects.create(event=meeting, actor=lavrov, role=Role.GUEST)
    expulsion = make_event(
        slug="expulsion", kind="expulsion", title="Britain expels diplomats", summary="Salisbury"
    )
    return meeting, expulsion, lavrov


def test_search_matches_title_summary_quotes_and_actor_names(events):
    assert slugs(Event.objects.search("counterpart")) == {"meeting"}
    assert slugs(Event.objects.search("Salisbury")) == {"expulsion"}
    assert slugs(Event.objects.search("weather")) == {"meeting"}
    assert slugs(Event.objects.search("lavrov")) == {"meeting"}
    assert slugs(Event.objects.search("Lavrov weather")) == {"meeting"}
    assert slugs(Event.objects.search("Lavrov Salisbury")) == set()
    assert slugs(Event.objects.search("")) == {"meeting", "expulsion"}


def test_search_follows_participants_and_renames(events):
    _meeting, expulsion, lavrov = events
    Participation.objects.create(event=expulsion, actor=lavrov, role=Role.TARGET)
    assert slugs(Event.objects.search("Lavrov")) == {"meeting", "expulsion"}
    Participation.objects.filter(event=expulsion).delete()
    assert slugs(Event.objects.search("Lavrov")) == {"meeting"}
    lavrov.name = "S. V. Lavrov-Renamed"
    lavrov.save()
    assert slugs(Event.objects.search("Lavrov-Renamed")) == {"meeting"}


@pytest.mark.postgres_only
def test_postgresql_search_is_full_text_with_stemming(events):
    assert connection.vendor == "postgresql"
    # "expelling" and "expels" share the stem "expel": full-text search, not substring match.
    assert slugs(Event.objects.search("expelling")) == {"expulsion"}
    assert slugs(Event.objects.search('"Britain expels"')) == {"expulsion"}
    assert slugs(Event.objects.search("Britain -diplomats")) == set()


@pytest.mark.postgres_only
def test_postgresql_search_uses_the_gin_index_on_the_stored_document(events):
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        # Unordered: on a table this small an ordered query may walk the date index instead.
        queryset = Event.objects.search("Salisbury").order_by()
        plan = queryset.explain()
        cursor.execute("RESET enable_seqscan")
    # One of the GIN indexes over the stored document: its own, or the one it shares with
    # the country ids (migration 0009).
    assert "Bitmap Index Scan on event_search_" in plan
    assert "Index Cond: (search_document @@" in plan
    # The recheck reads the stored document; no to_tsvector() per row.
    assert "to_tsvector" not in plan


@pytest.mark.postgres_only
def test_the_stored_document_follows_every_write_of_the_text(events):
    meeting, expulsion, lavrov = events
    # A save, a queryset update (what refresh_search_text does) and a participant's rename.
    expulsion.summary = "Novichok"
    expulsion.save()
    assert slugs(Event.objects.search("novichok")) == {"expulsion"}
    Event.objects.filter(pk=meeting.pk).update(search_text="Helsinki talks")
    assert slugs(Event.objects.search("helsinki")) == {"meeting"}
    assert slugs(Event.objects.search("weather")) == set()
    lavrov.name = "Andrei Gromyko"
    lavrov.save()
    assert slugs(Event.objects.search("gromyko")) == {"meeting"}


def test_reads_skip_the_stored_document(events):
    """The representation's queries read neither the search text nor its stored document."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from events.representation import represent_events

    with CaptureQueriesContext(connection) as captured:
        (shown,) = represent_events(Event.objects.filter(slug="meeting"), shows_drafts=True)
    assert shown["slug"] == "meeting"
    sql = " ".join(query["sql"] for query in captured.captured_queries)
    assert "search_text" not in sql and "search_document" not in sql
