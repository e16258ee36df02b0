from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from events import writes
from events.history import record_raw_saves
from events.models import Event

FIXTURES = ["countries", "actors", "sources", "events"]


class Command(BaseCommand):
    """Load every fixture in `fixtures/` (countries, actors, sources, events) in one transaction.

    Fixtures use natural keys, so loading again updates the same rows and adds nothing. Rows
    the load creates or changes get a history record; unchanged rows get none. The publish
    rule of the write path holds: a published event without a participant or a citation
    fails the load, and nothing is written.
    """

    help = "Load the project's fixtures: all ISO countries and the events of the source articles."

    def handle(self, *args, **options):
        with transaction.atomic(), record_raw_saves():
            call_command("loaddata", *FIXTURES, verbosity=options["verbosity"])
            broken = writes.unpublishable(Event.objects.all())
            if broken:
                raise CommandError(
                    "Nothing was loaded: "
                    + "; ".join(
                        f"{event.slug!r} is published but {' and '.join(problems)}"
                        for event, problems in broken
                    )
                    + "."
                )
