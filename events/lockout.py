"""Login lockout (django-axes): which address a login comes from, and the answer once locked.

Every login goes through django.contrib.auth's `authenticate()`: the admin's form and the
API's token login (HTTP Basic, events/api/tokens.py). django-axes counts the failures per
account *and* address (`AXES_LOCKOUT_PARAMETERS`), so one attacker cannot lock an editor out
from everywhere; after `AXES_FAILURE_LIMIT` of them that account is refused from that address,
even with the right password, for `AXES_COOLOFF_TIME` (each refused try starts it again).
`manage.py axes_reset_username <name>` (or `axes_reset_ip`, `axes_reset`) lifts it sooner.
"""

from django.conf import settings
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle


def client_address(request):
    """The client's address by the site's one rule (`DJANGO_TRUSTED_PROXIES`, DRF's
    `NUM_PROXIES`), as the throttles find it: with no trusted proxy, REMOTE_ADDR, and an
    X-Forwarded-For header (which anyone can send) is ignored."""
    return BaseThrottle().get_ident(request)


def cool_off_seconds():
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(request, original_response=None, credentials=None):
    """The admin's answer to a locked-out login: a short page, 429, and `Retry-After`."""
    seconds = cool_off_seconds()
    response = render(
        request,
        "locked_out.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "minutes": max(1, seconds // 60),
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
