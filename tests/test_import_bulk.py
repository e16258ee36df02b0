"""The import's bulk write path (COPY on PostgreSQL, bulk INSERTs elsewhere): derived columns,
children, history and involvements of what it creates; nothing left behind by a bad row in a
later chunk; duplicates found per chunk by the one duplicate finder (events/duplicates.py),
checked against its definition recomputed in Python."""

import csv
import datetime
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events import importing
from events.duplicates import find_duplicates
from events.importing import run_import
from events.models import (
    Citation,
    CountryInvolvement,
    Event,
    Participation,
    Role,
    Source,
    refresh_involvements,
)
from tests.factories import make_actor, make_country, make_published_event

pytestmark = pytest.mark.django_db
D = datetime.date
ARRAYS = ("involved_country_ids", "initiator_country_ids", "target_country_ids")
COLUMNS = [
    "slug",
    "kind",
    "title",
    "summary",
    "start_date",
    "end_date",
    "date_precision",
    "location_country",
    "quoted_words",
    "participants",
    "citations",
]


def citations(*urls):
    return json.dumps(
        [{"source_url": url, "source_title": "A report", "locator": "p. 1"} for url in urls]
    )


def write(tmp_path, rows):
    path = tmp_path / "events.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return str(path)


def row(slug, **fields):
    return {
        "slug": slug,
        "kind": "expulsion",
        "title": f"Title of {slug}",
        "start_date": "2018-03-14",
        "date_precision": "day",
        "participants": "initiator:russia;target:united-kingdom",
        "citations": citations("https://example.org/bulk-report"),
        **fields,
    }


@pytest.fixture
def reference_data():
    call_command("loaddata", "countries", "actors", "sources", verbosity=0)


def test_created_events_have_derived_columns_children_history_and_involvements(
    tmp_path, reference_data
):
    path = write(
        tmp_path,
        [
            row(
                "a-month-of-talks",
                kind="meeting",
                start_date="2018-03-01",
                date_precision="month",
                location_country="GB",
                summary="Talks about fisheries",
                participants="host:united-kingdom;guest:russia",
            ),
            row("an-expulsion", quoted_words="Unacceptable."),
        ],
    )
    problems, counts, _ = run_import(path, publish=True)
    assert (problems, counts["created"]) == ([], 2)

    talks = Event.objects.get(slug="a-month-of-talks")
    assert (talks.period_end, talks.review_state, talks.version) == (D(2018, 3, 31), "published", 1)
    assert (talks.cameo_code, talks.plover_type) != ("", "")
    assert talks.search_text.splitlines() == [
        "Title of a-month-of-talks",
        "Talks about fisheries",
        *Participation.objects.filter(event=talks)
        .order_by("position")
        .values_list("actor__name", flat=True),
    ]
    assert list(
        talks.participations.order_by("position").values_list(
            "role", "actor__slug", "position", "start_date"
        )
    ) == [
        ("host", "united-kingdom", 0, D(2018, 3, 1)),
        ("guest", "russia", 1, D(2018, 3, 1)),
    ]
    assert list(talks.citations.values_list("source__url", "locator", "note")) == [
        ("https://example.org/bulk-report", "p. 1", "")
    ]
    assert Source.objects.filter(url="https://example.org/bulk-report").count() == 1

    # History: one '+' record for every row the import created, as the admin would show it.
    for model, count in ((Event, 2), (Participation, 4), (Citation, 2)):
        records = model.history.model.objects.all()
        assert records.count() == count, model
        assert {(r.history_type, r.history_change_reason, r.history_user_id) for r in records} == {
            ("+", "imported", None)
        }
    record = Event.history.model.objects.get(slug="an-expulsion")
    assert (record.id, record.title, record.quoted_words) == (
        Event.objects.get(slug="an-expulsion").pk,
        "Title of an-expulsion",
        "Unacceptable.",
    )
    assert set(Participation.history.model.objects.values_list("id", flat=True)) == set(
        Participation.objects.values_list("id", flat=True)
    )

    # The derived involvements and country ids are what a full recomputation gives.
    def derived():
        return (
            set(CountryInvolvement.objects.values_list("event_id", "country_id", "as_initiator")),
            sorted(map(repr, Event.objects.values_list("pk", *ARRAYS))),
        )

    written = derived()
    Event.objects.update(**dict.fromkeys(ARRAYS))
    refresh_involvements(list(Event.objects.values_list("pk", flat=True)))
    assert written == derived()
    assert written[0] and not Event.objects.filter(involved_country_ids__isnull=True).exists()


