"""The one shape of an event (API list and detail, write responses, CSV, export), built from
rows rather than model instances.

A page of 50 events as instances meant ~1,300 model objects and ~100 related querysets: the
request's time went to Python, not to the database. Here an event is a dict of column values
(`event_rows`, with its location country joined), and `represent` adds its participants,
citations and links from three `values_list()` queries, whatever the number of events: four
queries in all. `represent_in_chunks` does the same for a stream of any length, a chunk at a
time, so that an export of millions of events holds one chunk in memory.
"""

from collections import defaultdict
from urllib.parse import quote

from django.db.models import Q
from rest_framework.reverse import reverse

from .models import Citation, EventLink, Participation, ReviewState

# What the representation shows of an event, read in the events' own query.
EVENT_COLUMNS = (
    "id",
    "slug",
    "kind",
    "mode",
    "title",
    "summary",
    "start_date",
    "end_date",
    "date_precision",
    "status",
    "location_country__code",
    "location_country__name",
    "place",
    "expelled_count",
    "expelled_count_qualifier",
    "quoted_words",
    "review_state",
    "cameo_code",
    "plover_type",
    "plover_mode",
    "version",
)

# A citation's portable fields (Citation.portable_data(): the API and CSV shape) and the
# columns they are read from. tests/test_representation.py holds the two in step.
CITATION_FIELDS = {
    "source_url": "source__url",
    "source_title": "source__title",
    "source_publisher": "source__publisher",
    "source_published_on": "source__published_on",
    "locator": "locator",
    "note": "note",
}

# Events per chunk when streaming (CSV, export): four queries per chunk. Past ~300 ids in the
# IN lists, PostgreSQL (5M events) turns the participants' and citations' look-ups into merge
# and hash joins over every actor and source; at 200 they stay index look-ups (1.4-1.9x faster
# than 1,000 per chunk, measured on warm data).
CHUNK_SIZE = 200


def event_url_maker(request):
    """slug -> the event's API address, resolved once (reverse() per row is slow)."""
    marker = "--slug--"
    template = reverse("api:event-detail", args=[marker], request=request)
    before, after = template.split(marker)
    # Quoted as reverse() quotes a path argument.
    return lambda slug: before + quote(slug, safe="/~:@!$&'()*+,;=") + after


def event_rows(queryset):
    """The events of `queryset` (its filters and order kept) as dicts of `EVENT_COLUMNS`."""
    return queryset.values(*EVENT_COLUMNS)


def represent(rows, shows_drafts, event_url=None, using="default"):
    """The representation of each event row (from `event_rows`), in the rows' order.

    Three queries, whatever the number of rows: participants (by position), citations (in the
    order they were added), links in both directions. Links to drafts are left out unless
    `shows_drafts`. Without `event_url` (the CSV, which has no such column) `url` is None.
    """
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    participants = _participants(ids, using)
    citations = _citations(ids, using)
    links = _links(ids, shows_drafts, using)
    return [
        {
            "slug": row["slug"],
            "url": event_url(row["slug"]) if event_url else None,
            "kind": row["kind"],
            "mode": row["mode"],
            "title": row["title"],
            "summary": row["summary"],
            "start_date": row["start_date"].isoformat(),
            "end_date": row["end_date"].isoformat() if row["end_date"] else None,
            "date_precision": row["date_precision"],
            "status": row["status"],
            "location": {
                "country": row["location_country__code"],
                "country_name": row["location_country__name"],
                "place": row["place"],
            },
            "participants": participants.get(row["id"], []),
            "expelled_count": row["expelled_count"],
            "expelled_count_qualifier": (
                row["expelled_count_qualifier"] if row["expelled_count"] is not None else None
            ),
            "quoted_words": row["quoted_words"],
            "citations": citations.get(row["id"], []),
            "links": links.get(row["id"], []),
            "review_state": row["review_state"],
            "cameo_code": row["cameo_code"],
            "plover_type": row["plover_type"],
            "plover_mode": row["plover_mode"],
            "version": row["version"],
        }
        for row in rows
    ]


