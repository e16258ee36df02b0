"""What an import takes in (issue 11), through `import_events` and the admin's import page:
JSON nested past the stated limit is a problem of its row; a file that cannot be read on is a
problem at its line; numbers and texts are held to the API's rules with the rules' own
messages; no column or key is left unread; and whatever the API accepts exports and imports
back."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from huey.contrib.djhuey import HUEY
from rest_framework.test import APIClient

from events import importing
from events.groups import CURATORS
from events.importing import JSON_MAX_DEPTH, TEXT_MAX_LENGTH
from events.models import Actor, Citation, Event, Participation, Source
from tests.factories import make_event
from tests.test_admin import make_user

pytestmark = pytest.mark.django_db

IMPORT = "/admin/events/event/import/"
SOURCE = "https://www.gov.uk/government/news/novichok-nerve-agent-use-in-salisbury-uk-government-response"
CITATIONS = [{"source_url": SOURCE, "locator": "para. 2", "note": "Says so."}]
# The file: an event whose summary is an object nested 10,000 deep.
DEEP = 10_000


@pytest.fixture(autouse=True)
def reference_data():
    call_command("loaddata", "countries", "actors", "sources", verbosity=0)


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, settings):
    """Admin uploads wait in the test's own directory."""
    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"


@pytest.fixture(autouse=True)
def jobs_run_at_once(monkeypatch):
    """The admin's import jobs run inside the request that queues them (tests/test_import_jobs.py
    runs them through a real queue and worker)."""
    monkeypatch.setattr(HUEY, "immediate", True)


@pytest.fixture
def curator_client(client):
    client.force_login(make_user("carla", "curators"))
    return client


def event(**fields):
    """An event as the API's JSON gives it (what a JSON file holds)."""
    return {
        "slug": "example-a-meeting",
        "kind": "meeting",
        "title": "Example: a meeting",
        "start_date": "2019-05-06",
        "participants": [
            {"actor": "russia", "role": "initiator"},
            {"actor": "united-kingdom", "role": "target"},
        ],
        "citations": CITATIONS,
        **fields,
    }


def row(**fields):
    """The same event as a CSV row (a dict by column)."""
    return {
        "slug": "example-a-meeting",
        "kind": "meeting",
        "title": "Example: a meeting",
        "start_date": "2019-05-06",
        "participants": "initiator:russia;target:united-kingdom",
        "citations": json.dumps(CITATIONS),
        **fields,
    }


def csv_text(*rows):
    """A CSV file with the columns the rows use (dicts), in their order."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(dict.fromkeys(name for r in rows for name in r)))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def json_text(*events):
    """A list of events, one a line, as `export_events` writes them."""
    return "[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n]\n"


def deeply_nested(levels):
    return '{"a": ' * levels + "1" + "}" * levels


def write(tmp_path, content, name):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def run(*args, **options):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_events", *args, stdout=out, stderr=err, verbosity=0, **options)
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, out.getvalue(), err.getvalue()


def problems_of(tmp_path, content, name, **options):
    """The command's exit status and its problem lines (the summary line left out)."""
    code, _, err = run(write(tmp_path, content, name), **options)
    lines = err.splitlines()
    if code:
        assert lines[-1] == f"{len(lines) - 1} problem(s); nothing was written."
        lines = lines[:-1]
    return code, lines


