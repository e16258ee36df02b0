"""Restore a backup made by `backup` into an empty database, and prove it restored whole."""

import sqlite3
import time

import dj_database_url
import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from events import backups


class Command(BaseCommand):
    """Restore FILE (the backup or its manifest) into the configured database, which must be
    empty: the checksum is checked before anything is written, and the rows per table and the
    latest history ids are checked against the manifest after. Exits non-zero, naming each
    table that differs, when they do not match."""

    # A backup or a restore must not wait on the site's own checks (URLs, settings): it is
    # what an operator reaches for when something is broken.
    requires_system_checks = []
    help = "Restore a backup (make backup) into an empty database and verify it."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The backup (.dump or .sqlite3) or its manifest (.json).")
        parser.add_argument(
            "--database-url",
            help="Restore into this database instead of the configured one (DATABASE_URL): "
            "postgres://user@host:port/name or sqlite:////absolute/path.sqlite3.",
        )

    def handle(self, *args, **options):
        start = time.perf_counter()
        if options["database_url"]:
            try:
                target = dj_database_url.parse(options["database_url"])
            except Exception as error:  # the parser raises several types for a bad URL
                raise CommandError(f"--database-url: {error}") from None
        else:
            target = connections["default"].settings_dict
        try:
            path, manifest, described, state = backups.restore(options["file"], target)
        except backups.ManifestMismatch as error:
            for line in error.differences:
                self.stderr.write(line)
            raise CommandError(f"Restore not verified: {error}") from None
        except (backups.BackupError, OSError) as error:
            raise CommandError(f"Nothing restored: {error}") from None
        except (psycopg.Error, sqlite3.Error) as error:
            # Not one of the failures foreseen above: whether anything was written is unknown.
            raise CommandError(
                f"Restore failed: {error}. Check the target and start again from an empty one."
            ) from None
        self.stdout.write(f"Checksum OK: {path} (SHA-256 {manifest['sha256'][:16]}…)")
        self.stdout.write(f"Restored into the {described}.")
        self.stdout.write(
            f"Verified against the manifest of {manifest.get('created_at')}: "
            f"{backups.summary(state)}, in {time.perf_counter() - start:.1f} s."
        )
