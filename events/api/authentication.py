"""The API's ways of signing in, kept apart from the views: REST_FRAMEWORK's settings import
them while DRF's own views are still being defined (as events/api/throttle.py).

- `TokenAuthentication`: `Authorization: Token <token>`, django-rest-knox's hashed, expiring
  tokens (events/api/tokens.py makes and revokes them). The default for the whole API.
- `PasswordAuthentication`: HTTP Basic, only on the token login.
"""

from django.contrib.auth import get_user_model
from knox import auth as knox_auth
from rest_framework import authentication, exceptions, status

from ..lockout import cool_off_seconds


class TokenAuthentication(knox_auth.TokenAuthentication):
    """knox's token check, with a header that is not UTF-8 refused (401) rather than a 500."""

    def authenticate_credentials(self, token):
        try:
            token.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        return super().authenticate_credentials(token)


class LoginLocked(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "login_locked"

    def __init__(self):
        # DRF's exception handler turns `wait` into `Retry-After`.
        self.wait = cool_off_seconds()
        super().__init__(
            "Too many failed logins for this account from this address: try again in "
            f"{max(1, self.wait // 60)} minutes (an administrator can lift the lock)."
        )


class PasswordAuthentication(authentication.BasicAuthentication):
    """HTTP Basic through django.contrib.auth's `authenticate()`, so django-axes counts each
    failure and refuses a locked account (then 429 instead of 401)."""

    def authenticate_credentials(self, userid, password, request=None):
        # What no account has: a NUL (PostgreSQL refuses it in a query) or an over-long name.
        username_length = get_user_model()._meta.get_field("username").max_length
        if "\0" in userid or "\0" in password or len(userid) > username_length:
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        try:
            return super().authenticate_credentials(userid, password, request)
        except exceptions.AuthenticationFailed:
            # django-axes marks the request it refused, or whose failure reached the limit.
            if getattr(request, "axes_locked_out", False):
                raise LoginLocked() from None
            raise
