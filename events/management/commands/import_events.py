import sys

from django.core.management.base import BaseCommand, CommandError

from events.importing import describe_problem, run_import


class Command(BaseCommand):
    """Import events from a CSV file (the API's CSV columns, docs/csv.md) or a JSON file (the
    API's event representation, one object or a list).

    Every row is checked; each problem is reported on a line of its own, as `row N, column C:
    message` (`line L: the file …` when the file cannot be read on: not UTF-8, not valid CSV
    or JSON), and the command exits with status 1 with nothing written (the import is one
    transaction). Events are created or updated by slug, so importing the same file twice
    changes nothing the second time. Imported events are drafts unless --publish is given.
    The file is read once, in chunks, so memory stays flat; on PostgreSQL new events go in
    with COPY (docs/csv.md, "Importing", gives the rates measured).
    """

    help = "Import events from CSV or JSON; --dry-run reports what would change."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--format", choices=["csv", "json"], help="Default: by extension.")
        parser.add_argument("--dry-run", action="store_true", help="Report, write nothing.")
        parser.add_argument(
            "--publish",
            action="store_true",
            help="Publish imported events (the file's review_state, published by default); "
            "each must have a participant and a citation.",
        )
        parser.add_argument(
            "--create-actors",
            action="store_true",
            help="Create unknown actors from their name and kind in the file.",
        )
        parser.add_argument(
            "--skip-duplicates",
            action="store_true",
            help="Skip new events that look like existing ones (same kind, overlapping "
            "dates, same initiator and target) instead of only reporting them.",
        )

    def handle(self, *args, **options):
        def progress(message):
            if options["verbosity"] >= 1:
                self.stderr.write(f"… {message}")

        try:
            problems, counts, duplicates = run_import(
                options["file"],
                options["format"],
                dry_run=options["dry_run"],
                log=progress,
                publish=options["publish"],
                create_actors=options["create_actors"],
                skip_duplicates=options["skip_duplicates"],
            )
        except FileNotFoundError as error:
            raise CommandError(f"{options['file']}: no such file") from error
        except OSError as error:  # a directory, no permission to read
            raise CommandError(f"{options['file']}: {error.strerror}") from error
        action = "skipped" if options["skip_duplicates"] else "imported anyway"
        for row, slug, existing in duplicates:
            self.stdout.write(
                f"row {row}: {slug!r} looks like a duplicate of {existing!r} "
                f"(same kind, overlapping dates, same initiator and target); {action}"
            )
        if counts and counts["duplicates"] > len(duplicates):
            self.stdout.write(
                f"… and {counts['duplicates'] - len(duplicates)} more rows that look like "
                f"duplicates (the first {len(duplicates)} are listed); {action}"
            )
        if problems:
            for problem in problems:
                self.stderr.write(describe_problem(problem))
            self.stderr.write(f"{len(problems)} problem(s); nothing was written.")
            sys.exit(1)
        verb = "Would create" if options["dry_run"] else "Created"
        self.stdout.write(
            f"{verb} {counts['created']}, "
            f"{'would update' if options['dry_run'] else 'updated'} {counts['updated']}, "
            f"left {counts['unchanged']} unchanged"
            + (f", skipped {counts['skipped']} duplicates" if counts["skipped"] else "")
            + (" (dry run: nothing written)." if options["dry_run"] else ".")
        )
