"""The rollup cells the aggregates read (events/rollups.py): kept in step by every door of the
one write path, they equal a recomputation from the events after a long random sequence of
writes, and what the aggregates read from them equals what they read from the events."""

import contextlib
import csv
import datetime
import importlib
import io
import itertools
import random
import threading
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from events import rollups, writes
from events.aggregates import DATE_DIMENSIONS, GROUP_BY, aggregate
from events.groups import EDITORS
from events.importing import run_import
from events.models import (
    Actor,
    AggregateCell,
    ConcurrentEditError,
    Country,
    Event,
    EventLink,
    EventTally,
    LinkKind,
    Office,
    Participation,
    ReviewState,
    Role,
    TallyKey,
    TallyPart,
)
from tests.articles import load_articles
from tests.factories import make_actor, make_country, make_published_event

D = datetime.date


def snapshot():
    """Every tally and cell, as sorted rows."""
    return {
        model.__name__: sorted(
            tuple(row) for row in model.objects.values_list(*[f.attname for f in fields(model)])
        )
        for model in (AggregateCell, EventTally, TallyKey, TallyPart)
    }


def fields(model):
    return [f for f in model._meta.concrete_fields if f.name != "id"]


def assert_in_step():
    kept = snapshot()
    rollups.rebuild()
    assert kept == snapshot()


@pytest.fixture
def editor(db):
    user = User.objects.create_user("rollup-editor")
    user.groups.add(Group.objects.get(name=EDITORS))
    return user


@pytest.fixture
def world(db):
    countries = [
        make_country(code, code3, name)
        for code, code3, name in (
            ("GB", "GBR", "United Kingdom"),
            ("US", "USA", "United States"),
            ("FR", "FRA", "France"),
            ("RU", "RUS", "Russia"),
        )
    ]
    states = [
        make_actor(name=country.name, slug=f"state-{country.code.lower()}", country=country)
        for country in countries
    ]
    partners = make_actor(name="Partners", slug="partners", kind="coalition", country=None)
    envoy = make_actor(name="An envoy", slug="envoy", kind="person", country=None)
    return countries, [*states, partners, envoy]


SLUGS = itertools.count()
KINDS = ["expulsion", "meeting", "statement", "sanction"]


def random_fields(rng):
    kind = rng.choice(KINDS)
    precision = rng.choice(["day", "day", "month", "year"])
    start = D(2016 + rng.randrange(4), 1 + rng.randrange(12), 1 + rng.randrange(28))
    if precision != "day":
        start = start.replace(day=1, month=1 if precision == "year" else start.month)
    fields = {
        "kind": kind,
        "start_date": start,
        "date_precision": precision,
        "end_date": start + datetime.timedelta(days=rng.randrange(1, 5))
        if precision == "day" and rng.random() < 0.3
        else None,
        "status": rng.choice(["occurred", "occurred", "planned"]),
        "expelled_low": None,
        "expelled_best": None,
        "expelled_high": None,
    }
    if kind == "expulsion" and rng.random() < 0.8:
        low = rng.randrange(1, 40)
        fields["expelled_low"], fields["expelled_best"], fields["expelled_high"] = rng.choice(
            [(low, low, low), (low, None, None), (low, low + 2, None), (low, low, low + 9)]
        )
    return fields


def random_writes(rng, editor, actors, steps):
    """A long random sequence of writes, each through the one write path's doors."""
    for step in range(steps):
        action = rng.choice(
            ["create", "create", "edit", "publish", "unpublish", "participants", "link",
             "unlink", "delete", "merge", "actor", "office"]
        )  # fmt: skip
        live = list(Event.objects.all())
        event = rng.choice(live) if live else None
        # A refused write leaves nothing behind: the cells are checked afterwards.
        with contextlib.suppress(REFUSALS):
            write(rng, editor, actors, step, action, event, live)


REFUSALS = (writes.PublishError, ValidationError, PermissionDenied)


