"""The event FilterSet that the API and the HTML listing share, on the article fixtures."""

import io

import pytest
from django.core.management import call_command
from django.http import QueryDict

from events.filters import EventFilter
from events.models import Event, Source
from tests.articles import load_articles

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fixtures():
    load_articles()


def run(query):
    filterset = EventFilter(QueryDict(query), queryset=Event.objects.all())
    assert filterset.is_valid(), filterset.errors
    return [event.slug for event in filterset.qs]


def errors(query):
    filterset = EventFilter(QueryDict(query), queryset=Event.objects.all())
    assert not filterset.is_valid()
    return {field: " ".join(messages) for field, messages in filterset.errors.items()}


def test_kind_accepts_one_or_several_comma_separated():
    assert len(run("kind=expulsion")) == 3
    assert set(run("kind=phone_call")) == {
        "2018-03-19-abe-putin-phone-call",
        "2018-03-20-may-abe-phone-call",
    }
    assert len(run("kind=expulsion,phone_call")) == 5
    assert len(run("kind=expulsion&kind=phone_call")) == 5


def test_initiator_and_target_take_alpha2_or_alpha3_in_any_case():
    # The coordinated expulsion's initiator is a coalition, which involves no country itself.
    us = {"2018-03-26-united-states-expels-60-russian-diplomats"}
    assert set(run("kind=expulsion&initiator=US")) == us
    assert set(run("kind=expulsion&initiator=usa")) == us
    assert len(run("kind=expulsion&target=ru")) == 3
    assert run("kind=expulsion&initiator=JP") == []


def test_phone_calls_of_19_to_20_march():
    assert len(run("kind=phone_call&date_after=2018-03-19&date_before=2018-03-20")) == 2
    assert run("kind=phone_call&date_after=2018-03-21") == []


def test_month_precision_event_matches_a_range_inside_its_month():
    found = run("kind=summit&status=planned&date_after=2018-05-10&date_before=2018-05-20")
    # The May summit (month precision) and the G7 summit (year precision, 2018) overlap.
    assert found == ["2018-05-abe-putin-summit-in-russia", "2018-g7-summit"]
    assert run("kind=summit&date_after=2018-04-01&date_before=2018-04-30") == ["2018-g7-summit"]
    assert run("kind=summit&date_after=2018-06-01&date_before=2018-06-30") == ["2018-g7-summit"]


def test_country_means_any_involvement():
    # Japan is the location of the Tokyo meeting and the country of many participants.
    assert "2018-03-21-kono-lavrov-meeting-tokyo" in run("country=JP")
    assert "2018-03-26-united-states-expels-60-russian-diplomats" not in run("country=JP")


def test_actor_source_and_linked_to():
    assert set(run("actor=theresa-may")) >= {"2018-03-20-may-abe-phone-call"}
    commentary = Source.objects.get(kind="commentary")
    assert "2018-03-19-abe-putin-phone-call" in run(f"source={commentary.pk}")
    news = Source.objects.get(kind="news")
    assert "2018-03-19-abe-putin-phone-call" not in run(f"source={news.pk}")
    linked = set(run("linked_to=2018-03-26-coordinated-expulsion-of-russian-diplomats"))
    assert "2018-03-26-united-states-expels-60-russian-diplomats" in linked  # incoming
    assert "2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal" in linked  # outgoing


def test_text_and_ordering():
    assert run("q=Skripal") == ["2018-03-04-salisbury-poisoning-of-sergei-and-yulia-skripal"]
    titles = run("ordering=title&kind=expulsion")
    assert titles[0] == "2018-03-26-coordinated-expulsion-of-russian-diplomats"
    assert run("ordering=date")[0] == "2014-russian-military-intervention-in-ukraine"
    assert run("")[0] == "2018-05-abe-putin-summit-in-russia"


@pytest.mark.parametrize(
    "query, field, message",
    [
        ("kind=visit", "kind", "Unknown value visit; choose from:"),
        ("status=maybe", "status", "Select a valid choice"),
        ("date_after=2018-13-45", "date_after", "Enter a valid date"),
        ("country=XX", "country", "Unknown country code 'XX'."),
        ("initiator=ZZZZ", "initiator", "Unknown country code 'ZZZZ'."),
        ("actor=nobody", "actor", "Unknown actor 'nobody'."),
        ("source=99999", "source", "Unknown source id '99999'."),
        ("source=abc", "source", "Unknown source id 'abc'."),
        ("linked_to=nothing", "linked_to", "Unknown event 'nothing'."),
        ("ordering=slug", "ordering", "Select a valid choice"),
    ],
)
def test_bad_values_are_errors_naming_the_parameter(query, field, message):
    found = errors(query)
    assert list(found) == [field]
    assert message in found[field]


def test_a_drafts_slug_is_unknown_to_the_public():
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    Event.objects.filter(slug="2018-03-14-uk-expels-23-russian-diplomats").update(
        review_state="draft"
    )
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    query = QueryDict("linked_to=2018-03-14-uk-expels-23-russian-diplomats")
    filterset = EventFilter(query, queryset=Event.objects.published(), request=request)
    assert not filterset.is_valid()
    assert "Unknown event" in str(filterset.errors["linked_to"])


