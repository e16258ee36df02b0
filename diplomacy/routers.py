"""Read replicas: reads go to a replica, writes and reads right after a write to the primary.

`DATABASE_REPLICA_URLS` (comma-separated) adds replica aliases `replica1`, `replica2`, …; with
none, everything uses `default`. A request that writes pins itself to the primary from its
first write on, and `PinPrimaryAfterWriteMiddleware` pins the same client's next requests for
`DATABASE_PIN_SECONDS` (a cookie), so a page shown right after a save never reads a replica
that has not caught up yet.

A server that does not answer is left alone for `DATABASE_RETRY_SECONDS` (in this process),
then tried again: reads go to another replica or to the primary while a replica is down, and
to a replica while the primary is down (diplomacy/read_only.py answers the writes).
"""

import contextvars
import random
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

_pinned = contextvars.ContextVar("pinned_to_primary", default=False)

PIN_COOKIE = "pin_primary"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# alias -> time.monotonic() until which the alias's server is taken as down.
_down_until = {}


def pin_to_primary():
    _pinned.set(True)


def is_down(alias):
    return _down_until.get(alias, 0) > time.monotonic()


def mark_down(alias):
    _down_until[alias] = time.monotonic() + settings.DATABASE_RETRY_SECONDS


def seconds_until_retry(alias):
    """Whole seconds until `alias` is tried again (at least 1): a `Retry-After` value."""
    return max(1, int(_down_until.get(alias, 0) - time.monotonic() + 0.999))


def reachable(alias):
    """Whether `alias` answers: its connection opens, or the open one passes Django's health
    check (once per request, as `CONN_HEALTH_CHECKS` does). A failure marks it down."""
    if is_down(alias):
        return False
    connection = connections[alias]
    try:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    except (OperationalError, InterfaceError):
        mark_down(alias)
        connection.close()
        return False
    return True


def find_down_servers():
    """After a database error: which of this thread's connections lost their server.

    A connection whose last statement failed and that no longer answers is closed and opened
    again; when that fails too, its alias is marked down. Returns the aliases marked down.
    """
    down = []
    for connection in connections.all(initialized_only=True):
        if not connection.errors_occurred or connection.in_atomic_block:
            continue
        if connection.connection is not None and connection.is_usable():
            continue
        connection.close()
        try:
            connection.ensure_connection()
        except (OperationalError, InterfaceError):
            mark_down(connection.alias)
            connection.close()
            down.append(connection.alias)
    return down


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        if _pinned.get() and not is_down("default"):
            return "default"
        replicas = list(settings.DATABASE_REPLICAS)
        random.shuffle(replicas)
        for alias in replicas:
            if reachable(alias):
                return alias
        return "default"

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
        token = _pinned.set(request.method not in SAFE_METHODS or PIN_COOKIE in request.COOKIES)
        try:
            response = self.get_response(request)
            if _pinned.get() and request.method not in SAFE_METHODS:
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
