"""Whole anonymous responses from the shared cache, and conditional requests on them.

Anonymous readers (no session cookie, no `Authorization` header) of the API (/api/) and of
the public HTML pages get, for a GET or HEAD answered 200:

- the response from the default cache, stored under a key made of the normalised request
  (scheme and host, path, query parameters sorted by name, and for the API the `Accept`
  header, which DRF negotiates the format from) and the **data version**;
- an `ETag` from that key, so `If-None-Match` gets a 304 with no body;
- `Cache-Control: public, max-age=settings.PUBLIC_MAX_AGE`, and `Vary: Cookie, Authorization`
  so that a proxy never hands a signed-in user's request an anonymous copy.

Signed-in users' responses are marked `Cache-Control: private` and never stored.

The data version is a number in the default cache. Every committed write to the events
app's models moves it on (`connect_signals`, run from EventsConfig.ready), so an entry
stored before the write is never read again. The bulk paths (the import, the synthetic
generator) send no save signals; all of them tally through `events.rollups.refresh`, whose
`tallied` signal moves the version on too.

Two middlewares, as Django's own cache middleware, because a response must be stored after
every other middleware has had its say (a cookie set on the way out makes it personal) but
looked up after the page throttle has counted the request:
`UpdateResponseCacheMiddleware` first in MIDDLEWARE, `FetchResponseCacheMiddleware` last.
A hit on the API runs the API's throttles here (DRF's run in the view, which a hit skips);
when they refuse, the request goes on to the view, whose throttle answers the 429.

Off unless `settings.RESPONSE_CACHE` (by default on when `REDIS_URL` is set): a local-memory
cache is per process, so a write in one process (an import command) would not move the
version that another (a gunicorn worker) reads.
"""

import contextlib
import hashlib
import itertools
import time
from types import SimpleNamespace
from urllib.parse import urlencode

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from rest_framework.request import Request
from rest_framework.settings import api_settings

VERSION_KEY = "data-version"
NOT_CACHED = ("/admin/",)


# --- The data version ------------------------------------------------------------------------


