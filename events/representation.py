"""The one shape of an event (API list and detail, write responses, CSV, export), built from
rows rather than model instances.

A page of 50 events as instances meant ~1,300 model objects and ~100 related querysets: the
request's time went to Python, not to the database. Here an event is a dict of column values
(`event_rows`, with its location country joined), and `represent` adds its participants,
citations and links. On PostgreSQL `read_rows` has the events' own query build those as JSON
(one query for a page: one round trip, one plan); elsewhere, and for streams, three fixed SQL
queries read them for any number of events: four queries in all. `represent_in_chunks` does
the same for a stream of any length, a chunk at a time, so that an export of millions of
events holds one chunk in memory.
"""

import re
from collections import defaultdict
from urllib.parse import quote

import orjson
from django.db import connections, models
from rest_framework.reverse import reverse

from . import shape
from .models import Event, ReviewState

# What the representation reads of an event, in the events' own query (the shape's lookups).
EVENT_COLUMNS = shape.ROW_LOOKUPS

# The shape's fields that `represent` builds: the address, the nested location and the
# children by hand, and the fields the shape says how to make from their lookups (the
# Goldstein value and quad class, from the CAMEO code). Every other field is the column of its
# own name (a date shown as ISO text), so a field added to the shape shows without a change
# here.
_MADE = tuple((field.name, field.lookups, field.make) for field in shape.MADE_FIELDS)
BUILT = frozenset(
    ["url", "location", "participants", "citations", "links", *(name for name, _, _ in _MADE)]
)
# Every key of the shape, in its order, each None until set: an event starts as a copy.
_EMPTY_EVENT = dict.fromkeys(shape.API_FIELDS)
# The row's columns that are no key of the event (its id, the location's), removed once the
# row is merged into the event; "related" too, on rows from read_rows on PostgreSQL.
_NOT_SHOWN = tuple(column for column in EVENT_COLUMNS if column not in _EMPTY_EVENT)
_NOT_SHOWN_RELATED = (*_NOT_SHOWN, "related")
_DATES = tuple(
    field.name
    for field in shape.FIELDS
    if field.name not in BUILT and isinstance(Event._meta.get_field(field.name), models.DateField)
)

# A citation's portable fields (Citation.portable_data(): the API and CSV shape) and the
# columns they are read from (CITATIONS_SQL, RELATED_SQL). tests/test_representation.py holds
# the two in step.
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


_PLAIN_SLUG = re.compile(r"[A-Za-z0-9_.~-]*\Z").match


def event_url_maker(request):
    """slug -> the event's API address, resolved once (reverse() per row is slow)."""
    marker = "--slug--"
    template = reverse("api:event-detail", args=[marker], request=request)
    before, after = template.split(marker)

    def event_url(slug):
        # Quoted as reverse() quotes a path argument; a plain slug (the rule) needs no quoting.
        if _PLAIN_SLUG(slug) is None:
            slug = quote(slug, safe="/~:@!$&'()*+,;=")
        return before + slug + after

    return event_url


def event_rows(queryset):
    """The events of `queryset` (its filters and order kept) as dicts of `EVENT_COLUMNS`."""
    return queryset.values(*EVENT_COLUMNS)


