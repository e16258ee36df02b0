"""Read replicas: reads go to a replica, writes and reads right after a write to the primary.

`DATABASE_REPLICA_URLS` (comma-separated) adds replica aliases `replica1`, `replica2`, …; with
none, everything uses `default`. A request that writes pins itself to the primary from its
first write on, and `PinPrimaryAfterWriteMiddleware` pins the same client's next requests for
`DATABASE_PIN_SECONDS` (a cookie), so a page shown right after a save never reads a replica
that has not caught up yet.
"""

import contextvars
import random

from django.conf import settings

_pinned = contextvars.ContextVar("pinned_to_primary", default=False)

PIN_COOKIE = "pin_primary"


def pin_to_primary():
    _pinned.set(True)


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        available = settings.DATABASE_REPLICAS
        if _pinned.get() or not available:
            return "default"
        return random.choice(available)

    def db_for_write(self, model, **hints):
        pin_to_primary()
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        # Replicas hold the same data as the primary.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class PinPrimaryAfterWriteMiddleware:
    """Pins a request to the primary when it writes, or when the client wrote moments ago."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _pinned.set(
            request.method not in ("GET", "HEAD", "OPTIONS") or PIN_COOKIE in request.COOKIES
        )
        try:
            response = self.get_response(request)
            if _pinned.get() and request.method not in ("GET", "HEAD", "OPTIONS"):
                response.set_cookie(
                    PIN_COOKIE,
                    "1",
                    max_age=settings.DATABASE_PIN_SECONDS,
                    httponly=True,
                    secure=settings.SESSION_COOKIE_SECURE,
                    samesite="Lax",
                )
            return response
        finally:
            _pinned.reset(token)