def reference(params):
    """The same filters spelt as plain semi-joins on the source tables (no derived row)."""
    from django.db.models import F, Q

    from events.models import Actor, Country, Participation

    events = Event.objects.all()
    if "q" in params:
        events = events.search(params["q"])
    if "kind" in params:
        events = events.filter(kind__in=params["kind"].split(","))
    if "date_after" in params:
        events = events.filter(period_end__gte=params["date_after"])
    if "date_before" in params:
        events = events.filter(start_date__lte=params["date_before"])
    for name, role in (("country", None), ("initiator", "initiator"), ("target", "target")):
        if name in params:
            country = Country.objects.get(code=params[name])
            # Acting for the country: a state or agency of it, or a person in an office of it
            # at some time in the event's period (the involvement rule).
            in_office = (
                Q(actor__kind="person", actor__offices__country=country)
                & (
                    Q(actor__offices__start_date__isnull=True)
                    | Q(actor__offices__start_date__lte=F("event__period_end"))
                )
                & (
                    Q(actor__offices__end_date__isnull=True)
                    | Q(actor__offices__end_date__gte=F("event__start_date"))
                )
            )
            taking_part = Participation.objects.filter(
                Q(actor__kind__in=["state", "agency"], actor__country=country) | in_office
            )
            if role:
                taking_part = taking_part.filter(role=role)
                events = events.filter(pk__in=taking_part.values("event_id"))
            else:
                events = events.filter(
                    Q(location_country=country) | Q(pk__in=taking_part.values("event_id"))
                )
    if "actor" in params:
        actor = Actor.objects.get(slug=params["actor"])
        events = events.filter(pk__in=Participation.objects.filter(actor=actor).values("event_id"))
    order = {"date": ("start_date", "id"), "title": ("title", "id")}
    return list(
        events.order_by(*order.get(params.get("ordering"), ("-start_date", "-id"))).values_list(
            "slug", flat=True
        )
    )


def test_the_derived_filters_match_plain_semi_joins_on_synthetic_data():
    from events.models import Actor, Participation

    call_command(
        "generate_synthetic",
        events=400,
        actors=60,
        seed=7,
        batch_size=1000,
        allow_curated=True,
        stdout=io.StringIO(),
    )
    # An actor in two roles of some events: still one row per event.
    state = Actor.objects.filter(kind="state").order_by("id").first()
    for event in Event.objects.filter(participations__actor=state)[:5]:
        Participation.objects.get_or_create(event=event, actor=state, role="speaker")
    codes = ["JP", "US", "RU", "GB"] + list(
        Actor.objects.filter(kind="state").values_list("country__code", flat=True)[:3]
    )
    queries = [f"actor={state.slug}", f"actor={state.slug}&ordering=date"]
    for code in codes:
        queries += [
            f"country={code}",
            f"kind=meeting&country={code}&date_after=1995-01-01&date_before=2015-12-31",
            f"kind=statement,meeting&initiator={code}&ordering=date",
            f"kind=expulsion&target={code}&ordering=title",
            f"initiator={code}&target={codes[1]}&date_before=2010-06-30",
            f"actor={state.slug}&country={code}",
            # With a text search: on PostgreSQL the country is matched on the event's own
            # country ids, not on the involvements (EventQuerySet.involving).
            f"q=nuclear&initiator={code}&ordering=title",
            f"q=trade&country={code}",
            f"q=treaty&kind=meeting,summit&target={code}&ordering=date",
            f"q=energy&initiator={code}&target={codes[1]}&date_before=2010-06-30",
        ]
    for query in queries:
        params = dict(pair.split("=") for pair in query.split("&"))
        assert run(query) == reference(params), query


@pytest.mark.postgres_only
def test_a_text_search_with_a_country_reads_both_indexes_on_postgresql():
    """One GIN index scan finds the events matching both the words and the country: only
    those are read, however many events the country takes part in."""
    from django.db import connection
    from django.db.models import Count

    from events.models import CountryInvolvement

    call_command(
        "generate_synthetic",
        events=2000,
        actors=40,
        seed=5,
        batch_size=1000,
        allow_curated=True,
        stdout=io.StringIO(),
    )
    # The country taking part in most events.
    code = (
        CountryInvolvement.objects.values_list("country__code", flat=True)
        .annotate(n=Count("id"))
        .order_by("-n")[0]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_event")
        # On a table this small PostgreSQL would rather read it all, or sort by title.
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_indexscan = off")
        plans = {
            name: EventFilter(
                QueryDict(f"q=nuclear&{name}={code}&ordering=title"),
                queryset=Event.objects.all(),
            ).qs.explain()
            for name in ("country", "initiator", "target")
        }
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_indexscan")
    for name, column in (
        ("country", "involved_country_ids"),
        ("initiator", "initiator_country_ids"),
        ("target", "target_country_ids"),
    ):
        plan = plans[name]
        assert "event_search_countries_idx" in plan, plan
        # One index condition holds both: the index intersects them.
        assert any(
            "Index Cond" in line and "search_document @@" in line and f"{column} @>" in line
            for line in plan.splitlines()
        ), plan
        assert "countryinvolvement" not in plan, plan
