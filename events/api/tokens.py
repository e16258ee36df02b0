"""API tokens under /api/auth/: made by logging in, listed, revoked; expiring, stored hashed.

django-rest-knox keeps only a token's SHA-512 digest and its first 15 characters (the
*prefix*, which lists and revokes it), so a copy of the database lets nobody in; a token
expires `API_TOKEN_TTL_DAYS` after it was made. Clients send `Authorization: Token <token>`.

A token is made only from a password (HTTP Basic) or an admin session, never from another
token, so an expiring token cannot renew itself. Wrong passwords here count toward the same
lockout as the admin's login form (events/lockout.py) and a locked login is answered 429.
`manage.py create_token` makes one on the command line.
"""

from django.contrib.auth import user_logged_out
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from knox.views import LoginView as KnoxLoginView
from rest_framework import exceptions, generics, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .authentication import PasswordAuthentication, TokenAuthentication
from .views import ApiSchema


class TokenScheme(OpenApiAuthenticationExtension):
    """The schema's name for the token (`tokenAuth`, as before knox) and its header."""

    target_class = "events.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            "Authorization", self.target.authenticate_header(None)
        )


class PasswordScheme(OpenApiAuthenticationExtension):
    target_class = "events.api.authentication.PasswordAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic"}


class TokenSerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(
        source="token_key", help_text="The token's first characters: they name it here."
    )
    expiry = serializers.DateTimeField(help_text="After this the token is refused.")

    class Meta:
        model = AuthToken
        fields = ["prefix", "created", "expiry"]


class NewTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown this once: only its digest is stored.")
    prefix = serializers.CharField()
    expiry = serializers.DateTimeField()


UNAUTHENTICATED = "No token, an invalid, expired or revoked one, or no session."
THROTTLED = "Too many anonymous requests; retry after `Retry-After` seconds."
SESSION_CSRF = "Signed in by session without the CSRF token."


class TokenSchema(ApiSchema):
    """The API's error answers, only those a token view gives (`error_answers`), in its words."""

    def error_codes(self):
        return sorted(self.view.error_answers)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in self.view.error_answers.items():
            responses[code]["description"] = description
        return responses


class TokenView(APIView):
    schema = TokenSchema()
    permission_classes = [IsAuthenticated]
    error_answers = {"401": UNAUTHENTICATED, "429": THROTTLED}


@extend_schema(request=None, responses={200: NewTokenSerializer})
class LoginView(TokenView, KnoxLoginView):
    """A new token for the user who logs in with a password (HTTP Basic) or their admin
    session, with its expiry. The token is shown once; keep it."""

    authentication_classes = [PasswordAuthentication, SessionAuthentication]
    error_answers = {
        "401": "No password or session, or a wrong password (it counts toward the lockout).",
        "403": SESSION_CSRF,
        "429": "Too many failed logins for this account from this address, or too many "
        "anonymous requests; retry after `Retry-After` seconds.",
    }

    def get_post_response_data(self, request, token, instance):
        return {
            "token": token,
            "prefix": instance.token_key,
            "expiry": self.format_expiry_datetime(instance.expiry),
        }


class TokenListView(TokenView, generics.ListAPIView):
    """The signed-in user's own tokens: prefix, when made, when they expire (never the token)."""

    serializer_class = TokenSerializer
    pagination_class = None

    def get_queryset(self):
        return AuthToken.objects.filter(user=self.request.user).order_by("-created")


@extend_schema(responses={204: None})
class TokenRevokeView(TokenView):
    """Revokes one of the signed-in user's tokens, named by its prefix."""

    error_answers = {
        **TokenView.error_answers,
        "403": SESSION_CSRF,
        "404": "You have no token with that prefix.",
    }

    def delete(self, request, prefix):
        # Another user's prefix is answered as an unknown one.
        deleted, _ = AuthToken.objects.filter(user=request.user, token_key=prefix).delete()
        if not deleted:
            raise exceptions.NotFound("You have no token with that prefix.")
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(request=None, responses={204: None})
class LogoutView(TokenView):
    """Revokes the token this request is made with."""

    authentication_classes = [TokenAuthentication]

    def post(self, request):
        request.auth.delete()
        user_logged_out.send(sender=request.user.__class__, request=request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(request=None, responses={204: None})
class LogoutAllView(TokenView):
    """Revokes every token of the user this request's token belongs to."""

    authentication_classes = [TokenAuthentication]

    def post(self, request):
        AuthToken.objects.filter(user=request.user).delete()
        user_logged_out.send(sender=request.user.__class__, request=request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
