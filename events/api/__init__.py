"""The REST API under /api/: views (viewsets, schema, permissions), serializers (shapes and
write validation), throttle (anonymous rate limits) and urls (routes). Writes go through
events/writes.py; the event's shape is events/shape.py; paging is events/pagination.py (shared
with the HTML pages) and CSV is events/api_csv.py (shared with the export)."""
