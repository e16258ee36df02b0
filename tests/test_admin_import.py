"""Importing a file in the admin: upload, dry-run report, confirm; bad files; permissions.

Here each job runs inside the request that queues it (huey's immediate mode), since these tests
are about what the report says; tests/test_import_jobs.py runs the jobs through a real queue
and worker."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from huey.contrib.djhuey import HUEY

from events.models import Actor, Event, ImportJob, JobState, ReviewState
from tests.test_admin import make_user, messages_of

pytestmark = pytest.mark.django_db

IMPORT = "/admin/events/event/import/"
EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "events.csv"
EXAMPLE_SLUGS = {
    "example-ruritania-expels-two-freedonian-diplomats",
    "example-freedonia-expels-two-ruritanian-diplomats",
    "example-ruritanian-and-freedonian-foreign-ministers-speak-by-phone",
    "example-ruritania-to-host-a-summit-with-freedonia",
}
CITATIONS = json.dumps(
    [{"source_url": "https://example.org/a-report", "locator": "para. 2", "note": "Says so."}]
)


@pytest.fixture(autouse=True)
def reference_data():
    call_command("loaddata", "countries", "actors", "sources", verbosity=0)


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, settings):
    """Uploads wait in the test's own directory."""
    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"
    return settings.IMPORT_UPLOAD_DIR


@pytest.fixture(autouse=True)
def jobs_run_at_once(monkeypatch):
    """Each job runs inside the request that queues it."""
    monkeypatch.setattr(HUEY, "immediate", True)


@pytest.fixture
def curator_client(client):
    client.force_login(make_user("carla", "curators"))
    return client


@pytest.fixture
def editor_client(client):
    client.force_login(make_user("edgar", "editors"))
    return client


