"""History for writes that bypass `Model.save()`: fixture loads and other raw saves.

django-simple-history records every ordinary save, but skips raw saves (`loaddata`). A command
that loads data wraps its work in `record_raw_saves()`, so a row the load creates or changes
gets a history record, and a row it leaves as it was gets none.
"""

from contextlib import contextmanager

from django.db.models.signals import post_save


def _differs(latest, instance):
    return any(
        getattr(latest, field.attname) != getattr(instance, field.attname)
        for field in latest.tracked_fields
    )


def _record(sender, instance, created, raw=False, **kwargs):
    if not raw or not hasattr(sender, "history"):
        return
    latest = sender.history.filter(**{sender._meta.pk.attname: instance.pk}).first()
    if latest is not None and not _differs(latest, instance):
        return
    sender.history.bulk_history_create(
        [instance], update=latest is not None, default_change_reason="loaded from a fixture"
    )


@contextmanager
def record_raw_saves():
    post_save.connect(_record, dispatch_uid="events.history.raw")
    try:
        yield
    finally:
        post_save.disconnect(dispatch_uid="events.history.raw")
