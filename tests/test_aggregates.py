"""/api/aggregates/events/: counts without double counting, checked against a recomputation
in plain Python for every group_by, on either database."""

import csv
import datetime
import io
import itertools
import random

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from rest_framework.test import APIClient

from events import codes
from events.aggregates import GROUP_BY, SAMPLE_EVENTS
from events.models import (
    ActorKind,
    CountryInvolvement,
    Event,
    EventLink,
    LinkKind,
    Participation,
    ReviewState,
    Role,
)
from tests.articles import load_articles
from tests.factories import make_actor, make_country, make_published_event

D = datetime.date
URL = "/api/aggregates/events/"


def get(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def by(groups, *keys):
    return {
        tuple(group[k] for k in keys) if len(keys) > 1 else group[keys[0]]: group
        for group in groups
    }


@pytest.fixture
def world(db):
    countries = {
        code: make_country(code, code3, name)
        for code, code3, name in (
            ("GB", "GBR", "United Kingdom"),
            ("US", "USA", "United States"),
            ("FR", "FRA", "France"),
            ("DE", "DEU", "Germany"),
            ("RU", "RUS", "Russia"),
        )
    }
    states = {
        code: make_actor(name=country.name, slug=f"state-{code.lower()}", country=country)
        for code, country in countries.items()
    }
    partners = make_actor(
        name="The United Kingdom's international partners",
        slug="partners",
        kind=ActorKind.ORGANISATION if not hasattr(ActorKind, "COALITION") else ActorKind.COALITION,
    )
    return states, partners


def expulsion(initiator, target, figures=(None, None, None), **fields):
    low, best, high = figures
    fields.setdefault("start_date", D(2018, 3, 26))
    return make_published_event(
        kind="expulsion",
        initiator=initiator,
        target=target,
        expelled_low=low,
        expelled_best=best,
        expelled_high=high,
        **fields,
    )


def part_of(part, whole):
    EventLink.objects.create(from_event=part, to_event=whole, kind=LinkKind.PART_OF)


def test_parts_count_in_their_own_groups_and_the_whole_only_for_the_rest(world):
    states, partners = world
    expulsion(states["GB"], states["RU"], (23, 23, 23), start_date=D(2018, 3, 14))
    whole = expulsion(partners, states["RU"], (101, None, None))
    for code, figure in (("US", 60), ("FR", 4), ("DE", 4)):
        part_of(expulsion(states[code], states["RU"], (figure, figure, figure)), whole)
    client = APIClient()

    answer = get(client, kind="expulsion", group_by="initiator")
    groups = by(answer["groups"], "initiator")
    assert {key: g["people_expelled"] for key, g in groups.items()} == {
        "GB": 23,
        "US": 60,
        "FR": 4,
        "DE": 4,
        "actor:partners": 101 - 68,
    }
    assert groups["actor:partners"]["people_expelled_is_lower_bound"] is True
    assert groups["US"]["people_expelled_is_lower_bound"] is False
    assert groups["actor:partners"]["people_expelled_high"] is None
    assert groups["actor:partners"]["people_expelled_high_missing"] == 1

    targets = get(client, kind="expulsion", group_by="target")["groups"]
    assert [(g["target"], g["people_expelled"]) for g in targets] == [("RU", 23 + 101)]
    assert targets[0]["people_expelled_is_lower_bound"] is True
    assert sum(g["people_expelled"] for g in answer["groups"]) == 23 + 101
    assert answer["total"]["people_expelled"] == 23 + 101
    assert answer["total"]["events"] == 5


def test_parts_larger_than_the_whole_leave_it_nothing(world):
    states, partners = world
    whole = expulsion(partners, states["RU"], (101, None, None))
    for code, figure in (("US", 60), ("FR", 40), ("DE", 20)):
        part_of(expulsion(states[code], states["RU"], (figure, figure, figure)), whole)
    groups = by(get(APIClient(), group_by="initiator")["groups"], "initiator")
    assert groups["actor:partners"]["people_expelled"] == 0
    assert groups["actor:partners"]["people_expelled_low"] == 0
    total = get(APIClient(), group_by="target")["groups"]
    assert [g["people_expelled"] for g in total] == [120]


def test_a_draft_part_does_not_reduce_what_anonymous_users_count(world):
    states, partners = world
    whole = expulsion(partners, states["RU"], (101, None, None))
    draft = expulsion(states["US"], states["RU"], (60, 60, 60))
    Event.objects.filter(pk=draft.pk).update(review_state=ReviewState.DRAFT)
    part_of(draft, whole)
    answer = get(APIClient(), group_by="initiator")
    assert [(g["initiator"], g["people_expelled"]) for g in answer["groups"]] == [
        ("actor:partners", 101)
    ]
    assert answer["total"]["events"] == 1

    staff = User.objects.create_user("staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_event"))
    client = APIClient()
    client.force_authenticate(staff)
    groups = by(get(client, group_by="initiator")["groups"], "initiator")
    assert groups["US"]["people_expelled"] == 60
    assert groups["actor:partners"]["people_expelled"] == 41


