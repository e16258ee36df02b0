"""import_events and export_events: validation, dry run, idempotence, updates, round trip,
actors, duplicates."""

import csv
import io
import json

import pytest
from django.core.management import call_command

from events.models import Actor, Event, Participation, Source

pytestmark = pytest.mark.django_db

HEADER = (
    "slug,kind,mode,title,summary,start_date,end_date,date_precision,status,location_country,"
    "place,expelled_low,expelled_best,expelled_high,quoted_words,review_state,participants,"
    "citations,links,linked_from,version"
)
CITE = json.dumps(
    [
        {
            "source_url": "https://example.org/report",
            "source_title": "A report",
            "source_publisher": "Example News",
            "source_published_on": "2018-03-27",
            "locator": "para. 2",
            "note": "Says so.",
        }
    ]
)


def row(**fields):
    values = {
        "slug": "ru-expels-23-british-diplomats",
        "kind": "expulsion",
        "title": "Russia expels 23 British diplomats",
        "start_date": "2018-03-17",
        "date_precision": "day",
        "status": "occurred",
        "location_country": "RU",
        "expelled_low": "23",
        "expelled_best": "23",
        "expelled_high": "23",
        "review_state": "published",
        "participants": "initiator:russia;target:united-kingdom",
        "citations": CITE,
        "links": "",
    }
    values.update(fields)
    buffer = io.StringIO()
    csv.DictWriter(buffer, HEADER.split(",")).writerow(values)
    return buffer.getvalue()


def write(tmp_path, *rows, name="events.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "".join(rows))
    return str(path)


def run(*args, **options):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_events", *args, stdout=out, stderr=err, verbosity=0, **options)
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def reference_data():
    call_command("loaddata", "countries", "actors", "sources", verbosity=0)


def test_a_good_file_imports_as_drafts(tmp_path):
    code, out, _ = run(write(tmp_path, row()))
    assert code == 0
    assert out.strip() == "Created 1, updated 0, left 0 unchanged."
    event = Event.objects.get(slug="ru-expels-23-british-diplomats")
    assert (event.expelled_low, event.expelled_best, event.expelled_high) == (23, 23, 23)
    assert (event.review_state, event.cameo_code) == ("draft", "161")
    assert set(event.participations.values_list("role", "actor__slug")) == {
        ("initiator", "russia"),
        ("target", "united-kingdom"),
    }
    citation = event.citations.get()
    assert (citation.source.url, citation.locator) == ("https://example.org/report", "para. 2")
    assert Source.objects.get(url="https://example.org/report").publisher == "Example News"
    assert event.history.count() == 1


def test_publish_honours_the_publish_rules(tmp_path):
    code, _, err = run(write(tmp_path, row(citations="")), publish=True)
    assert code == 1
    assert "row 2, column citations: a published event keeps at least one citation" in err
    assert run(write(tmp_path, row()), publish=True)[0] == 0
    assert Event.objects.get().review_state == "published"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"start_date": "2018-13-45"}, "row 3, column start_date: '2018-13-45' is not an ISO date"),
        ({"kind": "coup"}, "row 3, column kind: Value 'coup' is not a valid choice."),
        ({"end_date": "2018-03-01"}, "row 3, column end_date: An event cannot end before it"),
        ({"expelled_best": "0"}, "row 3, column expelled_best: The number of people expelled"),
        ({"expelled_high": "many"}, "row 3, column expelled_high: 'many' is not a whole number"),
        (
            {"expelled_low": "24"},
            "row 3, column expelled_best: The estimates of people expelled are in order: "
            "low ≤ best ≤ high.",
        ),
        (
            {"kind": "meeting"},
            "row 3, column expelled_low: Only an expulsion has a number of people expelled.",
        ),
        ({"location_country": "XX"}, "row 3, column location_country: unknown country code 'XX'"),
        (
            {"participants": "initiator:nobody"},
            "row 3, column participants: unknown actor 'nobody'",
        ),
        ({"participants": "boss:russia"}, "row 3, column participants: unknown role 'boss'"),
        ({"citations": "not json"}, "row 3, column citations: not a JSON list of citations"),
        ({"links": "responds_to:no-such-event"}, "row 3, column links: unknown event"),
        ({"links": "inspired:russia"}, "row 3, column links: unknown link kind 'inspired'"),
        ({"mode": "visit"}, "row 3, column mode: This mode does not apply to this kind of event."),
    ],
)
def test_each_bad_row_is_reported_and_nothing_is_written(tmp_path, fields, message):
    good = row(slug="a-good-row")
    code, _, err = run(write(tmp_path, good, row(**fields)))
    assert code == 1
    assert message in err
    assert "nothing was written" in err
    assert not Event.objects.exists()


