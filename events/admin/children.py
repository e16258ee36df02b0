"""Participants, citations and links on their own pages (reached from the event's history):
looked at, changed and reverted through the write path; offices and memberships likewise."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .. import writes
from ..models import (
    Citation,
    EventLink,
    Membership,
    Office,
    Participation,
)
from .common import EventChildForm, KnownObjectsAutocompleteMixin, WritesAdminMixin

# --- Child rows: reachable from the parent's history page, to look at and revert ---------------


class ChildHistoryAdmin(KnownObjectsAutocompleteMixin, SimpleHistoryAdmin):
    """Registered so each child row has a history page with revert; edited through inlines,
    so not listed on the admin index."""

    def has_module_permission(self, request):
        return False


class EventChildAdmin(WritesAdminMixin, ChildHistoryAdmin):
    """A participant's, citation's or link's own page (and its history, to revert): a change
    to the row is a change to its event(s), so it goes through `writes.save_child` /
    `delete_child`, which raise the event's version and record who made it; whoever may not
    change the event (a curator, once it is published) sees the row read-only."""

    form = EventChildForm

    def may_change(self, request, row):
        # Asked several times a page: remembered on the row, per user.
        known = row.__dict__.setdefault("_may_change", {})
        if request.user.pk not in known:
            known[request.user.pk] = all(
                writes.may_change_event(request.user, event) for event in writes.child_events(row)
            )
        return known[request.user.pk]

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or self.may_change(request, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or self.may_change(request, obj))

    def save_model(self, request, obj, form, change):
        seen = form.cleaned_data.get("seen_version") if change else None
        writes.save_child(request.user, obj, seen_version=seen)

    def delete_model(self, request, obj):
        writes.delete_child(request.user, obj)

    def delete_queryset(self, request, queryset):
        for row in queryset:
            writes.delete_child(request.user, row)


@admin.register(Participation)
class ParticipationAdmin(EventChildAdmin):
    list_display = ["event", "actor", "role"]
    list_select_related = ["event", "actor"]
    autocomplete_fields = ["event", "actor"]


@admin.register(Citation)
class CitationAdmin(EventChildAdmin):
    list_display = ["event", "source", "locator"]
    list_select_related = ["event", "source"]
    autocomplete_fields = ["event", "source"]


@admin.register(EventLink)
class EventLinkAdmin(EventChildAdmin):
    list_display = ["from_event", "kind", "to_event"]
    list_select_related = ["from_event", "to_event"]
    autocomplete_fields = ["from_event", "to_event"]


@admin.register(Office)
class OfficeAdmin(ChildHistoryAdmin):
    list_display = ["holder", "title", "start_date", "end_date"]
    list_select_related = ["holder"]
    autocomplete_fields = ["holder", "country", "organisation"]


@admin.register(Membership)
class MembershipAdmin(ChildHistoryAdmin):
    list_display = ["bloc", "country"]
    list_select_related = ["bloc", "country"]
    autocomplete_fields = ["bloc", "country"]
