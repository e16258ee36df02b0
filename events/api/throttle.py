"""The API's throttles, kept apart from the views: REST_FRAMEWORK's settings import them while
DRF's own views are still being defined.

Both count anonymous requests per client address in the default cache (Redis when
`REDIS_URL` is set, so every worker counts the same requests); the address follows
`REST_FRAMEWORK["NUM_PROXIES"]` (`DJANGO_TRUSTED_PROXIES`). A CSV export is counted at its own
rate, not the API's: one export can hold a worker for as long as many pages.
"""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle


def wants_csv(request):
    """Whether content negotiation, which DRF runs before the throttles, chose the CSV."""
    return request.accepted_renderer.format == "csv"


class AnonThrottle(AnonRateThrottle):
    """Anonymous API requests other than CSV exports, at `settings.API_ANON_THROTTLE`.

    The rate is read on every request (DRF's own class reads its setting once, at import), so
    a deployment or a test can change it.
    """

    rate_setting = "API_ANON_THROTTLE"

    def get_rate(self):
        return getattr(settings, self.rate_setting)

    def counts(self, request):
        return not wants_csv(request)

    def allow_request(self, request, view):
        return not self.counts(request) or super().allow_request(request, view)


class CsvAnonThrottle(AnonThrottle):
    """Anonymous CSV exports (`?format=csv`), at `settings.CSV_ANON_THROTTLE`."""

    scope = "anon_csv"
    rate_setting = "CSV_ANON_THROTTLE"

    def counts(self, request):
        return wants_csv(request)
