"""Back up the database: a consistent copy and a manifest to check a restore against.

PostgreSQL: a `pg_dump` archive in the custom format; SQLite: a copy by SQLite's online backup
API. Both are safe while the site runs. `restore` puts a backup back (events/backups.py).
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from events import backups


class Command(BaseCommand):
    """Write a timestamped backup of the configured database and its JSON manifest (rows per
    table, latest history ids, latest migrations, SHA-256) into --output-dir, and print both
    paths and a summary line."""

    # A backup or a restore must not wait on the site's own checks (URLs, settings): it is
    # what an operator reaches for when something is broken.
    requires_system_checks = []
    help = "Back up the database into backups/ (or --output-dir): the copy and its manifest."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output-dir",
            default=str(settings.BASE_DIR / "backups"),
            help="Directory for the backup and its manifest (default: backups/).",
        )

    def handle(self, *args, **options):
        start = time.perf_counter()
        try:
            path, manifest_path, manifest = backups.back_up(options["output_dir"])
        except (backups.BackupError, OSError, DatabaseError) as error:
            raise CommandError(f"Backup failed: {error}") from None
        self.stdout.write(f"Backup:   {path}")
        self.stdout.write(f"Manifest: {manifest_path}")
        self.stdout.write(
            f"{backups.VENDOR_NAMES[manifest['vendor']]}: {backups.summary(manifest)}; "
            f"{manifest['size_bytes'] / 1e6:,.1f} MB in {time.perf_counter() - start:.1f} s."
        )
