"""Database outages without server errors: a read survives a lost replica, a write a lost primary.

`DatabaseOutageMiddleware` goes right after `PinPrimaryAfterWriteMiddleware`. When a view fails
because a database server stopped answering (a connection error, not a bad query):

- a GET, HEAD or OPTIONS runs once more, now that the router (diplomacy/routers.py) knows which
  server is down: on another replica or the primary when a replica went away, on a replica when
  the primary did. The client sees the page, not the outage.
- a write while the primary is down gets 503 with `Retry-After` and a short read-only page (the
  API: a JSON `detail`), and so does every write after it for `DATABASE_RETRY_SECONDS`, without
  waiting on the server again. Then the next write tries the primary once more.
"""

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import render

from diplomacy.routers import SAFE_METHODS, find_down_servers, is_down, seconds_until_retry

READ_ONLY_MESSAGE = (
    "The site is read-only for now: the main database is not answering, so changes cannot be "
    "saved. Reading still works. Please try again in {seconds} second{plural}."
)


def read_only_response(request):
    """503 with `Retry-After`: JSON for the API, a page for everything else."""
    seconds = seconds_until_retry("default")
    message = READ_ONLY_MESSAGE.format(seconds=seconds, plural="" if seconds == 1 else "s")
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"detail": message, "read_only": True}, status=503)
    else:
        response = render(request, "read_only.html", {"message": message}, status=503)
    response["Retry-After"] = str(seconds)
    return response


class DatabaseOutageMiddleware:
    """Retries a read on a server that answers; answers a write 503 while the primary is down."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in SAFE_METHODS and is_down("default"):
            return read_only_response(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        if not find_down_servers() and not is_down("default"):
            # A failed statement on a server that still answers: a real error.
            return None
        if request.method in SAFE_METHODS and not getattr(request, "database_retried", False):
            request.database_retried = True
            view, args, kwargs = request.resolver_match
            try:
                response = view(request, *args, **kwargs)
                if hasattr(response, "render") and not response.is_rendered:
                    response = response.render()
                return response
            except (OperationalError, InterfaceError) as error:
                return self.process_exception(request, error)
        if is_down("default"):
            return read_only_response(request)
        return None
