"""The throttle on the public HTML pages: anonymous GETs per client address.

It is DRF's throttle (`AnonRateThrottle`) run from a middleware, so the pages count in the same
cache and find the client's address by the same rule (`DJANGO_TRUSTED_PROXIES`) as the API,
at their own rate, `settings.PAGES_ANON_THROTTLE`. The API throttles itself
(events/api/throttle.py); the admin is for signed-in staff; static files are served before
this middleware (whitenoise) or not counted.
"""

import math

from django.conf import settings
from django.shortcuts import render
from rest_framework.throttling import AnonRateThrottle

NOT_PAGES = ("/api/", "/admin/")


class PageThrottle(AnonRateThrottle):
    """Anonymous page views at `settings.PAGES_ANON_THROTTLE`, read on every request."""

    scope = "anon_pages"

    def get_rate(self):
        return settings.PAGES_ANON_THROTTLE


def is_page(request):
    return request.method in ("GET", "HEAD") and not request.path_info.startswith(
        (*NOT_PAGES, "/" + settings.STATIC_URL.lstrip("/"))
    )


class PageThrottleMiddleware:
    """Answers an anonymous client over its page rate with a short 429 page and `Retry-After`
    (whole seconds until its oldest counted request leaves the window). Signed-in users are
    not counted."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_page(request):
            throttle = PageThrottle()
            if not throttle.allow_request(request, view=None):
                retry_after = max(1, math.ceil(throttle.wait()))
                response = render(request, "429.html", {"retry_after": retry_after}, status=429)
                response["Retry-After"] = str(retry_after)
                return response
        return self.get_response(request)
