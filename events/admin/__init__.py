"""The curators' admin: events with their participants, citations and links in one form.

What it guarantees, and where:

- One write path: every save and delete here calls events/writes.py, which holds the rules
  (`WritesAdminMixin` shows its refusals as messages or form errors, never a 500). The event
  form goes through `writes.save_event`; a participant's, citation's or link's own page through
  `writes.save_child` / `delete_child`; actors and sources through `writes.save_record` /
  `delete_record`; actions and merge through `writes.set_review_state` / `merge_events`.
- Review: only users with `events.publish_event` (editors) change the review state, in the
  form or with the publish/unpublish actions; an event is published only with a participant
  and a citation, counting the rows submitted in the same form.
- Proposals: a curator's save of a published event (fields and inlines) is kept as a proposal
  (`writes.propose`), which an editor accepts or rejects on its page (`EventProposalAdmin`).
- No lost updates: the event, actor and source forms and a child row's page carry the version
  they were opened at and refuse a save from a stale copy, keeping the input (`SeenVersionForm`).
- History: django-simple-history records every save, including bulk actions, with the user;
  an event's (or actor's) history page also lists its child rows' records, each revertible.
- Scale: no widget loads a whole table (autocomplete everywhere, the selected option comes from
  the row already loaded), no column runs a query per row, sorting only by indexed columns, and
  no COUNT(*) over the whole events table on PostgreSQL.
- Bulk data: curators import a CSV or JSON file after reading its dry-run report, both run
  as background jobs (`EventAdmin.import_view`, events/tasks.py); a save that looks like an
  existing event warns with links to it; editors merge two events into one (`merge_selected`),
  whose old slug then redirects.
"""

from django.contrib import admin

from . import (
    children,  # noqa: F401 (registers its admins)
    events,  # noqa: F401 (registers its admins)
    proposals,  # noqa: F401 (registers its admins)
    records,  # noqa: F401 (registers its admins)
)
from .common import EventAdminForm, SeenVersionForm

# The admin's name in its header, its pages' titles and its home page, for one product with
# the public site (whose address "View site" links to).
admin.site.site_header = "Diplomatic events: curation"
admin.site.site_title = "Diplomatic events admin"
admin.site.index_title = "Curate events, actors and sources"

__all__ = ["EventAdminForm", "SeenVersionForm"]
