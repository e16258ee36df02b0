from django.core.management import call_command
from django.core.management.base import BaseCommand

FIXTURES = ["countries", "actors", "sources", "events"]


class Command(BaseCommand):
    """Load every fixture in `fixtures/` (countries, actors, sources, events) in one transaction.

    Fixtures use natural keys, so loading again updates the same rows and adds nothing.
    """

    help = "Load the project's fixtures: all ISO countries and the events of the source articles."

    def handle(self, *args, **options):
        call_command("loaddata", *FIXTURES, verbosity=options["verbosity"])