def test_every_problem_of_every_row_is_listed(tmp_path):
    code, _, err = run(
        write(tmp_path, row(slug="one", kind="coup"), row(slug="two", start_date="x"))
    )
    assert code == 1
    assert "row 2, column kind" in err and "row 3, column start_date" in err


def test_dry_run_reports_and_writes_nothing(tmp_path):
    path = write(tmp_path, row())
    code, out, _ = run(path, dry_run=True)
    assert code == 0
    assert "Would create 1, would update 0, left 0 unchanged (dry run" in out
    assert not Event.objects.exists()


def test_importing_twice_changes_nothing_and_a_changed_row_updates(tmp_path):
    run(write(tmp_path, row()))
    _code, out, _ = run(write(tmp_path, row()))
    assert out.strip() == "Created 0, updated 0, left 1 unchanged."
    event = Event.objects.get()
    assert (event.version, event.history.count()) == (1, 1)
    changed = row(
        title="Russia expels 23 UK diplomats", participants="initiator:russia", version="1"
    )
    _, out, _ = run(write(tmp_path, changed))
    assert out.strip() == "Created 0, updated 1, left 0 unchanged."
    event.refresh_from_db()
    assert event.title == "Russia expels 23 UK diplomats"
    assert event.version == 2
    assert list(event.participations.values_list("actor__slug", flat=True)) == ["russia"]
    assert event.history.first().history_change_reason == "imported"
    assert event.history.count() == 2


def test_unknown_actors_are_refused_or_created(tmp_path):
    """A CSV import may carry an `actors` column: the name and kind of actors to create."""
    actors = [{"slug": "lithuania", "name": "Lithuania", "kind": "state", "country": "LT"}]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["slug", "kind", "title", "start_date", "participants", "actors"])
    writer.writerow(
        [
            "lt-expels",
            "expulsion",
            "Lithuania expels three Russian diplomats",
            "2018-03-26",
            "initiator:lithuania;target:russia",
            json.dumps(actors),
        ]
    )
    path = tmp_path / "actors.csv"
    path.write_text(buffer.getvalue())
    code, _, err = run(str(path))
    assert code == 1 and "unknown actor 'lithuania' (--create-actors" in err
    assert not Actor.objects.filter(slug="lithuania").exists()
    code, _, _ = run(str(path), create_actors=True)
    assert code == 0
    assert Actor.objects.get(slug="lithuania").country.code == "LT"
    assert Event.objects.get(slug="lt-expels").participations.count() == 2


def test_duplicates_are_flagged_and_can_be_skipped(tmp_path):
    call_command("loaddata", "events", verbosity=0)
    duplicate = row(
        slug="uk-expels-russians",
        title="Britain expels Russian diplomats",
        start_date="2018-03-14",
        location_country="GB",
        participants="initiator:united-kingdom;target:russia",
    )
    _code, out, _ = run(write(tmp_path, duplicate), dry_run=True)
    assert "row 2: 'uk-expels-russians' looks like a duplicate of " in out
    assert "'2018-03-14-uk-expels-23-russian-diplomats'" in out
    _, out, _ = run(write(tmp_path, duplicate), skip_duplicates=True)
    assert "skipped 1 duplicates" in out
    assert not Event.objects.filter(slug="uk-expels-russians").exists()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_into_an_empty_database_exports_the_same_file(tmp_path, fmt):
    call_command("loaddata", "events", verbosity=0)
    first = tmp_path / f"first.{fmt}"
    call_command("export_events", format=fmt, output=str(first))
    Event.objects.all().delete()
    Participation.objects.all().delete()
    assert run(str(first), publish=True)[0] == 0
    second = tmp_path / f"second.{fmt}"
    call_command("export_events", format=fmt, output=str(second))
    assert first.read_text() == second.read_text()
    assert len(first.read_text().splitlines()) > 25


def test_export_takes_the_api_filters(tmp_path):
    call_command("loaddata", "events", verbosity=0)
    out = tmp_path / "expulsions.csv"
    call_command("export_events", kind="expulsion", initiator="usa", output=str(out))
    rows = list(csv.DictReader(out.open()))
    # Only the United States' own 60: the coordinated expulsion is its coalition's.
    assert {r["slug"] for r in rows} == {"2018-03-26-united-states-expels-60-russian-diplomats"}
