"""The import door (`import_events`, and the admin import that runs the same importer) obeys
the one rulebook: a row that changes a stored event states the version it was exported at,
only an editor changes a published event, and a published event keeps a participant and a
citation. Every refusal names its row; nothing is written."""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from events import importing
from events.models import Event
from tests.articles import load_articles
from tests.test_write_rules_api import client_for, race

pytestmark = pytest.mark.django_db

SLUG = "2018-03-19-abe-putin-phone-call"


@pytest.fixture(autouse=True)
def articles():
    load_articles()


def export(tmp_path, name="events.json"):
    """The event SLUG as `export_events --format json` writes it."""
    path = tmp_path / name
    call_command("export_events", "--format", "json", "--output", str(path))
    events = [event for event in json.loads(path.read_text()) if event["slug"] == SLUG]
    path.write_text(json.dumps(events))
    return path


def import_file(path, **options):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_events", str(path), stdout=out, stderr=err, verbosity=0, **options)
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, out.getvalue(), err.getvalue()


def edit(path, **fields):
    events = json.loads(path.read_text())
    events[0].update(fields)
    path.write_text(json.dumps(events))
    return path


def stored():
    return Event.objects.values("title", "version", "review_state").get(slug=SLUG)


def test_an_import_from_an_older_version_is_refused_naming_the_row(tmp_path):
    """Reproduction: API writes acknowledged as later versions were lost to an import that
    wrote `stored version + 1` without checking the version it read."""
    path = export(tmp_path)
    version = stored()["version"]
    editor = client_for("editor")
    for n in range(3):
        response = editor.patch(
            f"/api/events/{SLUG}/", {"summary": f"Edit {n}", "version": version + n}, format="json"
        )
        assert response.status_code == 200
    before = stored()
    code, _, err = import_file(edit(path, title="From the old file"), publish=True)
    assert code == 1
    assert (
        f"row 1: '{SLUG}' changed since this file was exported "
        f"(version {version} in the file, {version + 3} stored)"
    ) in err
    assert stored() == before


def test_a_changing_row_without_a_version_is_refused(tmp_path):
    path = export(tmp_path)
    events = json.loads(path.read_text())
    del events[0]["version"]
    events[0]["title"] = "No version"
    path.write_text(json.dumps(events))
    code, _, err = import_file(path, publish=True)
    assert code == 1 and "column version" in err and "give the version" in err
    assert stored()["title"] != "No version"


def test_an_unchanged_row_needs_no_version_and_changes_nothing(tmp_path):
    path = export(tmp_path)
    events = json.loads(path.read_text())
    del events[0]["version"]
    path.write_text(json.dumps(events))
    before = stored()
    code, out, _ = import_file(path)
    assert code == 0 and "left 1 unchanged" in out
    assert stored() == before


def test_a_curator_import_does_not_change_a_published_event(tmp_path):
    """Reproduction: `import_events` without --publish (a curator) let a published event's
    row change its title and empty its participants and citations; it stayed published."""
    path = edit(export(tmp_path), title="Changed by a curator", participants=[], citations=[])
    before = stored()
    code, _, err = import_file(path)
    assert code == 1
    assert f"row 1: '{SLUG}' is published: only an editor may change it" in err
    assert stored() == before


def test_a_published_event_keeps_a_participant_and_a_citation_through_the_import(tmp_path):
    path = edit(export(tmp_path), participants=[], citations=[])
    code, _, err = import_file(path, publish=True)
    assert code == 1
    assert "row 1, column participants: a published event keeps at least one participant" in err
    assert "row 1, column citations: a published event keeps at least one citation" in err
    assert Event.objects.get(slug=SLUG).participations.exists()


def test_an_editor_import_from_the_stored_version_changes_the_event(tmp_path):
    path = edit(export(tmp_path), title="Edited in a file")
    version = stored()["version"]
    code, out, err = import_file(path, publish=True)
    assert code == 0, err
    assert "updated 1" in out
    assert stored() == {
        "title": "Edited in a file",
        "version": version + 1,
        "review_state": "published",
    }


def test_a_bad_version_cell_names_its_row(tmp_path):
    path = edit(export(tmp_path), version="²")
    code, _, err = import_file(path, publish=True)
    assert code == 1 and "row 1, column version: '²' is not a version" in err


def test_the_admin_import_refuses_a_curators_change_to_a_published_event(tmp_path):
    """The admin's import runs the same importer, as the signed-in user."""
    from django.contrib.auth.models import Group, User

    from events.groups import CURATORS

    user = User.objects.create_user("importing-curator")
    user.groups.add(Group.objects.get(name=CURATORS))
    path = edit(export(tmp_path), title="Changed by a curator")
    problems, counts, _ = importing.run_import(str(path), user=user)
    assert counts is None
    assert any("is published: only an editor may change it" in p[2] for p in problems)
    assert stored()["title"] != "Changed by a curator"


@pytest.mark.django_db(transaction=True)
def test_an_import_and_an_api_write_from_the_same_version_one_wins(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers with a database lock; PostgreSQL runs them at once")
    load_articles()  # a transactional test starts empty
    path = edit(export(tmp_path), title="From the file")
    version = stored()["version"]
    editor = client_for("editor")
    answers = race(
        [
            lambda: import_file(path, publish=True)[0],
            lambda: (
                editor.patch(
                    f"/api/events/{SLUG}/",
                    {"title": "From the API", "version": version},
                    format="json",
                ).status_code
            ),
        ]
    )
    assert sorted(map(str, answers)) in (["0", "409"], ["1", "200"])
    assert stored()["version"] == version + 1
    assert stored()["title"] == ("From the file" if answers[0] == 0 else "From the API")
    assert APIClient().get(f"/api/events/{SLUG}/").status_code == 200