def write(rng, editor, actors, step, action, event, live):
    if action == "create" or event is None:
        initiator, target = rng.sample(actors, 2)
        make_published_event(
            initiator=initiator, target=target, slug=f"r-{next(SLUGS)}", **random_fields(rng)
        )
    elif action == "edit":
        writes.update_event(
            editor, event, random_fields(rng), seen_version=event.version, reason="test"
        )
    elif action == "publish" and event.review_state == ReviewState.DRAFT:
        writes.publish(editor, event)
    elif action == "unpublish":
        writes.unpublish(editor, event)
    elif action == "participants":
        initiator, target = rng.sample(actors, 2)
        writes.update_event(
            editor,
            event,
            {},
            {
                "participants": [
                    {"actor": initiator, "role": Role.INITIATOR},
                    {"actor": target, "role": Role.TARGET},
                ]
            },
            seen_version=event.version,
        )
    elif action == "link" and len(live) > 1:
        part, whole = rng.sample(live, 2)
        if not EventLink.objects.filter(from_event=part, to_event=whole).exists():
            link = EventLink(from_event=part, to_event=whole, kind=LinkKind.PART_OF)
            writes.save_child(editor, link)
    elif action == "unlink":
        link = EventLink.objects.order_by("?").first()
        if link is not None:
            writes.delete_child(editor, link)
    elif action == "delete":
        writes.delete_event(editor, event)
    elif action == "merge" and len(live) > 1:
        keep, merged = rng.sample(live, 2)
        writes.merge_events(editor, keep, merged)
    elif action == "actor":
        actor = Actor.objects.get(pk=rng.choice(actors[:-2]).pk)
        actor.country = rng.choice(list(Country.objects.all()))
        writes.save_record(editor, actor, seen_version=actor.version)
    elif action == "office":
        envoy = actors[-1]
        Office.objects.filter(holder=envoy).delete()
        Office.objects.create(
            holder=envoy,
            title="Ambassador",
            country=rng.choice(list(Country.objects.all())),
            start_date=D(2017, 1, 1),
        )


def test_cells_kept_in_step_by_every_door_equal_a_rebuild(world, editor):
    _countries, actors = world
    rng = random.Random(7)
    for _ in range(6):
        random_writes(rng, editor, actors, 25)
        assert_in_step()
    assert AggregateCell.objects.filter(events__lt=0).count() == 0
    assert not AggregateCell.objects.filter(events=0).exists()


def write_import(path, actors, target, version):
    columns = ["slug", "version", "kind", "title", "start_date", "date_precision",
               "expelled_low", "participants", "citations", "review_state", "links"]  # fmt: skip
    with path.open("w", newline="") as handle:
        out = csv.DictWriter(handle, columns)
        out.writeheader()
        for n in range(30):
            out.writerow(
                {
                    "slug": f"imported-{n}",
                    "version": version,
                    "kind": "expulsion",
                    "title": f"Imported {n}",
                    "start_date": f"2018-0{1 + n % 9}-1{n % 10}",
                    "date_precision": "day",
                    "expelled_low": str(n + 1 + (version or 0)),
                    "participants": f"initiator:{actors[n % 3].slug};target:{target}",
                    "citations": '[{"source_url": "https://example.org/r", '
                    '"source_title": "A report", "locator": "p. 1"}]',
                    "review_state": "published",
                    # Parts of a stored whole: what it counts changes with them.
                    "links": "part_of:kept" if n % 7 == (version or 0) else "",
                }
            )
    return str(path)


def test_the_import_keeps_the_cells_in_step(world, tmp_path):
    _countries, actors = world
    make_published_event(
        initiator=actors[4], target=actors[3], slug="kept", kind="expulsion", expelled_low=200
    )
    problems, _counts, _ = run_import(
        write_import(tmp_path / "a.csv", actors, "state-ru", ""), publish=True
    )
    assert not problems, problems
    assert EventTally.objects.count() == 31
    kept = Event.objects.get(slug="kept").pk
    assert EventTally.objects.get(event_id=kept).low == 200 - (1 + 8 + 15 + 22 + 29)
    assert_in_step()
    # The same events again, with other figures and targets: replaced rows, cells in step.
    problems, _counts, _ = run_import(
        write_import(tmp_path / "b.csv", actors, "state-fr", 1), publish=True
    )
    assert not problems, problems
    assert EventTally.objects.filter(low__gt=30).exists()
    assert_in_step()


def filter_combinations(countries, actors):
    gb = countries[0]
    return [
        {},
        {"actor": actors[4]},
        {"actor": actors[0], "kind": ["expulsion"]},
        {"kind": ["expulsion"]},
        {"kind": ["expulsion", "meeting"], "status": "occurred"},
        {"cameo": "11"},
        {"date_after": D(2017, 1, 1), "date_before": D(2018, 12, 31)},
        {"date_after": D(2017, 3, 1), "date_before": D(2017, 9, 30)},
        {"date_after": D(2017, 3, 9), "date_before": D(2018, 2, 3)},
        {"initiator": gb},
        {"target": countries[3], "kind": ["expulsion"]},
        {"country": gb, "date_after": D(2017, 1, 1)},
        {"initiator": gb, "kind": ["expulsion", "statement"], "date_before": D(2018, 6, 15)},
    ]


