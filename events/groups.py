"""The review workflow's two groups and their permissions.

Curators add and edit drafts of events, actors and sources, and see their own proposed changes
to published events; editors may also publish and unpublish (the custom `events.publish_event`
permission), delete, and decide proposals. Who may write what is ruled by events/writes.py;
these permissions open the admin's pages. The groups are brought up to date after every
`migrate`, so a fresh database and the test database both have them.
"""

from django.contrib.auth.models import Group, Permission

CURATORS = "curators"
EDITORS = "editors"

_EDITED = [
    "event",
    "participation",
    "citation",
    "eventlink",
    "actor",
    "office",
    "membership",
    "source",
]
_CHILDREN = ["participation", "citation", "eventlink", "office", "membership"]

CURATOR_PERMISSIONS = (
    [f"{action}_{model}" for model in _EDITED for action in ("add", "change", "view")]
    + [f"delete_{model}" for model in _CHILDREN]
    + ["view_country", "view_eventproposal"]
)
EDITOR_PERMISSIONS = CURATOR_PERMISSIONS + [
    "publish_event",
    "delete_event",
    "delete_actor",
    "delete_source",
    "change_eventproposal",  # accept or reject (writes.accept_proposal asks for an editor)
]


def ensure_groups(**kwargs):
    """Create or refresh the curators and editors groups (a post_migrate handler)."""
    for name, codenames in ((CURATORS, CURATOR_PERMISSIONS), (EDITORS, EDITOR_PERMISSIONS)):
        permissions = Permission.objects.filter(
            content_type__app_label="events", codename__in=codenames
        )
        if permissions.count() != len(codenames):
            return  # permissions not created yet (first migrate); the next signal completes it
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)
