"""Make an API token for a user from the command line (local set-ups, scripts)."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken
from knox.settings import knox_settings


def positive_days(value):
    try:
        days = int(value)
    except ValueError:
        days = 0
    if not 1 <= days <= 3650:
        raise CommandError(f"--days must be a whole number of days from 1 to 3650, not {value!r}.")
    return days


class Command(BaseCommand):
    """Print a new token for USERNAME once (only its digest is stored) and when it expires:
    after --days, or `API_TOKEN_TTL_DAYS` (30 by default). Send it as
    `Authorization: Token <token>`; revoke it with DELETE /api/auth/tokens/<prefix>/."""

    help = "Print a new API token for a user, once, with its expiry."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--days",
            type=positive_days,
            help="Days until the token expires (default: API_TOKEN_TTL_DAYS, 30 unless set).",
        )

    def handle(self, *args, username, days, **options):
        try:
            user = get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive: its token would be refused.")
        lifetime = timedelta(days=days) if days else knox_settings.TOKEN_TTL
        instance, token = AuthToken.objects.create(user, expiry=lifetime)
        self.stdout.write(token)
        self.stderr.write(
            f"Token {instance.token_key}… for {username}, expires {instance.expiry:%Y-%m-%d %H:%M} "
            "UTC. Shown once: only its digest is stored."
        )