def test_a_bad_row_in_a_later_chunk_leaves_nothing_written(tmp_path, reference_data, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK", 2)
    rows = [
        row(f"event-{n}", citations=citations(f"https://example.org/new-{n}")) for n in range(5)
    ]
    rows[4]["kind"] = "coup"
    sources = Source.objects.count()
    problems, counts, _ = run_import(write(tmp_path, rows))
    assert problems == [(6, "kind", "Value 'coup' is not a valid choice.")]
    assert counts is None
    assert not Event.objects.exists() and not Participation.objects.exists()
    assert not Event.history.model.objects.exists()
    assert not Participation.history.model.objects.exists()
    assert Source.objects.count() == sources
    assert not CountryInvolvement.objects.exists()


def test_the_same_file_in_many_chunks_imports_like_in_one(tmp_path, reference_data, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK", 2)
    rows = [row(f"event-{n}", start_date=f"2018-03-{n + 1:02}") for n in range(5)]
    problems, counts, _ = run_import(write(tmp_path, rows))
    assert (problems, counts["created"]) == ([], 5)
    assert Participation.objects.count() == 10
    # Importing it again changes nothing (and finds no event like itself: it is stored).
    _, counts, duplicates = run_import(write(tmp_path, rows))
    assert (counts["unchanged"], duplicates) == (5, [])


def test_dry_run_writes_nothing(tmp_path, reference_data):
    problems, counts, _ = run_import(write(tmp_path, [row("one"), row("two")]), dry_run=True)
    assert (problems, counts["created"]) == ([], 2)
    assert not Event.objects.exists() and not Event.history.model.objects.exists()


WRITES = ("INSERT", "UPDATE", "DELETE", "COPY", "CREATE", "DROP", "ALTER", "TRUNCATE")


def test_a_dry_run_sends_no_write_to_the_database(tmp_path, reference_data, monkeypatch):
    """A dry run reads: it counts what would be created and updated, across chunks, with new
    actors and sources, and sends the database no statement that writes (it does not write
    and roll back)."""
    monkeypatch.setattr(importing, "CHUNK", 2)
    run_import(write(tmp_path, [row("stored")]))
    stored = Event.objects.get(slug="stored")
    rows = [
        row(
            f"new-{n}",
            start_date=f"2018-04-{n + 1:02}",
            citations=citations(f"https://example.org/new-{n}"),
            participants="initiator:newcomer;target:russia",
        )
        for n in range(4)
    ]
    rows.append(row("stored", title="Changed", version=stored.version))
    path = tmp_path / "events.csv"
    with path.open("w", newline="") as handle:
        out = csv.DictWriter(handle, [*COLUMNS, "version", "actors"])
        out.writeheader()
        actors = json.dumps([{"slug": "newcomer", "name": "A newcomer", "kind": "person"}])
        for n, values in enumerate(rows):
            out.writerow({**values, "actors": actors if n == 0 else ""})
    with CaptureQueriesContext(connection) as queries:
        problems, counts, _ = run_import(str(path), dry_run=True, create_actors=True)
    assert problems == []
    assert (counts["created"], counts["updated"]) == (4, 1)
    sent = [q["sql"].lstrip().upper() for q in queries.captured_queries]
    assert sent and not [sql for sql in sent if sql.startswith(WRITES)]
    assert Event.objects.count() == 1 and Event.objects.get().title != "Changed"
    assert not Event.objects.filter(slug="new-0").exists()


def test_the_duplicate_check_reads_what_was_stored_before_the_import(
    tmp_path, reference_data, monkeypatch
):
    """Rows alike (same kind, day, initiator and target) are checked against the events
    stored before the import, never against the file's own rows written by earlier chunks:
    the finder's work per chunk does not grow with the file (one query a chunk, and its
    answers name stored events only)."""
    monkeypatch.setattr(importing, "CHUNK", 5)
    run_import(write(tmp_path, [row("stored")]))
    calls = []
    real_matches = importing.duplicates.matches

    def counting(candidates, limit=1):
        found = real_matches(candidates, limit)
        calls.append((len([c for c in candidates if c]), found))
        return found

    monkeypatch.setattr(importing.duplicates, "matches", counting)
    rows = [row(f"alike-{n}") for n in range(40)]
    problems, counts, duplicates = run_import(write(tmp_path, rows), publish=True)
    assert (problems, counts["created"]) == ([], 40)
    assert [asked for asked, _ in calls] == [5] * 8
    assert {slug for _, _, slug in duplicates} == {"stored"}
    assert len(duplicates) == 40
    # Imported again under new slugs: each is like the 41 stored ones, and names the first.
    calls.clear()
    rows = [row(f"again-{n}") for n in range(40)]
    _, _, duplicates = run_import(write(tmp_path, rows), publish=True)
    assert [asked for asked, _ in calls] == [5] * 8
    assert {slug for _, _, slug in duplicates} == {"stored"}


@pytest.mark.parametrize("with_countries", [False, True])
def test_duplicates_found_per_chunk_follow_the_definition(tmp_path, with_countries):
    """States with a country are walked through their country's involvements, other actors
    through their participations: the import (a chunk at once) and find_duplicates (one
    event) both find what the definition, recomputed here in Python, finds."""
    countries = [
        make_country(*codes) if with_countries else None
        for codes in (
            ("GB", "GBR", "United Kingdom"),
            ("RU", "RUS", "Russia"),
            ("FR", "FRA", "France"),
        )
    ]
    a, b, c = (
        make_actor(slug=slug, name=slug.upper(), country=country)
        for slug, country in zip(("a", "b", "c"), countries, strict=True)
    )
    # Someone else from a's country, initiating what a also initiates: not a's event.
    envoy = make_actor(slug="envoy", kind="person", country=countries[0])
    make_published_event(kind="expulsion", initiator=envoy, target=b, start_date=D(2018, 3, 14))
    stored = {
        "day": make_published_event(
            kind="expulsion", initiator=a, target=b, start_date=D(2018, 3, 14)
        ),
        "month": make_published_event(
            kind="expulsion",
            initiator=a,
            target=b,
            start_date=D(2018, 3, 1),
            date_precision="month",
        ),
        "other-kind": make_published_event(
            kind="sanction", initiator=a, target=b, start_date=D(2018, 3, 14)
        ),
        "other-target": make_published_event(
            kind="expulsion", initiator=a, target=c, start_date=D(2018, 3, 14)
        ),
        "a-year": make_published_event(
            kind="statement", initiator=a, start_date=D(2017, 1, 1), date_precision="year"
        ),
        # A long event: found only if the walk reaches back far enough before the new one.
        "long": make_published_event(
            kind="agreement",
            initiator=a,
            target=b,
            start_date=D(2000, 1, 1),
            end_date=D(2020, 1, 1),
        ),
    }
    both = make_published_event(kind="meeting", initiator=a, start_date=D(2019, 5, 5))
    Participation.objects.create(event=both, actor=b, role=Role.INITIATOR)
    new = [
        ("expulsion", "2018-03-14", "initiator:a;target:b"),  # the month (earlier), not the day
        ("expulsion", "2018-03-20", "initiator:a;target:c"),  # no: other-target is the 14th
        ("expulsion", "2018-03-31", "target:b"),  # the month, by its target alone
        ("sanction", "2018-03-14", "initiator:a;target:b"),
        ("statement", "2017-06-01", "initiator:a"),
        ("statement", "2017-06-01", "initiator:a;target:c"),  # no: c is not a target there
        ("agreement", "2019-05-05", "initiator:a;target:b"),
        ("meeting", "2019-05-05", "initiator:b;initiator:a"),
        ("meeting", "2019-05-05", "initiator:a;initiator:c"),
        ("summit", "2018-03-14", "host:a;guest:b"),  # no initiator or target: never flagged
        ("expulsion", "2018-03-14", "initiator:envoy;target:c"),  # no
        ("expulsion", "2018-03-14", "initiator:a;target:envoy"),  # no
    ]
    rows = [
        row(f"new-{n}", kind=kind, start_date=day, participants=participants, citations="")
        for n, (kind, day, participants) in enumerate(new)
    ]
    problems, _, duplicates = run_import(write(tmp_path, rows), dry_run=True)
    assert problems == []

    ids = {"a": a.pk, "b": b.pk, "c": c.pk, "envoy": envoy.pk}
    stored_events = [
        (event, {(p.role, p.actor_id) for p in event.participations.all()})
        for event in Event.objects.order_by("start_date", "id")
    ]
    expected = []
    for n, (kind, day, participants) in enumerate(new):
        wanted = set()
        for pair in participants.split(";"):
            role, slug = pair.split(":")
            if role in (Role.INITIATOR, Role.TARGET):
                wanted.add((role, ids[slug]))
        first_day = D.fromisoformat(day)
        alike = [
            event
            for event, sides in stored_events
            if wanted
            and event.kind == kind
            and event.start_date <= first_day <= event.period_end
            and wanted <= sides
        ]
        found = find_duplicates(
            kind,
            first_day,
            None,
            "day",
            [actor for role, actor in wanted if role == Role.INITIATOR],
            [actor for role, actor in wanted if role == Role.TARGET],
        )
        assert list(found) == alike, (n, kind, day, participants)
        if alike:
            expected.append((n + 2, f"new-{n}", alike[0].slug))
    assert duplicates == expected
    assert [slug for _, _, slug in duplicates] == [
        stored["month"].slug,
        stored["month"].slug,
        stored["other-kind"].slug,
        stored["a-year"].slug,
        stored["long"].slug,
        both.slug,
    ]


def test_duplicates_are_all_counted_and_the_first_listed(tmp_path, reference_data, monkeypatch):
    """A file of copies keeps no line per row in memory: the first DUPLICATES_LISTED are
    listed, all are counted, and the command says how many it did not list."""
    monkeypatch.setattr(importing, "DUPLICATES_LISTED", 3)
    run_import(write(tmp_path, [row("stored")]))
    path = write(tmp_path, [row(f"copy-{n}") for n in range(5)])
    _, counts, duplicates = run_import(path, dry_run=True)
    assert (counts["duplicates"], len(duplicates)) == (5, 3)
    out = io.StringIO()
    call_command("import_events", path, "--dry-run", stdout=out, stderr=io.StringIO())
    assert out.getvalue().count("looks like a duplicate of 'stored'") == 3
    assert "… and 2 more rows that look like duplicates (the first 3 are listed)" in out.getvalue()


def test_an_update_rederives_only_what_its_changes_reach(tmp_path, reference_data):
    """A changed title leaves the derived rows alone (no statement touches them); a changed
    date refreshes them, as a full recomputation would."""
    run_import(write(tmp_path, [row("talks")]), publish=True)
    event = Event.objects.get(slug="talks")

    def update(**fields):
        path = tmp_path / "update.csv"
        with path.open("w", newline="") as handle:
            out = csv.DictWriter(handle, [*COLUMNS, "version"])
            out.writeheader()
            version = Event.objects.get(pk=event.pk).version
            out.writerow({**row("talks"), **fields, "version": version})
        with CaptureQueriesContext(connection) as queries:
            problems, counts, _ = run_import(str(path), publish=True)
        assert (problems, counts["updated"]) == ([], 1)
        return [q["sql"] for q in queries.captured_queries]

    sent = update(title="Renamed")
    assert not [sql for sql in sent if "events_countryinvolvement" in sql]
    assert not [sql for sql in sent if "events_aggregatecell" in sql]
    sent = update(title="Renamed", start_date="2018-03-20")
    assert [sql for sql in sent if "events_countryinvolvement" in sql]
    assert set(CountryInvolvement.objects.values_list("start_date", flat=True)) == {D(2018, 3, 20)}
    kept = set(CountryInvolvement.objects.values_list("event_id", "country_id", "start_date"))
    refresh_involvements([event.pk])
    assert kept == set(
        CountryInvolvement.objects.values_list("event_id", "country_id", "start_date")
    )
