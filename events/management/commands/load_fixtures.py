from django.core.management import call_command
from django.core.management.base import BaseCommand

from events.history import record_raw_saves

FIXTURES = ["countries", "actors", "sources", "events"]


class Command(BaseCommand):
    """Load every fixture in `fixtures/` (countries, actors, sources, events) in one transaction.

    Fixtures use natural keys, so loading again updates the same rows and adds nothing. Rows
    the load creates or changes get a history record; unchanged rows get none.
    """

    help = "Load the project's fixtures: all ISO countries and the events of the source articles."

    def handle(self, *args, **options):
        with record_raw_saves():
            call_command("loaddata", *FIXTURES, verbosity=options["verbosity"])
