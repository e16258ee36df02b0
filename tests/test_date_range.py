"""A date range whose "From" is after its "To" is an error next to "From" at every door that
filters events (one rule, on EventFilter's form), never a silent empty or unfiltered answer."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.articles import load_articles

pytestmark = pytest.mark.django_db

REVERSED = "date_after=2018-04-01&date_before=2018-03-01"
MESSAGE = "“From” (2018-04-01) is after “To” (2018-03-01)"


@pytest.fixture(autouse=True)
def fixtures():
    load_articles()


def test_listing_shows_the_error_next_to_from_and_no_results(client):
    response = client.get(f"/events/?{REVERSED}")
    html = response.content.decode()
    assert response.status_code == 400
    assert f'<p class="error" id="id_date_after-error">{MESSAGE}' in html
    assert 'aria-invalid="true"' in html
    assert 'class="event-table"' not in html


@pytest.mark.parametrize(
    "url",
    [
        f"/api/events/?{REVERSED}",
        f"/api/aggregates/events/?group_by=kind&{REVERSED}",
    ],
)
def test_api_answers_400_naming_the_field(client, url):
    response = client.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert MESSAGE in response.json()["date_after"][0]


def test_csv_export_is_400_with_the_message_not_an_empty_file(client):
    # A CSV client gets its errors as CSV too: one row per parameter.
    response = client.get(f"/api/events/?format=csv&{REVERSED}")
    assert response.status_code == 400
    lines = response.content.decode().splitlines()
    assert lines[0] == "parameter,message"
    assert lines[1].startswith(f"date_after,{MESSAGE}")


def test_export_command_refuses_a_reversed_range(tmp_path, capsys):
    output = tmp_path / "out.csv"
    with pytest.raises(CommandError, match="nothing was exported"):
        call_command(
            "export_events",
            "--output",
            str(output),
            "--date-after",
            "2018-04-01",
            "--date-before",
            "2018-03-01",
        )
    assert f"--date-after: {MESSAGE}" in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.parametrize(
    "query",
    [
        "date_after=2018-03-14&date_before=2018-03-14",  # one day
        "date_after=2018-03-01&date_before=2018-03-31",
        "date_after=2018-04-01",  # one end only
        "date_before=2018-03-01",
    ],
)
def test_a_range_in_order_or_open_is_accepted(client, query):
    assert client.get(f"/events/?{query}").status_code == 200
    assert client.get(f"/api/events/?{query}").status_code == 200


def test_one_day_range_lists_that_days_events(client):
    html = client.get("/events/?date_after=2018-03-14&date_before=2018-03-14").content.decode()
    assert "2018-03-14-uk-expels-23-russian-diplomats" in html
