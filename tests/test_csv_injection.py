"""CSV injection: every CSV cell a spreadsheet would read as a formula is written with a `'` in
front, numbers are not, and the import takes the `'` off again, so that an export imports back
and exports to the same bytes (docs/csv.md, "Formulas")."""

import csv
import datetime
import io
import itertools

import pytest
from django.core.management import call_command

from events import aggregates
from events.api_csv import neutralise, restore
from events.models import Citation, Event, EventKind, Participation, Role
from tests.factories import make_actor, make_event, make_source

pytestmark = pytest.mark.django_db

TRIGGERS = ["=", "+", "-", "@", "\t", "\r"]


@pytest.mark.parametrize("first", TRIGGERS)
def test_a_text_starting_with_a_formula_character_gets_a_quote(first):
    assert neutralise(first + 'HYPERLINK("http://x")') == "'" + first + 'HYPERLINK("http://x")'
    # Quotes already in front count: one more goes on, and comes off again.
    assert neutralise("'" + first + "1") == "''" + first + "1"
    assert restore("''" + first + "1") == "'" + first + "1"


@pytest.mark.parametrize(
    "cell", ["-7.0", "-4", "+3", "-0.5", ".5", "-1e5", 60, -7.0, None, "", "'", "'quoted", "a=b"]
)
def test_numbers_and_other_texts_are_written_as_they_are(cell):
    assert neutralise(cell) == cell
    if isinstance(cell, str):
        assert restore(cell) == cell


@pytest.mark.parametrize("cell", ["-7.0x", "-1+1", "--1", "-", "+", "-٣", "-1\r", "-1 "])
def test_what_is_not_quite_a_number_is_guarded(cell):
    assert neutralise(cell) == "'" + cell


def test_every_short_text_comes_back_unchanged():
    # Every text of up to four characters from an alphabet of the characters that matter.
    alphabet = "'=+-@\t\r1.a "
    for length in range(5):
        for letters in itertools.product(alphabet, repeat=length):
            text = "".join(letters)
            written = neutralise(text)
            assert restore(written) == text, repr(text)
            assert written[:1] not in TRIGGERS or written == text, repr(text)


# (column, value) pairs stored on events, each cell starting with a formula's character.
TEXTS = {
    "title": '=HYPERLINK("https://evil.example","Click")',
    "summary": "+cmd|' /C calc'!A0",
    "place": "-2+3+cmd",
    "quoted_words": "@SUM(1+1)*cmd",
}


def make_events():
    """Events whose texts start with each formula character, one already starting with `'=`
    and one a plain number, citing with a locator and a note that start with one too."""
    actor, other = make_actor(slug="-initiator"), make_actor(slug="target")
    source = make_source(url="https://example.org/-formula", title="=Source title")
    events = []
    for n, first in enumerate([*TRIGGERS, "'=", "''+", "-7.0"]):
        # A title and a place are trimmed by every write path (the import and the API alike),
        # so only the other texts can start with a tab or a carriage return.
        trimmed = first.strip() or "="
        event = make_event(
            kind=EventKind.STATEMENT,
            slug=f"-statement-{n}" if first == "-" else f"statement-{n}",
            title=trimmed + "CMD title",
            summary=first + "summary\nsecond line",
            place=trimmed + "place",
            quoted_words=first + "quoted",
            start_date=datetime.date(2018, 3, 1 + n),
        )
        events.append(event)
    events.append(make_event(kind=EventKind.EXPULSION, slug="expulsion", **TEXTS))
    events.append(make_event(slug="numbers", title="-12", place="+3.5", summary="-1e3"))
    for event in events:
        Participation.objects.create(event=event, actor=actor, role=Role.INITIATOR)
        Participation.objects.create(event=event, actor=other, role=Role.TARGET)
        Citation.objects.create(event=event, source=source, locator="=para. 1", note="@note")
    return events


def export(path):
    call_command("export_events", output=str(path))
    return path.read_bytes()