def read_rows(queryset, shows_drafts):
    """The rows of `queryset` (an `event_rows` queryset, sliced to a page): one query.

    On PostgreSQL the same query also builds each event's participants, citations and links
    as JSON (`RELATED_SQL`), carried by the row under "related"; `represent` then needs no
    query of its own. Elsewhere the rows are plain, and `represent` reads the related rows in
    three queries.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return list(queryset)
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    order = ", ".join(_outer_order(queryset.query.order_by))
    published = "" if shows_drafts else "AND other.review_state = 'published'"
    related = RELATED_SQL.format(published=published)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT page.*, {related} FROM ({sql}) page{' ORDER BY ' if order else ''}{order}",
            params,
        )
        rows = cursor.fetchall()
    width = len(EVENT_COLUMNS)
    return [
        {**dict(zip(EVENT_COLUMNS, row[:width], strict=True)), "related": row[width]}
        for row in rows
    ]


def represent(rows, shows_drafts, event_url=None, using="default"):
    """The representation of each event row (from `event_rows` or `read_rows`), in the rows'
    order.

    Rows from `read_rows` on PostgreSQL carry their participants, citations and links; for
    others, three queries whatever the number of rows: participants (by position), citations
    (in the order they were added), links in both directions. Links to drafts are left out
    unless `shows_drafts`. Without `event_url` (the CSV, which has no such column) `url` is
    None.
    """
    if not rows:
        return []
    related = "related" in rows[0]
    if related:
        participants, citations, links = {}, {}, {}
        for row in rows:
            # The database's JSON, read by orjson (psycopg would use the slower json module).
            (
                participants[row["id"]],
                citations[row["id"]],
                links[row["id"]],
            ) = orjson.loads(row["related"])
    else:
        ids = [row["id"] for row in rows]
        participants = _participants(ids, using)
        citations = _citations(ids, using)
        links = _links(ids, shows_drafts, using)
    not_shown = _NOT_SHOWN_RELATED if related else _NOT_SHOWN
    shown = []
    for row in rows:
        # The row merged into a copy of the empty event fills its plain fields in place, at C
        # speed: as quick as a dict display written out field by field, where a list of
        # (key, column) pairs made represent 10-15% slower (5,000 rows). The row's other
        # columns come after the event's keys, and go.
        event = _EMPTY_EVENT.copy()
        event.update(row)
        for column in not_shown:
            del event[column]
        event_id = row["id"]
        event["url"] = event_url(row["slug"]) if event_url else None
        for name in _DATES:
            day = row[name]
            if day is not None:
                event[name] = day.isoformat()
        event["location"] = {
            "country": row["location_country__code"],
            "country_name": row["location_country__name"],
            "place": row["place"],
        }
        event["participants"] = participants.get(event_id, [])
        event["citations"] = citations.get(event_id, [])
        event["links"] = links.get(event_id, [])
        for name, lookups, make in _MADE:
            event[name] = make(*[row[lookup] for lookup in lookups])
        shown.append(event)
    return shown


def represent_events(queryset, shows_drafts, event_url=None):
    """The representations of the events of `queryset`, in its order: one query on
    PostgreSQL, four elsewhere."""
    rows = read_rows(event_rows(queryset), shows_drafts)
    return represent(rows, shows_drafts, event_url, queryset.db)


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
#
# Fixed SQL on a cursor rather than querysets: the three look-ups are the same for every page,
# and compiling three ORM queries cost about as much as running them (~2 ms a page). Their
# joins and orders are those the querysets had; `{ids}` becomes one placeholder per id (an IN
# list on either database, planned as the ORM's was).

PARTICIPANTS_SQL = """
SELECT p.event_id, a.slug, a.name, a.kind, c.code, p.role
FROM events_participation p
JOIN events_actor a ON a.id = p.actor_id
LEFT JOIN events_country c ON c.id = a.country_id
WHERE p.event_id IN ({ids})
ORDER BY p.position, p.id
"""

CITATIONS_SQL = """
SELECT ci.event_id, ci.source_id, s.url, s.title, s.publisher, s.published_on, ci.locator,
    ci.note
FROM events_citation ci
JOIN events_source s ON s.id = ci.source_id
WHERE ci.event_id IN ({ids})
ORDER BY ci.id
"""

# Served by the two link indexes (from_event IN … OR to_event IN …).
LINKS_SQL = """
SELECT l.kind, l.from_event_id, f.slug, f.title, f.review_state, l.to_event_id, t.slug,
    t.title, t.review_state