def queryset_for(filters):
    events = Event.objects.published()
    if filters.get("kind"):
        events = events.filter(kind__in=filters["kind"])
    if filters.get("status"):
        events = events.filter(status=filters["status"])
    if filters.get("cameo"):
        events = events.filter(cameo_code__startswith=filters["cameo"])
    if filters.get("date_after"):
        events = events.filter(period_end__gte=filters["date_after"])
    if filters.get("date_before"):
        events = events.filter(start_date__lte=filters["date_before"])
    for side in ("initiator", "target"):
        if filters.get(side):
            events = events.involving(filters[side], **{f"as_{side}": True})
    if filters.get("country"):
        events = events.involving(filters["country"])
    if filters.get("actor"):
        taking_part = Participation.objects.filter(actor=filters["actor"])
        events = events.filter(pk__in=taking_part.values("event_id"))
    return events


def test_every_answer_read_from_rollups_equals_the_one_read_from_events(world, editor):
    """From the cells where they answer, else from the tallies: the same as from the events."""
    countries, actors = world
    random_writes(random.Random(3), editor, actors, 120)
    dimension_sets = [
        [],
        *([name] for name in GROUP_BY),
        ["month", "kind"],
        ["week", "kind"],
        ["year", "initiator"],
        ["kind", "country"],
        ["month", "dyad"],
    ]
    from_cells = 0
    for filters, dimensions in itertools.product(
        filter_combinations(countries, actors), dimension_sets
    ):
        from_cells += rollups.plan(dimensions, filters) is not None
        events = queryset_for(filters)
        fastest = aggregate(events, dimensions, False, filters=filters)
        tallied = aggregate(events, dimensions, False)
        from_events = aggregate(events, dimensions, False, read="events")
        assert fastest == from_events, (filters, dimensions)
        # The same types too (JSON writes a Decimal 25 as 25.0).
        assert repr(fastest) == repr(from_events), (filters, dimensions)
        assert tallied == from_events, (filters, dimensions)
    assert from_cells >= 100


def test_what_the_cells_cannot_answer_is_read_from_the_events(world):
    countries, _actors = world
    assert rollups.plan(["month"], {"q": "expel"}) is None
    assert rollups.plan(["dyad"], {}) is None
    assert rollups.plan(["initiator"], {"target": countries[0]}) is None
    assert rollups.plan(["month"], {"initiator": countries[0]}) is None
    assert rollups.plan(["initiator"], {"date_after": D(2017, 3, 1)}) is None
    assert rollups.plan(["month"], {"date_after": D(2017, 3, 2)}) == ("d", False, None)
    assert rollups.plan(["month"], {"date_before": D(2017, 3, 31)}) == ("M", False, None)
    assert rollups.plan(["month", "mode"], {}) == ("m", False, None)
    assert rollups.plan(["year"], {"status": "planned"}) == ("m", False, None)
    assert rollups.plan(["year"], {"initiator": countries[0]}) == ("i", False, countries[0])
    assert rollups.plan(["week"], {"kind": ["expulsion"]}) == ("w", False, None)
    assert rollups.plan(["kind"], {"initiator": countries[0]}) == ("I", False, countries[0])
    assert rollups.plan(["initiator"], {"kind": ["expulsion"]}) == ("I", True, None)
    assert rollups.plan(["week"], {"date_after": D(2017, 3, 1)}) == ("d", False, None)
    assert rollups.plan(["week", "mode"], {}) == ("d", False, None)


def test_the_endpoint_reads_cells_in_one_query_for_anonymous_users(world):
    _countries, actors = world
    make_published_event(initiator=actors[0], target=actors[3], kind="expulsion")
    with CaptureQueriesContext(connection) as queries:
        response = APIClient().get("/api/aggregates/events/", {"group_by": "initiator"})
    assert response.status_code == 200
    assert response.json()["groups"][0]["initiator"] == "GB"
    cell_reads = [q for q in queries.captured_queries if "events_aggregatecell" in q["sql"]]
    event_reads = [q for q in queries.captured_queries if "events_event" in q["sql"]]
    assert len(cell_reads) == 1 and not event_reads


def test_a_deleted_part_gives_its_whole_back_its_figure(world, editor):
    _countries, actors = world
    whole = make_published_event(
        initiator=actors[4], target=actors[3], kind="expulsion", expelled_low=100
    )
    part = make_published_event(
        initiator=actors[1], target=actors[3], kind="expulsion", expelled_low=60,
        expelled_best=60, expelled_high=60,
    )  # fmt: skip
    writes.save_child(editor, EventLink(from_event=part, to_event=whole, kind=LinkKind.PART_OF))
    assert EventTally.objects.get(event_id=whole.pk).low == 40
    writes.delete_event(editor, part)
    assert EventTally.objects.get(event_id=whole.pk).low == 100
    assert_in_step()


