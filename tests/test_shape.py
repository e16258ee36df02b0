"""The event's shape is listed once (events/shape.py): every field of Event is in it or named as
outside it, and the API's JSON, its CSV and the export show the same values of every field in
it, as stored, for every fixture event. A field added to Event and to no list fails here, with
the place to add it."""

import csv
import datetime
import io
import json
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import models
from rest_framework.test import APIClient

from events import api_csv, importing, representation, shape
from events.api.serializers import EventSerializer
from events.models import Country, Event
from tests.articles import load_articles

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]
WHERE = "events/shape.py: FIELDS if events show it, HIDDEN_DERIVED or INTERNAL if not"


def event_fields():
    return [*Event._meta.concrete_fields, *Event._meta.many_to_many]


def test_every_field_of_event_is_in_the_shape_or_named_as_outside_it():
    listed = [name for field in shape.FIELDS for name in field.model_fields]
    listed += [*shape.HIDDEN_DERIVED, *shape.INTERNAL]
    for field in event_fields():
        assert field.name in listed, (
            f"Event.{field.name} is in no list of the event's shape: add it to {WHERE} "
            '(README.md, "Adding a field to Event")'
        )
    names = {field.name for field in event_fields()}
    assert [name for name in listed if name not in names] == [], "not a field of Event"
    assert len(listed) == len(set(listed)), "a field listed twice"


def test_what_curators_write_is_editable_and_the_rest_is_not():
    for field in shape.FIELDS:
        if field.role in (shape.WRITTEN, shape.DERIVED, shape.VERSION):
            for name in field.model_fields:
                editable = Event._meta.get_field(name).editable
                assert editable == (field.role == shape.WRITTEN), (name, field.role)
    for name in shape.HIDDEN_DERIVED:
        assert not Event._meta.get_field(name).editable, name


def test_the_serializer_declares_the_shape_and_writes_what_curators_write():
    fields = EventSerializer().fields
    assert list(fields) == list(shape.API_FIELDS)
    for field in shape.FIELDS:
        read_only = field.role == shape.DERIVED
        assert fields[field.name].read_only == read_only, field.name


def test_fields_that_are_not_their_own_column_are_built_by_hand():
    """The representation and the CSV copy a field that is the column of its own name; the
    others each have their own code there, or the shape says what makes them."""
    not_own = {field.name for field in shape.FIELDS if field.lookups != (field.name,)}
    assert not_own <= representation.BUILT, "build it in representation.represent"
    not_own = {field.name for field in shape.CSV_FIELDS if field.columns != (field.name,)}
    assert not_own <= api_csv.BUILT, "build its columns in api_csv.event_row"


def test_a_made_field_is_read_only_and_stored_nowhere():
    """A field the representation makes (the Goldstein value, the quad class) is derived:
    no column holds it, so nothing writes or imports it."""
    made = [field for field in shape.FIELDS if field.make is not None]
    assert {field.name for field in made} == {"goldstein", "quad_class"}
    for field in made:
        assert field.role == shape.DERIVED and field.model_fields == (), field.name
        assert all(lookup in shape.ROW_LOOKUPS for lookup in field.lookups), field.name
    assert len(shape.ROW_LOOKUPS) == len(set(shape.ROW_LOOKUPS)), "a column read twice"


# The order clients have read so far; a new field may come in anywhere, these keep theirs.
API_ORDER = [
    "slug",
    "url",
    "kind",
    "mode",
    "title",
    "summary",
    "start_date",
    "end_date",
    "date_precision",
    "status",
    "location",
    "participants",
    "expelled_low",
    "expelled_best",
    "expelled_high",
    "quoted_words",
    "citations",
    "links",
    "review_state",
    "cameo_code",
    "plover_type",
    "plover_mode",
    "goldstein",
    "quad_class",
    "version",
]
CSV_ORDER = [
    "slug",
    "kind",
    "mode",
    "title",
    "summary",
    "start_date",
    "end_date",
    "date_precision",
    "status",
    "location_country",
    "place",
    "expelled_low",
    "expelled_best",
    "expelled_high",
    "quoted_words",
    "review_state",
    "participants",
    "citations",
    "links",
    "linked_from",
    "version",
    "cameo_code",
    "plover_type",
    "plover_mode",
    "goldstein",
    "quad_class",
]


def test_the_fields_keep_their_order_in_the_api_and_the_csv():
    assert [name for name in shape.API_FIELDS if name in API_ORDER] == API_ORDER
    assert [name for name in api_csv.CSV_COLUMNS if name in CSV_ORDER] == CSV_ORDER
    # The CSV: the written fields, then the children, the version and the derived fields.
    roles = [field.role for field in shape.CSV_FIELDS]
    order = [shape.WRITTEN, shape.CHILD, shape.VERSION, shape.DERIVED]
    assert roles == sorted(roles, key=order.index)


def test_a_written_field_has_a_csv_column_per_model_field_of_the_same_name():
    """The import reads a written column into the model field it names."""
    for field in shape.FIELDS:
        if field.role == shape.WRITTEN:
            assert field.columns == field.model_fields, field.name


def test_docs_csv_lists_every_column_in_order():
    text = (ROOT / "docs" / "csv.md").read_text()
    table = text.split("| column | holds | example |", 1)[1].split("\n\n", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)
    assert documented == api_csv.CSV_COLUMNS, "docs/csv.md: one row per CSV column, in order"