def csv_file(*rows, name="events.csv"):
    """A CSV upload with the columns the rows use (dicts, in order)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def event_row(**fields):
    return {
        "slug": "example-a-meeting",
        "kind": "meeting",
        "title": "Example: a meeting",
        "start_date": "2019-05-06",
        "participants": "initiator:russia;target:united-kingdom",
        "citations": CITATIONS,
        **fields,
    }


def upload(client, file, **options):
    """The page of the dry run of `file`."""
    data = {"file": file, **{name: "on" for name, on in options.items() if on}}
    response = client.post(IMPORT, data)
    assert response.status_code == 302, response.context["form"].errors
    return client.get(response["Location"])


def confirm(client, page):
    """The page of the import that confirms the dry run on `page`."""
    response = client.post(page.wsgi_request.path, {"_confirm": "Import"})
    assert response.status_code == 302
    return client.get(response["Location"])


def pending_files(upload_dir):
    return list(upload_dir.glob("import-*")) if upload_dir.exists() else []


def test_the_example_file_reports_a_dry_run_then_imports_on_confirm(curator_client, upload_dir):
    with EXAMPLE.open("rb") as handle:
        page = upload(
            curator_client, SimpleUploadedFile("events.csv", handle.read()), create_actors=True
        )
    assert page.status_code == 200
    report = page.context["report"]
    assert report["problems"] == []
    assert report["counts"].items() >= {"created": 4, "updated": 0, "unchanged": 0}.items()
    assert '<td id="count-created">4</td>' in page.content.decode()
    assert page.context["job"].confirmable
    # A dry run writes nothing, actors included; the upload waits for the confirmation.
    assert not Event.objects.filter(slug__in=EXAMPLE_SLUGS).exists()
    assert not Actor.objects.filter(slug="ruritania").exists()
    assert len(pending_files(upload_dir)) == 1

    page = confirm(curator_client, page)

    assert page.context["job"].state == JobState.DONE
    html = page.content.decode()
    assert "Imported events.csv: created 4, updated 0, left 0 unchanged." in html
    events = Event.objects.filter(slug__in=EXAMPLE_SLUGS)
    assert events.count() == 4
    assert set(events.values_list("review_state", flat=True)) == {ReviewState.DRAFT}
    assert Actor.objects.get(slug="ruritania").name == "Ruritania (fictional example)"
    # History names the curator; the upload is gone.
    records = Event.history.filter(slug__in=EXAMPLE_SLUGS)
    assert {r.history_user.username for r in records} == {"carla"}
    assert pending_files(upload_dir) == []


def test_a_json_export_uploads_and_reports_its_events_unchanged(curator_client, tmp_path):
    call_command("loaddata", "events", verbosity=0)
    exported = tmp_path / "events.json"
    call_command("export_events", format="json", output=str(exported))
    file = SimpleUploadedFile("events.json", exported.read_bytes(), content_type="application/json")
    page = upload(curator_client, file)
    report = page.context["report"]
    assert report["problems"] == []
    assert report["counts"]["unchanged"] == Event.objects.count()
    assert report["counts"]["created"] == report["counts"]["updated"] == 0


def test_a_bad_file_lists_each_problem_by_row_and_column_and_writes_nothing(curator_client):
    file = csv_file(
        event_row(),
        event_row(slug="example-two", start_date="2019-13-01"),
        event_row(slug="example-three", kind="parade", participants="initiator:nobody"),
    )
    page = upload(curator_client, file)
    assert page.status_code == 200
    problems = page.context["report"]["problems"]
    assert "row 3, column start_date: '2019-13-01' is not an ISO date (YYYY-MM-DD)" in problems
    assert any(p.startswith("row 4, column kind: ") for p in problems)
    assert any(p.startswith("row 4, column participants: unknown actor 'nobody'") for p in problems)
    html = page.content.decode()
    assert "nothing was written" in html
    assert "row 3, column start_date:" in html
    assert not page.context["job"].confirmable  # nothing to confirm
    assert 'name="_confirm"' not in html
    assert not Event.objects.filter(slug__startswith="example-").exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("events.csv", b"slug,kind\n\xff\xfe\x00\x81", "The file is not UTF-8 text: "),
        ("events.json", b'[{"slug": "a", ', "The file is not valid JSON: "),
        ("events.json", b"\x89PNG\r\n\x1a\n\x00\x00", "The file is not UTF-8 text: "),
        ("events.json", b"42", "The file holds no events "),
        ("events.csv", b"slug,kind,title,start_date\n", "The file holds no events "),
        ("events.csv", b"name,age\nAda,36\n", "row 1, column kind, slug, start_date, title: "),
    ],
)
def test_a_file_that_is_not_utf8_csv_or_json_gets_a_clear_message(
    curator_client, name, content, message
):
    page = upload(curator_client, SimpleUploadedFile(name, content))
    assert page.status_code == 200
    problems = page.context["report"]["problems"]
    assert len(problems) == 1 and problems[0].startswith(message), problems
    assert not Event.objects.filter(slug="a").exists()


def test_only_csv_and_json_files_are_taken(curator_client):
    response = curator_client.post(
        IMPORT, {"file": SimpleUploadedFile("events.xlsx", b"PK\x03\x04")}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"file": ["Upload a .csv or a .json file."]}
    assert not ImportJob.objects.exists()


def test_confirm_checks_the_file_again_against_the_database(curator_client):
    Actor.objects.create(slug="example-ministry", name="Example ministry", kind="agency")
    file = csv_file(event_row(participants="initiator:example-ministry"))
    page = upload(curator_client, file)
    assert page.context["report"]["counts"]["created"] == 1
    Actor.objects.filter(slug="example-ministry").delete()  # gone between dry run and confirm

    page = confirm(curator_client, page)

    assert page.status_code == 200
    assert page.context["report"]["problems"] == [
        "row 2, column participants: unknown actor 'example-ministry' (--create-actors creates "
        "it from its name and kind)"
    ]
    assert not Event.objects.filter(slug="example-a-meeting").exists()


def test_a_dry_run_with_problems_cannot_be_confirmed(curator_client):
    page = upload(curator_client, csv_file(event_row(start_date="2019-13-01")))
    response = curator_client.post(page.wsgi_request.path, {"_confirm": "Import"})
    assert response.status_code == 302 and response["Location"] == page.wsgi_request.path
    assert "can no longer be imported" in messages_of(response)[0]
    assert not ImportJob.objects.filter(dry_run=False).exists()


def test_cancel_deletes_the_upload_and_writes_nothing(curator_client, upload_dir):
    page = upload(curator_client, csv_file(event_row()))
    assert len(pending_files(upload_dir)) == 1
    response = curator_client.post(page.wsgi_request.path, {"_cancel": "Cancel"})
    assert response["Location"] == IMPORT
    assert messages_of(response) == ["Import cancelled; nothing was written."]
    assert pending_files(upload_dir) == []
    assert not Event.objects.filter(slug="example-a-meeting").exists()
    curator_client.post(page.wsgi_request.path, {"_confirm": "Import"})
    assert not Event.objects.filter(slug="example-a-meeting").exists()


def test_the_report_links_each_duplicate_to_the_existing_event(curator_client):
    call_command("loaddata", "events", verbosity=0)
    existing = Event.objects.get(slug="2018-03-14-uk-expels-23-russian-diplomats")
    file = csv_file(
        event_row(
            slug="example-uk-expels-russians",
            kind="expulsion",
            start_date="2018-03-14",
            participants="initiator:united-kingdom;target:russia",
        )
    )
    page = upload(curator_client, file)
    [duplicate] = page.context["duplicates"]
    assert duplicate["row"] == 2 and duplicate["slug"] == "example-uk-expels-russians"
    assert duplicate["url"] == reverse("admin:events_event_change", args=[existing.pk])
    assert f'href="{duplicate["url"]}"' in page.content.decode()

    file.seek(0)
    page = upload(curator_client, file, skip_duplicates=True)
    assert page.context["report"]["counts"]["skipped"] == 1
    confirm(curator_client, page)
    assert not Event.objects.filter(slug="example-uk-expels-russians").exists()


def test_without_add_permission_the_import_is_out_of_reach(client):
    viewer = User.objects.create_user("vera", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(viewer)
    assert client.get(IMPORT).status_code == 403
    assert client.post(IMPORT, {"file": csv_file(event_row())}).status_code == 403
    changelist = client.get(reverse("admin:events_event_changelist"))
    assert changelist.status_code == 200
    assert IMPORT not in changelist.content.decode()
    assert not Event.objects.filter(slug="example-a-meeting").exists()


def test_a_curator_has_no_publish_option_and_imports_drafts(curator_client):
    page = curator_client.get(IMPORT)
    assert "publish" not in page.context["form"].fields
    assert 'name="publish"' not in page.content.decode()
    assert IMPORT in curator_client.get(reverse("admin:events_event_changelist")).content.decode()
    page = upload(curator_client, csv_file(event_row(review_state="published")), publish=True)
    confirm(curator_client, page)
    assert Event.objects.get(slug="example-a-meeting").review_state == ReviewState.DRAFT


def test_an_editor_may_publish_on_import(editor_client):
    assert 'name="publish"' in editor_client.get(IMPORT).content.decode()
    page = upload(editor_client, csv_file(event_row()), publish=True)
    assert page.context["options"] == ["Publish"]
    confirm(editor_client, page)
    assert Event.objects.get(slug="example-a-meeting").review_state == ReviewState.PUBLISHED
