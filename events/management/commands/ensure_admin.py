import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    """Make sure a local superuser exists and print how to log in.

    The password is generated once and kept in `.local/admin-password` (git-ignored); a
    later run prints the same login. Never use this login outside a developer's machine.
    """

    help = "Create (or repair) the local admin login and print it."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        secret_file = settings.BASE_DIR / ".local" / "admin-password"
        secret_file.parent.mkdir(exist_ok=True)
        password = secret_file.read_text().strip() if secret_file.exists() else ""
        if not password:
            password = secrets.token_urlsafe(12)
            secret_file.write_text(password + "\n")
            secret_file.chmod(0o600)

        User = get_user_model()
        user, created = User.objects.get_or_create(username=username)
        if created or not user.check_password(password) or not user.is_superuser:
            user.is_staff = user.is_superuser = user.is_active = True
            user.set_password(password)
            user.save()
        self.stdout.write(
            f"Admin login: user {username!r}, password {password!r} (kept in {secret_file})"
        )