# --- The same values everywhere ------------------------------------------------------------


def stored(event, name):
    """The value of an event's own field as the API shows it (a date as ISO text)."""
    value = getattr(event, name)
    return value.isoformat() if isinstance(value, datetime.date) else value


def as_cells(field, shown):
    """The CSV cells of `field` for its value in the API's JSON (docs/csv.md)."""
    value = shown[field.name]
    if field.name == "location":
        return [value["country"] or "", value["place"]]
    if field.name == "participants":
        return [";".join(f"{p['role']}:{p['actor']}" for p in value)]
    if field.name == "citations":
        return [[{k: v for k, v in c.items() if k != "source"} for c in value]]
    if field.name == "links":
        return [
            ";".join(f"{ln['kind']}:{ln['event']}" for ln in value if ln["direction"] == way)
            for way in ("outgoing", "incoming")
        ]
    return ["" if value is None else str(value)]


def read_cells(field, row):
    cells = [row[column] for column in field.columns]
    if field.name == "citations":
        return [json.loads(cells[0]) if cells[0] else []]
    return cells


def csv_rows(text):
    return {row["slug"]: row for row in csv.DictReader(io.StringIO(text))}


@pytest.fixture
def staff(admin_user):
    load_articles()
    cache.clear()
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def test_the_api_the_csv_and_the_export_show_every_field_as_stored(staff, tmp_path):
    shown = {e["slug"]: e for e in staff.get("/api/events/?page_size=500").json()["results"]}
    response = staff.get("/api/events/?format=csv")
    api_csv_rows = csv_rows(b"".join(response.streaming_content).decode())
    call_command("export_events", format="csv", output=str(tmp_path / "events.csv"))
    exported_rows = csv_rows((tmp_path / "events.csv").read_text())
    call_command("export_events", format="json", output=str(tmp_path / "events.json"))
    exported = {e["slug"]: e for e in json.loads((tmp_path / "events.json").read_text())}

    events = Event.objects.select_related("location_country")
    assert len(shown) == len(api_csv_rows) == len(exported) == events.count() == 25
    for event in events:
        api, row = shown[event.slug], api_csv_rows[event.slug]
        assert list(api) == list(shape.API_FIELDS)
        assert list(row) == api_csv.CSV_COLUMNS
        assert exported_rows[event.slug] == row
        for field in shape.FIELDS:
            where = f"{event.slug}: {field.name}"
            if field.name == "url":
                assert api["url"] == f"http://testserver{exported[event.slug]['url']}", where
            else:
                assert exported[event.slug][field.name] == api[field.name], where
            if field.columns:
                assert read_cells(field, row) == as_cells(field, api), where
            if field.lookups == (field.name,):
                assert api[field.name] == stored(event, field.name), where
            if field.make is not None:
                # Made from stored fields (the Goldstein value of the CAMEO code): made from
                # what is stored, and never empty for an event of the fixtures.
                made = field.make(*(stored(event, name) for name in field.lookups))
                assert api[field.name] == made is not None, where
        country = event.location_country
        assert api["location"] == {
            "country": country.code if country else None,
            "country_name": country.name if country else None,
            "place": event.place,
        }


# --- The import reads every written field back ---------------------------------------------

# The import reads these itself (the slug names the event, the review state follows the
# publish rules): not through its value builder.
READ_APART = {"slug", "review_state"}


def sample(field):
    """A value of `field` as a CSV cell, unlike its default, and the value it stands for."""
    default = field.get_default()
    if field.choices:
        value = next(v for v, _ in field.flatchoices if v and v != default)
        return value, value
    if isinstance(field, models.ForeignKey) and field.related_model is Country:
        return "JP", Country.objects.get(code="JP").pk
    if isinstance(field, models.DateField):
        return "2001-02-03", datetime.date(2001, 2, 3)
    if isinstance(field, models.BooleanField):
        return str(not default), not default
    if isinstance(field, models.IntegerField):
        return "7", 7
    if isinstance(field, models.CharField | models.TextField):
        return "A sample", "A sample"
    pytest.fail(f"no sample value for Event.{field.name} ({type(field).__name__}): add one here")


def test_the_import_reads_every_written_field():
    call_command("loaddata", "countries", verbosity=0)
    row, expected = {}, {}
    for field in shape.FIELDS:
        if field.role != shape.WRITTEN:
            continue
        for column, name in zip(field.columns, field.model_fields, strict=True):
            model_field = Event._meta.get_field(name)
            row[column], value = sample(model_field)
            if column not in READ_APART:
                expected[model_field.attname] = value
    record = importing.record_from_csv(2, row)
    values = importing.Importer().build_values(record)
    for attname, value in expected.items():
        assert values[attname] == value, (
            f"the import does not read {attname}: events/importing.py, Importer.build_values"
        )


def test_the_import_compares_and_writes_every_stored_column():
    copied = importing.COPY_COLUMNS[Event]()
    missing = [c for c in shape.STORED_COLUMNS if c not in copied]
    assert missing == [], "events/importing.py: EVENT_COLUMNS (COPY) misses these"
    compared = [c for c in shape.WRITTEN_COLUMNS if c != "slug"]
    assert [c for c in compared if c not in importing.COMPARED] == [], "importing.COMPARED"
    assert [c for c in shape.DERIVED_COLUMNS if c not in importing.DERIVED] == [], (
        "importing.DERIVED"
    )
