"""Make the aggregates' rollup rows (tallies and cells) again from the events.

Every write keeps them in step (events/rollups.py); this is for a database whose events were
changed behind the write path's back (SQL by hand, a restored table). It runs in one
transaction: readers see the old rows until it commits.
"""

import time

from django.core.management.base import BaseCommand
from django.db import transaction

from events import rollups
from events.models import AggregateCell, EventTally


class Command(BaseCommand):
    help = "Make the aggregates' tallies and cells again from the events."

    def handle(self, *args, **options):
        start = time.perf_counter()
        with transaction.atomic():
            rollups.rebuild()
        self.stdout.write(
            f"Tallied {EventTally.objects.count():,} published events into "
            f"{AggregateCell.objects.count():,} cells in {time.perf_counter() - start:.1f} s."
        )