def represent_events(queryset, shows_drafts, event_url=None):
    """The representations of the events of `queryset`, in its order: four queries."""
    return represent(list(event_rows(queryset)), shows_drafts, event_url, queryset.db)


def represent_in_chunks(queryset, shows_drafts, event_url=None, chunk_size=CHUNK_SIZE):
    """Lists of at most `chunk_size` representations, for every event of `queryset` in its
    order. The event rows come through `iterator()` (a server-side cursor on PostgreSQL), so
    memory holds one chunk, whatever the number of events."""
    chunk = []
    for row in event_rows(queryset).iterator(chunk_size=chunk_size):
        chunk.append(row)
        if len(chunk) >= chunk_size:
            yield represent(chunk, shows_drafts, event_url, queryset.db)
            chunk = []
    if chunk:
        yield represent(chunk, shows_drafts, event_url, queryset.db)


# -- the related rows, grouped by event ----------------------------------------------------


def _participants(ids, using):
    rows = (
        Participation.objects.using(using)
        .filter(event_id__in=ids)
        .order_by("position", "id")
        .values_list(
            "event_id", "actor__slug", "actor__name", "actor__kind", "actor__country__code", "role"
        )
    )
    grouped = defaultdict(list)
    for event_id, slug, name, kind, country, role in rows:
        grouped[event_id].append(
            {
                "actor": slug,
                "actor_name": name,
                "actor_kind": kind,
                "country": country,
                "role": role,
            }
        )
    return grouped


def _citations(ids, using):
    rows = (
        Citation.objects.using(using)
        .filter(event_id__in=ids)
        .order_by("id")
        .values_list("event_id", "source_id", *CITATION_FIELDS.values())
    )
    grouped = defaultdict(list)
    for event_id, source_id, url, title, publisher, published_on, locator, note in rows:
        grouped[event_id].append(
            {
                "source": source_id,
                "source_url": url,
                "source_title": title,
                "source_publisher": publisher,
                "source_published_on": published_on.isoformat() if published_on else None,
                "locator": locator,
                "note": note,
            }
        )
    return grouped


def _links(ids, shows_drafts, using):
    """{event id: its links}: outgoing ones then incoming ones, each by kind and the other
    event's slug (an order that survives an export and re-import). One query, served by the
    two link indexes (from_event IN … OR to_event IN …)."""
    rows = (
        EventLink.objects.using(using)
        .filter(Q(from_event_id__in=ids) | Q(to_event_id__in=ids))
        .order_by()
        .values_list(
            "kind",
            "from_event_id",
            "from_event__slug",
            "from_event__title",
            "from_event__review_state",
            "to_event_id",
            "to_event__slug",
            "to_event__title",
            "to_event__review_state",
        )
    )
    wanted = set(ids)
    published = ReviewState.PUBLISHED
    outgoing, incoming = defaultdict(list), defaultdict(list)
    for (
        kind,
        from_id,
        from_slug,
        from_title,
        from_state,
        to_id,
        to_slug,
        to_title,
        to_state,
    ) in rows:
        if from_id in wanted and (shows_drafts or to_state == published):
            outgoing[from_id].append((kind, to_slug, to_title))
        if to_id in wanted and (shows_drafts or from_state == published):
            incoming[to_id].append((kind, from_slug, from_title))
    grouped = {}
    for event_id in outgoing.keys() | incoming.keys():
        grouped[event_id] = [
            {"direction": direction, "kind": kind, "event": slug, "title": title}
            for direction, links in (
                ("outgoing", outgoing.get(event_id, ())),
                ("incoming", incoming.get(event_id, ())),
            )
            for kind, slug, title in sorted(links, key=_kind_and_slug)
        ]
    return grouped


def _kind_and_slug(link):
    return link[0], link[1]