def rows(data):
    return {row["slug"]: row for row in csv.DictReader(io.StringIO(data.decode(), newline=""))}


def test_the_export_guards_every_formula_and_leaves_numbers_alone(tmp_path):
    make_events()
    exported = rows(export(tmp_path / "events.csv"))
    for column in ("title", "summary", "place", "quoted_words"):
        for n, first in enumerate(TRIGGERS):
            slug = f"'-statement-{n}" if first == "-" else f"statement-{n}"
            if column in ("title", "place"):
                first = first.strip() or "="
            assert exported[slug][column].startswith("'" + first)
        assert exported["statement-6"][column].startswith("''=")
        assert exported["statement-7"][column].startswith("'''+")
        # A text that is a number at its start only is still a text.
        assert exported["statement-8"][column].startswith("'-7.0")
        assert exported["expulsion"][column] == "'" + TEXTS[column]
    # The locator and note are inside the citations' JSON, which starts with `[`.
    assert exported["expulsion"]["citations"].startswith('[{"source_url": ')
    assert '"locator": "=para. 1"' in exported["expulsion"]["citations"]
    # A number stays a number: the expulsion's Goldstein value is negative.
    assert exported["expulsion"]["goldstein"] == "-4.0"
    assert exported["expulsion"]["cameo_code"] == "161"
    # So is a text that is a number as a whole.
    assert [exported["numbers"][c] for c in ("title", "place", "summary")] == [
        "-12",
        "+3.5",
        "-1e3",
    ]


def test_export_import_export_gives_the_same_bytes(tmp_path):
    make_events()
    first = export(tmp_path / "first.csv")
    stored = {e.slug: (e.title, e.summary, e.place, e.quoted_words) for e in Event.objects.all()}
    Event.objects.all().delete()
    call_command("import_events", str(tmp_path / "first.csv"), verbosity=0, stdout=io.StringIO())
    # The texts are the ones stored, without the export's quotes.
    assert {
        e.slug: (e.title, e.summary, e.place, e.quoted_words) for e in Event.objects.all()
    } == stored
    assert Citation.objects.filter(locator="=para. 1", note="@note").count() == len(stored)
    assert export(tmp_path / "second.csv") == first


def test_a_hand_written_file_is_read_by_the_same_rule(tmp_path):
    make_actor(slug="initiator")
    path = tmp_path / "events.csv"
    path.write_text(
        "slug,kind,title,summary,place,start_date,date_precision,status,participants\n"
        "one,statement,'=SUM(A1),'hello,''@x,2018-03-01,day,occurred,initiator:initiator\n",
        encoding="utf-8",
    )
    call_command("import_events", str(path), verbosity=0, stdout=io.StringIO())
    event = Event.objects.get(slug="one")
    # One quote comes off where a formula's character follows; a quote before text stays.
    assert (event.title, event.summary, event.place) == ("=SUM(A1)", "'hello", "'@x")


def test_the_api_csv_guards_formulas(client):
    make_events()
    for event in Event.objects.all():
        event.review_state = "published"
        event.save()
    response = client.get("/api/events/?format=csv")
    assert response.status_code == 200
    exported = rows(b"".join(response.streaming_content))
    assert exported["expulsion"]["title"] == "'" + TEXTS["title"]
    assert exported["expulsion"]["goldstein"] == "-4.0"
    assert exported["'-statement-2"]["place"] == "'-place"


def test_the_aggregates_csv_guards_its_keys_and_not_its_numbers():
    measures = dict.fromkeys(aggregates.MEASURE_NAMES, 0) | {"goldstein_mean": -7.0}
    result = aggregates.Result(["actor"], [{"actor": "-initiator", **measures}], {}, 0)
    (row,) = csv.DictReader(io.StringIO(aggregates.as_csv(result)))
    assert row["actor"] == "'-initiator"
    assert row["goldstein_mean"] == "-7.0"