def test_precision_is_respected_and_too_coarse_events_are_reported(world):
    states, _ = world
    make_published_event(initiator=states["GB"], start_date=D(2018, 3, 14))
    make_published_event(initiator=states["GB"], start_date=D(2018, 3, 1), date_precision="month")
    make_published_event(initiator=states["GB"], start_date=D(2018, 1, 1), date_precision="year")
    client = APIClient()
    day = get(client, group_by="day")
    assert [(g["day"], g["events"]) for g in day["groups"]] == [("2018-03-14", 1)]
    assert (day["too_coarse"], day["total"]["events"]) == (2, 3)
    week = get(client, group_by="week")
    assert [(g["week"], g["events"]) for g in week["groups"]] == [("2018-03-12", 1)]
    month = get(client, group_by="month")
    assert [(g["month"], g["events"]) for g in month["groups"]] == [("2018-03", 2)]
    assert month["too_coarse"] == 1
    year = get(client, group_by="year")
    assert [(g["year"], g["events"]) for g in year["groups"]] == [(2018, 3)]
    assert year["too_coarse"] == 0


@pytest.mark.parametrize(
    "params, message",
    [
        ({"group_by": "colour"}, "Unknown group 'colour'"),
        ({"group_by": "kind,kind"}, "given twice"),
        ({"group_by": "dyad,initiator"}, "dyad"),
        ({"group_by": "month,year"}, "one period"),
        ({"group_by": "kind", "country": "cow:abc"}, None),
        ({"group_by": "kind", "kind": "picnic"}, None),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(world, params, message):
    response = APIClient().get(URL, params)
    assert response.status_code == 400
    body = response.json()
    name = next(k for k in params if k != "group_by") if message is None else "group_by"
    assert name in body
    if message:
        assert message in body["group_by"][0]


def test_too_many_groups_is_a_400(world, monkeypatch):
    states, _ = world
    for day in range(1, 4):
        make_published_event(initiator=states["GB"], start_date=D(2018, 3, day))
    monkeypatch.setattr("events.aggregates.MAX_GROUPS", 2)
    response = APIClient().get(URL, {"group_by": "day"})
    assert response.status_code == 400
    assert "more than 2 groups" in response.json()["group_by"][0]


def test_a_sample_refuses_too_many_groups_before_they_are_counted(
    world, monkeypatch, django_assert_num_queries
):
    states, _ = world
    # Three days, three actors, three pairs.
    for day, (initiator, target) in enumerate((("GB", "RU"), ("US", "RU"), ("RU", "GB")), 1):
        make_published_event(
            initiator=states[initiator], target=states[target], start_date=D(2018, 3, day)
        )
    monkeypatch.setattr("events.aggregates.MAX_GROUPS", 2)
    # One statement: the sample's keys, already over the limit (on PostgreSQL between a SET and
    # a RESET of the planner's join methods).
    statements = 3 if connection.vendor == "postgresql" else 1
    for group_by in ("day", "actor", "dyad"):
        with django_assert_num_queries(statements) as captured:
            response = APIClient().get(URL, {"group_by": group_by})
        assert response.status_code == 400, group_by
        assert "more than 2 groups" in response.json()["group_by"][0]
        sample = captured.captured_queries[statements // 2]["sql"]
        assert f"LIMIT {SAMPLE_EVENTS[group_by]}" in sample


def test_a_sample_under_the_limit_proves_nothing(world, monkeypatch, django_assert_num_queries):
    states, _ = world
    for day in range(1, 4):
        make_published_event(initiator=states["GB"], start_date=D(2018, 3, day))
    monkeypatch.setattr("events.aggregates.MAX_GROUPS", 2)
    monkeypatch.setitem(SAMPLE_EVENTS, "day", 1)
    # The sample (one event, one group) lets it through; counting the groups refuses it.
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 2):
        response = APIClient().get(URL, {"group_by": "day"})
    assert response.status_code == 400
    assert "more than 2 groups" in response.json()["group_by"][0]


def test_csv_is_one_row_per_group(world):
    states, partners = world
    whole = expulsion(partners, states["RU"], (101, None, None))
    part_of(expulsion(states["US"], states["RU"], (60, 60, 60)), whole)
    response = APIClient().get(URL, {"group_by": "initiator,month", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["initiator"], r["month"], r["people_expelled"]) for r in rows] == [
        ("US", "2018-03", "60"),
        ("actor:partners", "2018-03", "41"),
    ]
    assert rows[1]["people_expelled_is_lower_bound"] == "true"
    assert rows[1]["people_expelled_high"] == ""


def test_query_count(world, django_assert_num_queries):
    states, _ = world
    expulsion(states["GB"], states["RU"], (23, 23, 23))
    client = APIClient()
    # Read from the tallies: the groups and the total in one statement; each country code in
    # a filter costs one more.
    with django_assert_num_queries(1):
        client.get(URL, {"group_by": "initiator,month"})
    with django_assert_num_queries(2):
        client.get(URL, {"group_by": "initiator", "target": "RU"})
    # Read from the rollup cells: the groups and the total in one statement too.
    with django_assert_num_queries(1):
        client.get(URL, {"group_by": "initiator"})
    # Staff who see drafts: from the events, in one statement too (after two reading the
    # user's permissions).
    staff = User.objects.create_user("counting-staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_authenticate(staff)
    with django_assert_num_queries(3):
        client.get(URL, {"group_by": "initiator,month"})


# --- Every group_by against a recomputation ---------------------------------------------------


@pytest.fixture
def random_world(world):
    states, partners = world
    rng = random.Random(12)
    people = [
        make_actor(name=f"Envoy {n}", slug=f"envoy-{n}", kind="person", country=None)
        for n in range(2)
    ]
    actors = [*states.values(), partners, *people]
    kinds = ["expulsion", "meeting", "statement", "sanction", "phone_call"]
    events = []
    for _ in range(60):
        kind = rng.choice(kinds)
        initiator, target = rng.sample(actors, 2)
        precision = rng.choice(["day", "day", "day", "month", "year"])
        start = D(2017 + rng.randrange(3), 1 + rng.randrange(12), 1 + rng.randrange(28))
        if precision != "day":
            start = start.replace(day=1, month=1 if precision == "year" else start.month)
        figures = (None, None, None)
        if kind == "expulsion" and rng.random() < 0.8:
            low = rng.randrange(1, 50)
            figures = rng.choice(
                [(low, low, low), (low, None, None), (low, low + 3, None), (low, low + 1, low + 9)]
            )
        event = make_published_event(
            kind=kind,
            initiator=initiator,
            target=target if rng.random() < 0.9 else None,
            start_date=start,
            date_precision=precision,
            expelled_low=figures[0],
            expelled_best=figures[1],
            expelled_high=figures[2],
        )
        if rng.random() < 0.2:
            Participation.objects.create(
                event=event,
                actor=rng.choice([a for a in actors if a not in (initiator, target)]),
                role=Role.INITIATOR,
            )
        if rng.random() < 0.1:
            event.review_state = ReviewState.DRAFT
            event.save()
        events.append(event)
    expulsions = [e for e in events if e.kind == "expulsion"]
    for whole in expulsions[:4]:
        for part in rng.sample([e for e in expulsions if e != whole], 3):
            if not EventLink.objects.filter(from_event=whole, to_event=part).exists():
                EventLink.objects.get_or_create(
                    from_event=part, to_event=whole, kind=LinkKind.PART_OF
                )
    return events


def recompute(dimensions, kind=None):
    """The groups by the README's rules, in Python (of the events of `kind`, if given)."""
    events = list(Event.objects.filter(review_state=ReviewState.PUBLISHED))
    visible = {e.pk for e in events}

    def best(e):
        return e.expelled_best if e.expelled_best is not None else e.expelled_low

    parts = {}
    for link in EventLink.objects.filter(kind=LinkKind.PART_OF, from_event_id__in=visible):
        parts.setdefault(link.to_event_id, []).append(Event.objects.get(pk=link.from_event_id))
    contribution = {}
    for e in events:
        figures = {"low": e.expelled_low, "best": best(e), "high": e.expelled_high}
        lower = e.expelled_low is not None and e.expelled_best is None
        mine = parts.get(e.pk, [])
        if mine:
            sums = {
                "low": [p.expelled_low for p in mine if p.expelled_low is not None],
                "best": [best(p) for p in mine if best(p) is not None],
                "high": [p.expelled_high for p in mine if p.expelled_high is not None],
            }
            figures = {
                k: None if v is None else (v if not sums[k] else max(v - sum(sums[k]), 0))
                for k, v in figures.items()
            }
            lower = lower or (
                figures["best"] is not None
                and any(p.expelled_low is not None and p.expelled_best is None for p in mine)
            )
        contribution[e.pk] = figures, lower

    involvements = list(CountryInvolvement.objects.select_related("country"))
    participations = list(Participation.objects.select_related("actor"))

    def side(e, flag, role):
        codes_ = {v.country.code for v in involvements if v.event_id == e.pk and getattr(v, flag)}
        if codes_:
            return codes_
        actors = {
            f"actor:{p.actor.slug}" for p in participations if p.event_id == e.pk and p.role == role
        }
        return actors or {None}

    coarse = {"year": (), "month": ("year",), "week": ("month", "year"), "day": ("month", "year")}

    def keys(e, name):
        start = e.start_date
        if name == "year":
            return [start.year]
        if name == "month":
            return [start.strftime("%Y-%m")]
        if name == "week":
            return [(start - datetime.timedelta(days=start.weekday())).isoformat()]
        if name == "day":
            return [start.isoformat()]
        if name in ("kind", "mode", "status"):
            return [getattr(e, name)]
        if name == "cameo_root":
            return [e.cameo_code[:2] or None]
        if name == "quad_class":
            return [codes.quad_class(e.cameo_code)]
        if name == "initiator":
            return sorted(side(e, "as_initiator", "initiator"), key=str)
        if name == "target":
            return sorted(side(e, "as_target", "target"), key=str)
        if name == "country":
            return sorted(
                {v.country.code for v in involvements if v.event_id == e.pk} or {None}, key=str
            )
        if name == "actor":
            return sorted(
                {p.actor.slug for p in participations if p.event_id == e.pk} or {None}, key=str
            )
        raise AssertionError(name)

    groups = {}
    for e in events:
        if kind is not None and e.kind != kind:
            continue
        if any(e.date_precision in coarse.get(name, ()) for name in dimensions):
            continue
        combos = itertools.product(
            *[
                itertools.product(keys(e, "initiator"), keys(e, "target"))
                if name == "dyad"
                else [(k,) for k in keys(e, name)]
                for name in dimensions
            ]
        )
        figures, lower = contribution[e.pk]
        for combo in combos:
            key = tuple(k for part in combo for k in part)
            g = groups.setdefault(
                key,
                {
                    "events": 0,
                    "best": [],
                    "low": [],
                    "high": [],
                    "missing": 0,
                    "lower": False,
                    "g": [],
                },
            )
            g["events"] += 1
            if figures["best"] is not None:
                g["best"].append(figures["best"])
                if figures["low"] is not None:
                    g["low"].append(figures["low"])
                if figures["high"] is None:
                    g["missing"] += 1
                else:
                    g["high"].append(figures["high"])
                g["lower"] = g["lower"] or lower
            value = codes.goldstein(e.cameo_code)
            if value is not None:
                g["g"].append(value)
    return {
        key: {
            "events": g["events"],
            "people_expelled": sum(g["best"]) if g["best"] else None,
            "people_expelled_low": sum(g["low"]) if g["low"] else None,
            "people_expelled_high": None if g["missing"] or not g["high"] else sum(g["high"]),
            "people_expelled_high_missing": g["missing"],
            "people_expelled_is_lower_bound": g["lower"],
            "goldstein_sum": round(sum(g["g"]), 2) if g["g"] else None,
            "goldstein_mean": round(sum(g["g"]) / len(g["g"]), 2) if g["g"] else None,
        }
        for key, g in groups.items()
    }


@pytest.mark.parametrize(
    "dimensions",
    [[name] for name in GROUP_BY]
    + [["month", "kind"], ["year", "dyad"], ["initiator", "quad_class"]],
    ids=lambda d: ",".join(d),
)
def test_every_group_by_matches_a_recomputation(random_world, dimensions):
    assert_matches_recomputation(get(APIClient(), group_by=",".join(dimensions)), dimensions)


@pytest.mark.parametrize(
    "dimensions",
    [[name] for name in GROUP_BY if name not in ("mode", "status", "cameo_root")]
    + [["year", "dyad"], ["initiator", "quad_class"], ["month", "actor"]],
    ids=lambda d: ",".join(d),
)
def test_a_filtered_group_by_matches_a_recomputation(random_world, dimensions):
    """Some events match: their keys are looked up event by event (not read whole)."""
    answer = get(APIClient(), group_by=",".join(dimensions), kind="expulsion")
    assert_matches_recomputation(answer, dimensions, kind="expulsion")


def assert_matches_recomputation(answer, dimensions, kind=None):
    columns = [
        c for name in dimensions for c in (["initiator", "target"] if name == "dyad" else [name])
    ]
    got = {
        tuple(g[c] for c in columns): {k: v for k, v in g.items() if k not in columns}
        for g in answer["groups"]
    }
    expected = recompute(dimensions, kind)
    assert got.keys() == expected.keys()
    for key in expected:
        for measure, value in expected[key].items():
            assert got[key][measure] == pytest.approx(value, abs=0.011), (key, measure)


@pytest.mark.parametrize(
    "dimensions",
    [["day"], ["actor"], ["dyad"], ["initiator", "day"], ["country", "week"], ["target", "actor"]],
    ids=lambda d: ",".join(d),
)
@pytest.mark.parametrize("drafts", [False, True], ids=["published", "with drafts"])
def test_the_sample_counts_the_groups_the_grouping_gives(random_world, dimensions, drafts):
    """Sampling every row, the sample's keys are the groups: so a sample over the limit is a
    proof that the grouping is too."""
    from events import aggregates, rollups

    queryset = Event.objects.all() if drafts else Event.objects.published()
    coarse = next(
        (aggregates.DATE_DIMENSIONS[n] for n in dimensions if n in aggregates.DATE_DIMENSIONS),
        (),
    )
    prefix, params, _ = aggregates._matching_prefix(queryset, drafts, {}, not drafts)
    sampled = aggregates.sampled_groups(
        queryset.db, rollups.vendor_of(queryset.db), prefix, params, dimensions, coarse
    )
    counted = aggregates.aggregate(queryset, dimensions, drafts, filters={})
    assert sampled == len(counted.groups) > 1


# --- The article fixtures, and parts imported into them --------------------------------------

COORDINATED = "2018-03-26-coordinated-expulsion-of-russian-diplomats"
MARCH = {"kind": "expulsion", "date_after": "2018-03-01", "date_before": "2018-03-31"}


@pytest.fixture
def articles(db):

    load_articles()


def test_the_fixtures_count_the_united_states_60_and_the_partners_more_than_100(articles):
    client = APIClient()
    listed = client.get("/api/events/", {**MARCH, "initiator": "US"}).json()["results"]
    assert [e["expelled_best"] for e in listed] == [60]
    groups = by(get(client, **MARCH, group_by="initiator")["groups"], "initiator")
    assert groups["US"]["people_expelled"] == 60
    assert groups["GB"]["people_expelled"] == 23
    (partners,) = [key for key in groups if key.startswith("actor:")]
    # "More than 100" (a low of 101) less the United States' 60: at least 41 more.
    assert groups[partners]["people_expelled"] == 101 - 60
    assert groups[partners]["people_expelled_is_lower_bound"] is True
    (russia,) = get(client, **MARCH, group_by="target")["groups"]
    assert (russia["target"], russia["people_expelled"]) == ("RU", 23 + 101)
    assert russia["people_expelled_is_lower_bound"] is True


IMPORT_COLUMNS = [
    "slug",
    "kind",
    "title",
    "start_date",
    "date_precision",
    "expelled_low",
    "expelled_best",
    "expelled_high",
    "participants",
    "citations",
    "links",
]


@pytest.mark.parametrize(
    "parts, partners_left",
    [
        # Made-up figures for a made-up set of parts: less than the whole, then more.
        ({"france": 4, "germany": 4, "ukraine": 4}, 101 - 60 - 12),
        ({"france": 30, "germany": 20, "ukraine": 10}, 0),
    ],
)
def test_parts_imported_then_counted_by_initiator_and_by_target(
    articles, tmp_path, parts, partners_left
):
    import json

    from django.core.management import call_command

    path = tmp_path / "parts.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, IMPORT_COLUMNS)
        writer.writeheader()
        for slug, figure in parts.items():
            writer.writerow(
                {
                    "slug": f"2018-03-26-{slug}-expels-russian-diplomats",
                    "kind": "expulsion",
                    "title": f"{slug.title()} expels Russian diplomats",
                    "start_date": "2018-03-26",
                    "date_precision": "day",
                    "expelled_low": figure,
                    "expelled_best": figure,
                    "expelled_high": figure,
                    "participants": f"initiator:{slug};target:russia",
                    "citations": json.dumps(
                        [{"source_url": "https://example.org/made-up", "locator": "para. 1"}]
                    ),
                    "links": f"part_of:{COORDINATED}",
                }
            )
    call_command("import_events", str(path), "--publish", verbosity=0)

    client = APIClient()
    groups = by(get(client, **MARCH, group_by="initiator")["groups"], "initiator")
    codes_ = {"france": "FR", "germany": "DE", "ukraine": "UA"}
    for slug, figure in parts.items():
        assert groups[codes_[slug]]["people_expelled"] == figure
    assert groups["US"]["people_expelled"] == 60
    assert groups["GB"]["people_expelled"] == 23
    (partners,) = [key for key in groups if key.startswith("actor:")]
    assert groups[partners]["people_expelled"] == partners_left
    (russia,) = get(client, **MARCH, group_by="target")["groups"]
    covered = 60 + sum(parts.values())
    assert russia["people_expelled"] == 23 + max(101, covered)
    assert russia["people_expelled_is_lower_bound"] is True
    assert sum(g["people_expelled"] or 0 for g in groups.values()) == russia["people_expelled"]
