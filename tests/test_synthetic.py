"""The synthetic data generator: counts, valid relations, marking, refusal and removal; the
event columns it writes (the shape's, with the model's default for one it does not make)."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, F

from events import shape
from events.codes import codes_for
from events.management.commands.generate_synthetic import EVENT_COLUMNS, unmade_defaults
from events.models import Actor, Citation, Event, EventLink, Participation, Source
from tests.articles import load_articles

pytestmark = pytest.mark.django_db


def generate(**options):
    out = io.StringIO()
    call_command("generate_synthetic", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def countries():
    call_command("loaddata", "countries", verbosity=0)


def test_generates_events_with_valid_relations(countries):
    output = generate(events=300, actors=120, seed=7, batch_size=1000)
    assert "Generated 300 events" in output
    assert Event.objects.count() == 300
    assert Actor.objects.count() == 120
    per_event = Event.objects.annotate(
        p=Count("participations", distinct=True), c=Count("citations", distinct=True)
    )
    assert set(per_event.values_list("p", flat=True)) <= {1, 2, 3, 4, 5}
    assert not per_event.filter(p=0).exists() and not per_event.filter(c=0).exists()
    # Every reference points at a real row (foreign-key checks may be off during the load).
    assert Participation.objects.filter(event__isnull=False, actor__isnull=False).count() == (
        Participation.objects.count()
    )
    assert Citation.objects.filter(source__isnull=False, event__isnull=False).count() == (
        Citation.objects.count()
    )
    assert not EventLink.objects.filter(from_event=F("to_event")).exists()
    for event in Event.objects.all()[:50]:
        event.full_clean()  # every constraint and precision rule holds
        assert tuple(codes_for(event.kind, event.mode, event.status)) == (
            event.cameo_code,
            event.plover_type,
            event.plover_mode,
        )
    kinds = set(Event.objects.values_list("kind", flat=True))
    assert {"statement", "meeting", "expulsion"} <= kinds
    assert Event.objects.filter(date_precision="month").exists()


def test_text_search_finds_synthetic_events(countries):
    generate(events=200, actors=80, seed=1)
    assert Event.objects.search("treaty").exists() or Event.objects.search("trade").exists()


def test_refuses_a_database_with_curated_events(countries):
    load_articles()
    with pytest.raises(CommandError, match="holds 25 curated events"):
        generate(events=10, actors=10)
    generate(events=10, actors=10, allow_curated=True)
    assert Event.objects.count() == 35


def test_remove_deletes_only_what_it_made(countries):
    load_articles()
    generate(events=50, actors=30, allow_curated=True)
    output = generate(remove=True)
    assert "50 events" in output
    assert Event.objects.count() == 25
    assert not Actor.objects.filter(slug__startswith="synthetic-").exists()
    assert not Source.objects.filter(url__startswith="https://synthetic.invalid/").exists()
    assert Source.objects.count() == 4


def test_writes_every_stored_column_of_the_event_shape():
    assert EVENT_COLUMNS[: len(shape.STORED_COLUMNS) + 1] == ["id", *shape.STORED_COLUMNS]


def test_a_column_it_does_not_make_gets_the_model_default_or_stops_it():
    made = dict.fromkeys(EVENT_COLUMNS)
    assert unmade_defaults(made) == {}
    del made["quoted_words"], made["version"], made["end_date"]
    assert unmade_defaults(made) == {"quoted_words": "", "version": 1, "end_date": None}
    del made["start_date"]
    with pytest.raises(CommandError, match=r"Event\.start_date has no default to generate"):
        unmade_defaults(made)