@pytest.mark.skipif(
    connections["default"].vendor != "postgresql", reason="threads need a real server"
)
@pytest.mark.django_db(transaction=True)
def test_writers_at_once_on_one_cell_both_count(world, editor):
    """Two editors publish events of the same cell, and add parts to the same whole, at once:
    cell increments from two transactions both land."""
    _countries, actors = world
    drafts = [
        make_published_event(initiator=actors[0], target=actors[3], kind="expulsion",
                             start_date=D(2018, 3, 26), expelled_low=5, slug=f"d{n}")
        for n in range(8)
    ]  # fmt: skip
    for draft in drafts:
        writes.unpublish(editor, draft)
    whole = make_published_event(
        initiator=actors[4], target=actors[3], kind="expulsion", expelled_low=100,
        start_date=D(2018, 3, 26), slug="whole",
    )  # fmt: skip
    barrier = threading.Barrier(len(drafts))
    errors = []

    def publish_and_link(event_id):
        try:
            event = Event.objects.get(pk=event_id)
            barrier.wait()
            writes.publish(editor, event)
            for _attempt in range(50):  # the whole's version moves: reload and redo, as a user
                try:
                    with transaction.atomic():
                        link = EventLink(
                            from_event=Event.objects.get(pk=event_id),
                            to_event=Event.objects.get(pk=whole.pk),
                            kind=LinkKind.PART_OF,
                        )
                        writes.save_child(editor, link)
                    break
                except ConcurrentEditError:
                    continue
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish_and_link, args=(d.pk,)) for d in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert EventTally.objects.get(event_id=whole.pk).low == 60
    total = AggregateCell.objects.filter(grain="m", kind="expulsion").values_list(
        "events", "low_sum"
    )
    assert list(total) == [(9, 100)]
    assert_in_step()


@pytest.mark.parametrize("coarse_name", sorted(DATE_DIMENSIONS))
def test_too_coarse_counts_the_same_from_cells(world, coarse_name):
    _countries, actors = world
    for precision, start in (
        ("day", D(2018, 3, 4)),
        ("month", D(2018, 3, 1)),
        ("year", D(2018, 1, 1)),
    ):
        make_published_event(
            initiator=actors[0], target=actors[3], start_date=start, date_precision=precision
        )
    events = Event.objects.published()
    assert aggregate(events, [coarse_name], False, filters={}) == aggregate(
        events, [coarse_name], False
    )


def test_rebuild_rollups_mends_cells_changed_behind_the_write_path(world):
    _countries, actors = world
    make_published_event(initiator=actors[0], target=actors[3], kind="expulsion", expelled_low=9)
    kept = snapshot()
    AggregateCell.objects.filter(grain="m").update(events=5, low_sum=99)
    EventTally.objects.all().delete()
    out = io.StringIO()
    call_command("rebuild_rollups", stdout=out)
    assert snapshot() == kept
    assert out.getvalue().startswith("Tallied 1 published events into ")


def test_the_synthetic_generator_and_its_removal_keep_the_cells_in_step(db):
    load_articles()
    curated = snapshot()
    call_command(
        "generate_synthetic",
        events=300,
        actors=60,
        seed=5,
        allow_curated=True,
        stdout=io.StringIO(),
    )
    assert EventTally.objects.count() > 250
    assert_in_step()
    call_command("generate_synthetic", remove=True, stdout=io.StringIO())
    assert snapshot() == curated


def test_counts_over_no_period_say_no_event_is_too_coarse_whichever_cells_answer(world, editor):
    # The side and status cells keep no date precision: with no period to group by, nothing
    # is too coarse, as when read from the events.
    countries, actors = world
    random_writes(random.Random(5), editor, actors, 120)
    gb = next(c for c in countries if queryset_for({"initiator": c}).exists())
    for dimensions, filters, grain in (
        (["kind"], {"initiator": gb}, "I"),
        (["kind"], {"country": gb}, "C"),
        (["target"], {}, "T"),
        (["status"], {}, "S"),
        (["kind", "status"], {"kind": ["expulsion"], "status": "occurred"}, "S"),
    ):
        assert rollups.plan(dimensions, filters)[0] == grain, (dimensions, filters)
        events = queryset_for(filters)
        from_cells = aggregate(events, dimensions, False, filters=filters)
        assert from_cells.too_coarse == 0, (dimensions, filters)
        assert from_cells == aggregate(events, dimensions, False, read="events")
        assert from_cells.total["events"] == events.count() > 0, (dimensions, filters)


def test_the_migration_that_adds_the_status_cells_sums_them_as_a_rebuild_does(world, editor):
    from django.db import connection

    fill = importlib.import_module("events.migrations.0016_status_cells").fill
    _countries, actors = world
    random_writes(random.Random(11), editor, actors, 80)
    kept = snapshot()
    assert any(cell[0] == "S" for cell in kept["AggregateCell"])
    AggregateCell.objects.filter(grain="S").delete()
    assert snapshot() != kept
    fill(None, SimpleNamespace(connection=connection))
    assert snapshot() == kept
