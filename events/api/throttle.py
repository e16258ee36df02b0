"""The API's throttle, kept apart from the views: REST_FRAMEWORK's settings import it while
DRF's own views are still being defined."""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle


class AnonThrottle(AnonRateThrottle):
    """Anonymous requests per client address, at `settings.API_ANON_THROTTLE` ("1000/hour").

    The rate is read on every request (DRF's own class reads its setting once, at import), so
    a deployment or a test can change it.
    """

    def get_rate(self):
        return settings.API_ANON_THROTTLE
