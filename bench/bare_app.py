"""The baseline of bench.py's throughput: a bare WSGI app, no Django, under the same gunicorn.

- `/api/events/`: the 50 newest published events, nested (participants, citations, links), as
  JSON that PostgreSQL builds in one query (`RAW_LIST`) and the app hands out as bytes.
- `/events/`: one query for the listing's 50 events with their initiators and targets
  (`LISTING_SQL`), then the HTML listing's bytes as the project served them, captured once by
  bench.py: one query and the same bytes on the wire.

Each worker opens its connection once, at its first request, in autocommit and with JIT off,
as the project's connections are (diplomacy/settings.py). bench.py runs it as

    DATABASE_URL=postgres://… BARE_APP_COLUMNS=… BARE_APP_LISTING=page.html \
        gunicorn bench.bare_app:application

`BARE_APP_COLUMNS` is the event's own columns the API shows, which bench.py derives from
events/shape.py (this module imports nothing of Django); without `BARE_APP_LISTING`,
`/events/` is a 404.
"""

import os

import psycopg
from psycopg.adapt import Loader

# The 50 newest published events as the API nests them; `{columns}` the event's own columns
# (`ev.`-prefixed), `{where}` extra conditions. bench.py's in-process raw query uses it too.
RAW_LIST = """
SELECT json_agg(e ORDER BY e.start_date DESC, e.id DESC) FROM (
  SELECT ev.id, {columns},
    json_build_object('country', c.code, 'country_name', c.name, 'place', ev.place) AS location,
    (SELECT coalesce(json_agg(json_build_object('actor', a.slug, 'actor_name', a.name,
        'actor_kind', a.kind, 'country', ac.code, 'role', p.role) ORDER BY p.position, p.id), '[]')
     FROM events_participation p JOIN events_actor a ON a.id = p.actor_id
     LEFT JOIN events_country ac ON ac.id = a.country_id WHERE p.event_id = ev.id) AS participants,
    (SELECT coalesce(json_agg(json_build_object('source', s.id, 'source_url', s.url,
        'source_title', s.title, 'source_publisher', s.publisher,
        'source_published_on', s.published_on, 'locator', ci.locator, 'note', ci.note)
        ORDER BY ci.id), '[]')
     FROM events_citation ci JOIN events_source s ON s.id = ci.source_id
     WHERE ci.event_id = ev.id) AS citations,
    (SELECT coalesce(json_agg(json_build_object('kind', l.kind, 'event', o.slug,
        'title', o.title)), '[]')
     FROM events_eventlink l JOIN events_event o ON o.id = l.to_event_id
     WHERE l.from_event_id = ev.id) AS links_out,
    (SELECT coalesce(json_agg(json_build_object('kind', l.kind, 'event', o.slug,
        'title', o.title)), '[]')
     FROM events_eventlink l JOIN events_event o ON o.id = l.from_event_id
     WHERE l.to_event_id = ev.id) AS links_in
  FROM events_event ev LEFT JOIN events_country c ON c.id = ev.location_country_id
  WHERE ev.review_state = 'published' {where}
  ORDER BY ev.start_date DESC, ev.id DESC LIMIT 50
) e
"""

# What the HTML listing's table shows of its 50 events: date, kind, title, status, the number
# expelled, and who initiated and who was targeted.
LISTING_SQL = """
SELECT ev.slug, ev.kind, ev.title, ev.status, ev.start_date, ev.end_date, ev.date_precision,
  ev.expelled_low, ev.expelled_best, ev.expelled_high,
  (SELECT coalesce(json_agg(json_build_object('role', p.role, 'actor', a.slug, 'name', a.name,
      'country', c.code) ORDER BY p.position, p.id), '[]')
   FROM events_participation p JOIN events_actor a ON a.id = p.actor_id
   LEFT JOIN events_country c ON c.id = a.country_id
   WHERE p.event_id = ev.id AND p.role IN ('initiator', 'target')) AS sides
FROM events_event ev WHERE ev.review_state = 'published'
ORDER BY ev.start_date DESC, ev.id DESC LIMIT 50
"""


class JsonBytes(Loader):
    """A json column as PostgreSQL wrote it: bytes, never parsed into Python objects."""

    def load(self, data):
        return bytes(data)


def connect(url):
    connection = psycopg.connect(url, autocommit=True, options="-c jit=off")
    connection.adapters.register_loader("json", JsonBytes)
    return connection


_connection = None


def query(sql):
    global _connection
    if _connection is None:  # at the worker's first request: a connection never crosses a fork
        _connection = connect(os.environ["DATABASE_URL"])
    with _connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


API_SQL = None
if os.environ.get("BARE_APP_COLUMNS"):
    API_SQL = RAW_LIST.format(columns=os.environ["BARE_APP_COLUMNS"], where="")
LISTING_BODY = None
if os.environ.get("BARE_APP_LISTING"):
    with open(os.environ["BARE_APP_LISTING"], "rb") as listing:
        LISTING_BODY = listing.read()


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/api/events/" and API_SQL:
        body = query(API_SQL)[0][0]
        content_type = "application/json"
    elif path == "/events/" and LISTING_BODY is not None:
        query(LISTING_SQL)
        body = LISTING_BODY
        content_type = "text/html; charset=utf-8"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not found\n"]
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