FROM events_eventlink l
JOIN events_event f ON f.id = l.from_event_id
JOIN events_event t ON t.id = l.to_event_id
WHERE l.from_event_id IN ({ids}) OR l.to_event_id IN ({ids})
"""


# PostgreSQL: an event's participants, citations and links as one JSON array of three lists,
# in the shape and orders of the three queries above (`{published}`: the drafts filter of
# links). Slugs and kinds sort COLLATE "C", as Python sorts strings.
RELATED_SQL = """(SELECT json_build_array(
  (SELECT COALESCE(json_agg(json_build_object('actor', a.slug, 'actor_name', a.name,
      'actor_kind', a.kind, 'country', c.code, 'role', p.role) ORDER BY p.position, p.id),
      '[]')
   FROM events_participation p
   JOIN events_actor a ON a.id = p.actor_id
   LEFT JOIN events_country c ON c.id = a.country_id
   WHERE p.event_id = page.id),
  (SELECT COALESCE(json_agg(json_build_object('source', ci.source_id, 'source_url', s.url,
      'source_title', s.title, 'source_publisher', s.publisher,
      'source_published_on', s.published_on, 'locator', ci.locator, 'note', ci.note)
      ORDER BY ci.id), '[]')
   FROM events_citation ci
   JOIN events_source s ON s.id = ci.source_id
   WHERE ci.event_id = page.id),
  (SELECT COALESCE(json_agg(json_build_object('direction', link.direction, 'kind', link.kind,
      'event', link.slug, 'title', link.title)
      ORDER BY link.rank, link.kind COLLATE "C", link.slug COLLATE "C"), '[]')
   FROM (
     SELECT 0 AS rank, 'outgoing'::text AS direction, l.kind, other.slug, other.title
     FROM events_eventlink l JOIN events_event other ON other.id = l.to_event_id
     WHERE l.from_event_id = page.id {published}
     UNION ALL
     SELECT 1, 'incoming', l.kind, other.slug, other.title
     FROM events_eventlink l JOIN events_event other ON other.id = l.from_event_id
     WHERE l.to_event_id = page.id {published}
   ) link)
)::text)"""

# The event columns the date orderings' keys stand for (filters.EVENT_ORDERINGS): the event's
# start date and id, whichever table a filter reads them from. Other keys are event columns.
_ORDER_COLUMNS = {"date_key": "start_date", "id_key": "id"}


def _outer_order(order_by):
    """The page query's order, restated on its rows (`page.start_date DESC, …`), so that the
    outer query keeps it; empty if a key is neither a date key nor an event column (the inner
    order then stands: PostgreSQL keeps a subquery's order through a plain projection)."""
    terms = []
    for field in order_by:
        name = field.lstrip("-") if isinstance(field, str) else None
        column = _ORDER_COLUMNS.get(name, name if name in EVENT_COLUMNS else None)
        if column is None:
            return []
        terms.append(f"page.{column}{' DESC' if field.startswith('-') else ''}")
    return terms


def _fetch(sql, ids, using, times=1):
    with connections[using].cursor() as cursor:
        cursor.execute(sql.format(ids=", ".join(["%s"] * len(ids))), ids * times)
        return cursor.fetchall()


def _iso(day):
    # A date column comes as a date from PostgreSQL and as its ISO text from SQLite.
    return day if day is None or isinstance(day, str) else day.isoformat()


def _participants(ids, using):
    grouped = defaultdict(list)
    for event_id, slug, name, kind, country, role in _fetch(PARTICIPANTS_SQL, ids, using):
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
    grouped = defaultdict(list)
    rows = _fetch(CITATIONS_SQL, ids, using)
    for event_id, source_id, url, title, publisher, published_on, locator, note in rows:
        grouped[event_id].append(
            {
                "source": source_id,
                "source_url": url,
                "source_title": title,
                "source_publisher": publisher,
                "source_published_on": _iso(published_on),
                "locator": locator,
                "note": note,
            }
        )
    return grouped


def _links(ids, shows_drafts, using):
    """{event id: its links}: outgoing ones then incoming ones, each by kind and the other
    event's slug (an order that survives an export and re-import)."""
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
    ) in _fetch(LINKS_SQL, ids, using, times=2):
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