def admin_problems(client, content, name):
    data = content if isinstance(content, bytes) else content.encode()
    response = client.post(IMPORT, {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert not page.context["job"].confirmable  # nothing to confirm
    return page.context["report"]["problems"]


# --- 1. JSON nested deeper than the limit ----------------------------------------------------


def test_json_nested_10000_deep_is_a_problem_of_its_row_and_nothing_is_written(tmp_path):
    deep = '{"slug": "example-deep", "kind": "meeting", "summary": ' + deeply_nested(DEEP) + "}"
    content = "[\n" + json.dumps(event()) + ",\n" + deep + "\n]\n"
    code, problems = problems_of(tmp_path, content, "events.json")
    assert code == 1
    assert problems == [
        f"row 2, column summary: nested deeper than {JSON_MAX_DEPTH} levels, "
        "the import's limit (line 3)"
    ]
    assert not Event.objects.exists()


def test_a_file_that_is_one_event_nested_10000_deep_is_row_1(tmp_path):
    content = '{"slug": "example-deep",\n "summary": ' + deeply_nested(DEEP) + "}"
    code, problems = problems_of(tmp_path, content, "event.json")
    assert code == 1
    assert problems == [
        f"row 1, column summary: nested deeper than {JSON_MAX_DEPTH} levels, "
        "the import's limit (line 2)"
    ]


def test_a_csv_cell_of_json_nested_10000_deep_is_a_problem_of_its_row(tmp_path):
    deep = "[" * DEEP + "]" * DEEP
    content = csv_text(row(), row(slug="example-deep", citations=deep))
    code, problems = problems_of(tmp_path, content, "events.csv")
    assert code == 1
    assert problems == [
        f"row 3, column citations: nested deeper than {JSON_MAX_DEPTH} levels, the import's "
        "limit (the cell's list is level 2)"
    ]
    assert not Event.objects.exists()


def test_nesting_is_read_up_to_the_limit_and_refused_past_it(tmp_path):
    # The event is level 1, so a key's value may hold JSON_MAX_DEPTH - 1 levels.
    at_limit = json.loads(deeply_nested(JSON_MAX_DEPTH - 1))
    past_limit = json.loads(deeply_nested(JSON_MAX_DEPTH))
    content = json_text(event(extra=at_limit), event(slug="example-two", extra=past_limit))
    _, problems = problems_of(tmp_path, content, "events.json")
    assert problems == [
        "row 1, column extra: unknown key: the import does not read it",
        f"row 2, column extra: nested deeper than {JSON_MAX_DEPTH} levels, the import's "
        "limit (line 3)",
    ]


def test_the_admin_reports_json_nested_10000_deep_instead_of_failing(curator_client):
    content = '{"slug": "example-deep", "summary": ' + deeply_nested(DEEP) + "}"
    assert admin_problems(curator_client, content, "events.json") == [
        f"row 1, column summary: nested deeper than {JSON_MAX_DEPTH} levels, "
        "the import's limit (line 1)"
    ]
    assert not Event.objects.exists()


# --- 2. A file that cannot be read on: a problem at its line --------------------------------


def test_a_json_syntax_error_names_its_line(tmp_path):
    broken = json.dumps(event(slug="example-two")).replace('"kind"', '"kind" "meeting",', 1)
    content = "[\n" + json.dumps(event()) + ",\n" + broken + "\n]\n"
    code, problems = problems_of(tmp_path, content, "events.json")
    assert code == 1
    assert problems == ["line 3: the file is not valid JSON: expecting ':' delimiter"]


def test_a_json_list_that_is_not_closed_names_its_last_line(tmp_path):
    content = "[\n" + json.dumps(event()) + ",\n"
    _, problems = problems_of(tmp_path, content, "events.json")
    assert problems == ["line 3: the file is not valid JSON: it ends inside the list"]


@pytest.mark.parametrize("name", ["events.csv", "events.json"])
def test_a_byte_that_is_not_utf8_names_its_line(tmp_path, name):
    if name.endswith("csv"):
        text = csv_text(row(), row(slug="example-two"))
    else:
        text = json_text(event(), event(slug="example-two"))
    lines = text.encode().split(b"\n")
    lines[2] = lines[2].replace(b"Example", b"Ex\xffample", 1)
    code, problems = problems_of(tmp_path, b"\n".join(lines), name)
    assert code == 1
    assert problems == [
        "line 3: the file is not UTF-8 text: save it as UTF-8 (byte 0xFF cannot be read)"
    ]


def test_a_csv_error_names_its_line(tmp_path, monkeypatch):
    monkeypatch.setattr(importing, "CSV_FIELD_SIZE_LIMIT", 100)
    content = csv_text(row(citations=""), row(slug="example-two", summary="x" * 101))
    _, problems = problems_of(tmp_path, content, "events.csv")
    assert problems == ["line 3: the file is not valid CSV: field larger than field limit (100)"]


def test_the_admin_names_the_line_of_a_file_problem(curator_client):
    broken = json_text(event()).replace('"kind"', '"kind" "meeting",', 1)
    assert admin_problems(curator_client, broken, "events.json") == [
        "The file is not valid JSON: expecting ':' delimiter (line 2)."
    ]
    not_utf8 = csv_text(row()).encode().replace(b"Example", b"Ex\xffample")
    assert admin_problems(curator_client, not_utf8, "events.csv") == [
        "The file is not UTF-8 text: save it as UTF-8 (byte 0xFF cannot be read) (line 2)."
    ]


# --- 3. Numbers: the actual rule, in the rule's own words -----------------------------------

AT_LEAST_ONE = "The number of people expelled is at least 1."
ORDERED = "The estimates of people expelled are in order: low ≤ best ≤ high."
ESTIMATES = ["expelled_low", "expelled_best", "expelled_high"]


@pytest.mark.parametrize("column", ESTIMATES)
@pytest.mark.parametrize(
    ("count", "message"),
    [
        ("-1", AT_LEAST_ONE),
        ("0", AT_LEAST_ONE),
        ("-2147483649", AT_LEAST_ONE),
        ("2147483648", "Ensure this value is less than or equal to 2147483647."),
        ("1.5", "'1.5' is not a whole number"),
    ],
)
def test_an_estimate_of_people_expelled_in_a_csv_is_held_to_the_api_rule(
    tmp_path, column, count, message
):
    content = csv_text(row(kind="expulsion", **{column: count}))
    code, problems = problems_of(tmp_path, content, "events.csv")
    assert code == 1
    assert problems == [f"row 2, column {column}: {message}"]


@pytest.mark.parametrize("column", ESTIMATES)
@pytest.mark.parametrize(
    ("count", "message"),
    [
        (-1, AT_LEAST_ONE),
        (0, AT_LEAST_ONE),
        (2_147_483_648, "Ensure this value is less than or equal to 2147483647."),
        (1.5, "1.5 is not a whole number"),
        (True, "True is not a whole number"),
    ],
)
def test_an_estimate_of_people_expelled_in_json_is_held_to_the_api_rule(
    tmp_path, column, count, message
):
    content = json_text(event(kind="expulsion", **{column: count}))
    _, problems = problems_of(tmp_path, content, "events.json")
    assert problems == [f"row 1, column {column}: {message}"]


@pytest.mark.parametrize(
    ("estimates", "problem"),
    [
        ({"expelled_low": "61", "expelled_best": "60"}, f"column expelled_best: {ORDERED}"),
        ({"expelled_best": "90", "expelled_high": "80"}, f"column expelled_best: {ORDERED}"),
        ({"expelled_low": "90", "expelled_high": "80"}, f"column expelled_best: {ORDERED}"),
        (
            {"kind": "meeting", "expelled_low": "101"},
            "column expelled_low: Only an expulsion has a number of people expelled.",
        ),
    ],
)
def test_estimates_out_of_order_or_outside_an_expulsion_name_the_row(tmp_path, estimates, problem):
    good = row(kind="expulsion", slug="example-good", expelled_low="101")
    bad = row(**{"kind": "expulsion", **estimates})
    code, problems = problems_of(tmp_path, csv_text(good, bad), "events.csv")
    assert code == 1
    assert problems == [f"row 3, {problem}"]
    assert not Event.objects.exists()
    as_json = json_text(event(kind="expulsion", slug="example-good"), event(**bad_json(bad)))
    assert problems_of(tmp_path, as_json, "events.json")[1] == [f"row 2, {problem}"]


def bad_json(row):
    """A CSV row's estimates and kind as a JSON event gives them (numbers, not text)."""
    return {
        name: int(value) if name in ESTIMATES else value
        for name, value in row.items()
        if name in (*ESTIMATES, "kind")
    }


def test_the_admin_states_the_estimates_rules(curator_client):
    content = csv_text(row(kind="expulsion", expelled_best="-1"))
    assert admin_problems(curator_client, content, "events.csv") == [
        f"row 2, column expelled_best: {AT_LEAST_ONE}"
    ]
    content = csv_text(row(kind="expulsion", expelled_best="30", expelled_high="20"))
    assert admin_problems(curator_client, content, "events.csv") == [
        f"row 2, column expelled_best: {ORDERED}"
    ]


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize(
    "estimates",
    [(60, 60, 60), (101, None, None), (50, 60, 80), (60, None, 80), (None, 60, None)],
)
def test_the_estimates_of_people_expelled_export_and_import_back(tmp_path, fmt, estimates):
    low, best, high = estimates
    make_event(
        kind="expulsion",
        slug="example-expelled",
        expelled_low=low,
        expelled_best=best,
        expelled_high=high,
    )
    export_and_import_back(tmp_path, fmt, "expelled")
    stored = Event.objects.get(slug="example-expelled")
    assert (stored.expelled_low, stored.expelled_best, stored.expelled_high) == estimates


# --- 4. No column or key left unread --------------------------------------------------------


def test_unknown_csv_columns_are_reported_once_for_the_header(tmp_path):
    rows = [row(slug=f"example-{n}", sumary="A misspelt summary", colour="red") for n in range(3)]
    code, problems = problems_of(tmp_path, csv_text(*rows), "events.csv")
    assert code == 1
    assert problems == [
        "row 1, column colour: unknown column: the import does not read it (docs/csv.md)",
        "row 1, column sumary: unknown column: the import does not read it (docs/csv.md)",
    ]
    assert not Event.objects.exists()


def test_a_csv_row_with_more_cells_than_columns_is_a_problem(tmp_path):
    content = csv_text(row()) + "example-two,meeting,Two,2019-05-07,,,a cell too many\n"
    _, problems = problems_of(tmp_path, content, "events.csv")
    assert problems == ["row 3: more cells than the header has columns"]


def test_unknown_json_keys_are_reported_with_their_row(tmp_path):
    misspelt = event(
        slug="example-two",
        sumary="A misspelt summary",
        location={"countri": "RU"},
        citations=[{**CITATIONS[0], "notes": "A misspelt note"}],
    )
    code, problems = problems_of(tmp_path, json_text(event(), misspelt), "events.json")
    assert code == 1
    assert problems == [
        "row 2, column citations: unknown key 'notes': the import does not read it",
        "row 2, column location: unknown key 'countri': the import does not read it",
        "row 2, column sumary: unknown key: the import does not read it",
    ]
    assert not Event.objects.exists()


def test_the_admin_reports_an_unknown_column(curator_client):
    content = csv_text(row(sumary="A misspelt summary"))
    assert admin_problems(curator_client, content, "events.csv") == [
        "row 1, column sumary: unknown column: the import does not read it (docs/csv.md)"
    ]


def make_full_event(summary="A summary.", quoted_words="Words.", note="A note."):
    """An event with every field and child an export writes: mode, dates, place, count,
    quoted words, participants, citations, and links in both directions."""
    russia, uk = Actor.objects.get(slug="russia"), Actor.objects.get(slug="united-kingdom")
    earlier = make_event(kind="expulsion", slug="example-earlier", title="Earlier")
    full = make_event(
        kind="expulsion",
        slug="example-full",
        title="Example: a full event",
        summary=summary,
        quoted_words=quoted_words,
        end_date=earlier.start_date,
        place="Moscow",
        location_country=russia.country,
        expelled_low=21,
        expelled_best=23,
        expelled_high=25,
    )
    for position, (actor, role) in enumerate([(russia, "initiator"), (uk, "target")]):
        Participation.objects.create(event=full, actor=actor, role=role, position=position)
    for locator, source in zip(
        ["para. 1", "para. 2"], Source.objects.order_by("url")[:2], strict=True
    ):
        Citation.objects.create(event=full, source=source, locator=locator, note=note)
    full.outgoing_links.create(to_event=earlier, kind="retaliates_for")
    earlier.outgoing_links.create(to_event=full, kind="follows_up")
    return full


def export_and_import_back(tmp_path, fmt, name):
    first = tmp_path / f"{name}-first.{fmt}"
    call_command("export_events", format=fmt, output=str(first))
    Event.objects.all().delete()
    code, out, err = run(str(first))
    assert (code, err) == (0, ""), err
    second = tmp_path / f"{name}-second.{fmt}"
    call_command("export_events", format=fmt, output=str(second))
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")
    return out


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_every_column_an_export_writes_imports_back(tmp_path, fmt):
    make_full_event()
    out = export_and_import_back(tmp_path, fmt, "full")
    assert out.strip() == "Created 2, updated 0, left 0 unchanged."


# --- 5. Texts: what the API accepts imports back, and no more --------------------------------

# Quotes, commas, semicolons, newlines and letters beyond ASCII, as curators write them.
PROSE = 'Он сказал: "нет, никогда"; — „gut“, 1,5 Mio. €.\nLe ministre : « non ».\n'


def text_of(length):
    return (PROSE * (length // len(PROSE) + 1))[: length - 1] + "."


def test_the_api_accepts_texts_at_the_limit():
    user = User.objects.create_user("cora", password="pw")
    user.groups.add(Group.objects.get(name=CURATORS))
    client = APIClient()
    client.force_authenticate(user)
    body = {
        "slug": "example-long",
        "kind": "statement",
        "title": "Example: a long statement",
        "start_date": "2019-05-06",
        "summary": text_of(TEXT_MAX_LENGTH),
        "quoted_words": text_of(TEXT_MAX_LENGTH),
    }
    response = client.post("/api/events/", body, format="json")
    assert response.status_code == 201, response.content[:500]
    assert len(Event.objects.get(slug="example-long").summary) == TEXT_MAX_LENGTH


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_texts_at_the_api_limit_export_and_import_back_unchanged(tmp_path, fmt):
    longest = text_of(TEXT_MAX_LENGTH)
    make_full_event(summary=longest, quoted_words=longest, note=longest)
    export_and_import_back(tmp_path, fmt, "longest")
    full = Event.objects.get(slug="example-full")
    assert full.summary == full.quoted_words == longest
    assert [c.note for c in full.citations.all()] == [longest, longest]


def too_long(length):
    return f"Ensure this value has at most {TEXT_MAX_LENGTH} characters (it has {length})."


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_text_over_the_limit_is_refused_naming_its_field(tmp_path, fmt):
    over = text_of(TEXT_MAX_LENGTH + 1)
    citations = [{**CITATIONS[0], "note": over}]
    if fmt == "csv":
        content = csv_text(row(summary=over, quoted_words=over, citations=json.dumps(citations)))
    else:
        content = json_text(event(summary=over, quoted_words=over, citations=citations))
    code, problems = problems_of(tmp_path, content, f"events.{fmt}")
    assert code == 1
    first = 2 if fmt == "csv" else 1
    assert problems == [
        f"row {first}, column citations: note of {SOURCE!r} at 'para. 2': "
        + too_long(TEXT_MAX_LENGTH + 1),
        f"row {first}, column quoted_words: " + too_long(TEXT_MAX_LENGTH + 1),
        f"row {first}, column summary: " + too_long(TEXT_MAX_LENGTH + 1),
    ]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_nul_character_is_refused_as_the_api_refuses_it(tmp_path, fmt):
    cited = [{**CITATIONS[0], "note": "A\x00note"}]
    if fmt == "csv":
        content = csv_text(row(summary="A\x00summary", citations=json.dumps(cited)))
    else:
        content = json_text(event(summary="A\x00summary", citations=cited))
    _, problems = problems_of(tmp_path, content, f"events.{fmt}")
    first = 2 if fmt == "csv" else 1
    assert problems == [
        f"row {first}, column citations: Null characters are not allowed.",
        f"row {first}, column summary: Null characters are not allowed.",
    ]
    assert not Event.objects.exists()


def test_texts_of_a_citation_are_held_to_the_fields_they_fill(tmp_path):
    cited = [
        {
            "source_url": "https://example.org/a-new-source",
            "source_title": "T" * 501,
            "source_publisher": "Example News",
            "locator": "p" * 101,
        }
    ]
    _, problems = problems_of(tmp_path, json_text(event(citations=cited)), "events.json")
    url = "'https://example.org/a-new-source'"
    assert problems == [
        f"row 1, column citations: locator of {url}: Ensure this value has at most 100 "
        "characters (it has 101).",
        f"row 1, column citations: source_title of {url}: Ensure this value has at most 500 "
        "characters (it has 501).",
    ]
    assert not Source.objects.filter(url="https://example.org/a-new-source").exists()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            {"slug": "not a slug!"},
            "column slug: Enter a valid “slug” consisting of letters, numbers, underscores or "
            "hyphens.",
        ),
        ({"slug": "s" * 201}, "column slug: Ensure this value has at most 200 characters"),
        ({"review_state": "pubished"}, "column review_state: Value 'pubished' is not a valid"),
    ],
)
def test_values_the_api_refuses_are_refused_with_its_message(tmp_path, fields, problem):
    content = json_text(event(**fields))
    _, problems = problems_of(tmp_path, content, "events.json", publish=True)
    assert len(problems) == 1 and problems[0].startswith(f"row 1, {problem}"), problems
    assert not Event.objects.exists()


def test_the_admin_refuses_a_text_over_the_limit(curator_client):
    content = csv_text(row(summary=text_of(TEXT_MAX_LENGTH + 1)))
    assert admin_problems(curator_client, content, "events.csv") == [
        "row 2, column summary: " + too_long(TEXT_MAX_LENGTH + 1)
    ]


# --- The JSON reader --------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 2, 7, 1 << 20])
def test_the_json_reader_reads_the_same_events_at_any_chunk_size(chunk):
    """Events cut anywhere by the end of what was read so far (within a string, an escape,
    a number) read as a whole; brackets within strings are text."""
    events = [
        event(summary='Brackets [ { in "quotes" } ]\\ and ü€😀', expelled_best=123456),
        {"slug": "two", "location": {"country": None}, "links": []},
        event(slug="three", quoted_words="\\u0041 \\\\"),
    ]
    for text in (json_text(*events), json.dumps(events, indent=2), json.dumps(events[0])):
        expected = json.loads(text)
        read = list(importing.JSONEvents(io.StringIO(text), chunk=chunk))
        if isinstance(expected, dict):
            assert read == [(1, expected)]
        else:
            assert read == list(enumerate(expected, start=1))


def test_the_api_refuses_a_text_over_the_limit_with_the_import_message():
    user = User.objects.create_user("cora", password="pw")
    user.groups.add(Group.objects.get(name=CURATORS))
    client = APIClient()
    client.force_authenticate(user)
    body = {
        "slug": "example-long",
        "kind": "statement",
        "title": "Example: a long statement",
        "start_date": "2019-05-06",
        "summary": text_of(TEXT_MAX_LENGTH + 1),
        "citations": [
            {"source_url": SOURCE, "locator": "p. 1", "note": text_of(TEXT_MAX_LENGTH + 1)}
        ],
    }
    response = client.post("/api/events/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "summary": [too_long(TEXT_MAX_LENGTH + 1)],
        "citations": {"0": {"note": [too_long(TEXT_MAX_LENGTH + 1)]}},
    }