def data_version():
    """The current data version; a missing one (a cleared or evicted cache) starts from the
    clock, so it never repeats a version that entries may still be stored under."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(VERSION_KEY)
    return version


def bump():
    """Move the data version on: every stored response becomes unreachable."""
    with contextlib.suppress(ValueError):  # no version yet: the next reader starts one
        cache.incr(VERSION_KEY)


def bump_on_commit(*args, **kwargs):
    """A receiver: move the version on once the writer's transaction commits (at once
    outside a transaction; never if it rolls back, a dry run among them)."""
    transaction.on_commit(bump)


def connect_signals():
    """Move the version on after every save and deletion of the events app's models (their
    history and proposals among them) and every change of their many-to-many fields, and
    after every bulk tally (events.rollups.tallied: the import, the synthetic generator)."""
    from . import rollups

    for model in apps.get_app_config("events").get_models():
        uid = f"response_cache.{model._meta.label}"
        post_save.connect(bump_on_commit, sender=model, dispatch_uid=uid)
        post_delete.connect(bump_on_commit, sender=model, dispatch_uid=uid)
        for field in model._meta.local_many_to_many:
            m2m_changed.connect(
                bump_on_commit, sender=field.remote_field.through, dispatch_uid=uid + field.name
            )
    rollups.tallied.connect(bump_on_commit, dispatch_uid="response_cache.tallied")


# --- Which requests, under which key ---------------------------------------------------------


def is_anonymous(request):
    """No session cookie and no credentials: the request can only be answered as anyone."""
    return (
        settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "HTTP_AUTHORIZATION" not in request.META
    )


def is_api(request):
    return request.path_info.startswith("/api/")


def is_static(request):
    return request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/"))


def is_public(request):
    return not (request.path_info.startswith(NOT_CACHED) or is_static(request))


def cache_key(request):
    """The key of an anonymous GET or HEAD of a public URL; None for any other request."""
    if not (
        settings.RESPONSE_CACHE
        and request.method in ("GET", "HEAD")
        and is_anonymous(request)
        and is_public(request)
    ):
        return None
    query = urlencode(sorted(request.GET.lists()), doseq=True)
    accept = "".join(request.headers.get("Accept", "").split()) if is_api(request) else ""
    request_id = f"{request.build_absolute_uri(request.path)}?{query}|{accept}"
    digest = hashlib.md5(request_id.encode(), usedforsecurity=False).hexdigest()
    return f"response:{data_version()}:{digest}"


def api_throttles_allow(request, response):
    """Whether the API's throttles let this request through, counting it as the view would
    (the format negotiated is the one the stored response was rendered in)."""
    api_request = Request(request)
    csv = response.get("Content-Type", "").startswith("text/csv")
    api_request.accepted_renderer = SimpleNamespace(format="csv" if csv else "json")
    return all(
        throttle().allow_request(api_request, None)
        for throttle in api_settings.DEFAULT_THROTTLE_CLASSES
    )


def storable(request, response):
    """Whether an anonymous 200 may be stored for others: a GET of nobody signed in (no
    token either), setting no cookie (a CSRF token, a session)."""
    return (
        request.method == "GET"
        and not request.user.is_authenticated
        and not response.cookies
        and not getattr(response, "is_async", False)
    )


def in_memory(response, limit):
    """The response with its content in memory, if that is at most `limit` bytes; else None.

    A streamed response (the CSV export) is read up to the limit: when the whole fits, a
    plain response with the same status and headers comes back; when it does not, the
    response streams on, what was read first.
    """
    if not response.streaming:
        return response if len(response.content) <= limit else None
    chunks, size = [], 0
    rest = iter(response.streaming_content)
    for chunk in rest:
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            response.streaming_content = itertools.chain(chunks, rest)
            return None
    return HttpResponse(b"".join(chunks), status=response.status_code, headers=response.headers)


def for_storage(response):
    """An in-memory response as the cache keeps it: its status, headers and content only.

    A DRF `Response` pickles its `data` with its content (every event of the page as Python
    objects), which each hit would unpickle again, to be thrown away.
    """
    return HttpResponse(response.content, status=response.status_code, headers=response.headers)


def make_public(response, key):
    """The headers that let a proxy keep an anonymous response and revalidate it."""
    digest = hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()
    response["ETag"] = f'W/"{digest}"'
    patch_cache_control(response, public=True, max_age=settings.PUBLIC_MAX_AGE)
    patch_vary_headers(response, ("Cookie", "Authorization"))


# --- The middlewares -------------------------------------------------------------------------


class FetchResponseCacheMiddleware:
    """Answers an anonymous GET from the cache when it holds the response (last in
    MIDDLEWARE, so that the page throttle counts the request first)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = cache_key(request)
        if key is None:
            return self.get_response(request)
        request.response_cache_key = key
        response = cache.get(key)
        if response is None or (is_api(request) and not api_throttles_allow(request, response)):
            return self.get_response(request)
        request.response_cache_hit = True
        return response


class UpdateResponseCacheMiddleware:
    """Stores anonymous 200s, gives them an ETag and public Cache-Control, answers a matching
    `If-None-Match` with 304, and marks signed-in users' responses private (first in
    MIDDLEWARE, so that it sees the response as the client will)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not is_anonymous(request):
            if not is_static(request):  # the same for everyone: whitenoise's headers stand
                patch_cache_control(response, private=True)
            return response
        key = getattr(request, "response_cache_key", None)
        if key is None or response.status_code != 200:
            return response
        if not getattr(request, "response_cache_hit", False):
            make_public(response, key)
            if storable(request, response):
                whole = in_memory(response, settings.RESPONSE_CACHE_MAX_BYTES)
                if whole is not None:
                    cache.set(key, for_storage(whole), settings.RESPONSE_CACHE_SECONDS)
                    response = whole
        return get_conditional_response(request, etag=response["ETag"], response=response) or (
            response
        )
