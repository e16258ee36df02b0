"""Actors (with offices and bloc members), sources, countries and event aliases."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from .. import writes
from ..models import (
    Actor,
    ActorKind,
    Citation,
    Country,
    EventAlias,
    Membership,
    Office,
    Participation,
    Source,
)
from .common import (
    RELATED_EVENTS_SHOWN,
    ChildHistoryMixin,
    KnownObjectsAutocompleteMixin,
    SeenVersionForm,
    WritesAdminMixin,
    _safe,
    event_admin_links,
    event_dates,
)

# --- Actors, sources, countries --------------------------------------------------------------


class OfficeInline(KnownObjectsAutocompleteMixin, admin.TabularInline):
    model = Office
    fk_name = "holder"
    fields = ["title", "country", "organisation", "start_date", "end_date"]
    autocomplete_fields = ["country", "organisation"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("country", "organisation")


class MembershipInline(KnownObjectsAutocompleteMixin, admin.TabularInline):
    model = Membership
    fk_name = "bloc"
    fields = ["country", "joined_on", "left_on"]
    autocomplete_fields = ["country"]
    extra = 0
    verbose_name = "member country"
    verbose_name_plural = "member countries"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("country")


class RecordAdminMixin(WritesAdminMixin):
    """Actors and sources: each save states the version it was opened at (`SeenVersionForm`)
    and goes through `writes.save_record`; deletes through `writes.delete_record`."""

    form = SeenVersionForm

    def save_model(self, request, obj, form, change):
        writes.save_record(request.user, obj, seen_version=form.cleaned_data.get("seen_version"))

    def delete_model(self, request, obj):
        writes.delete_record(request.user, obj)

    def delete_queryset(self, request, queryset):
        for record in queryset:
            writes.delete_record(request.user, record)


@admin.register(Actor)
class ActorAdmin(
    RecordAdminMixin, ChildHistoryMixin, KnownObjectsAutocompleteMixin, SimpleHistoryAdmin
):
    list_display = ["name", "kind", "country"]
    list_filter = ["kind"]
    list_select_related = ["country"]
    # name: trigram index on UPPER(name) (PostgreSQL); slug: exact, on its unique index.
    search_fields = ["name", "slug__exact"]
    search_help_text = "Part of the name, or the exact slug."
    show_full_result_count = False
    autocomplete_fields = ["country"]
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        "kind",
        "name",
        "slug",
        "country",
        "member_count_low",
        "description",
        "taking_part_in",
        "seen_version",
    ]
    readonly_fields = ["taking_part_in"]
    child_histories = [
        (Office, "holder_id", [], _safe(lambda r: r.title)),
        (Membership, "bloc_id", ["country"], _safe(lambda r: str(r.country))),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("country")

    def get_inlines(self, request, obj):
        if obj is None:
            return [OfficeInline, MembershipInline]
        groups = (ActorKind.BLOC, ActorKind.COALITION)
        inlines = [OfficeInline] if obj.kind not in groups else []
        if obj.kind in groups or obj.memberships.exists():
            inlines.append(MembershipInline)
        return inlines

    @admin.display(description="takes part in")
    def taking_part_in(self, actor):
        if not actor.pk:
            return "—"
        participations = (
            Participation.objects.filter(actor=actor)
            .select_related("event")
            .order_by("-event__start_date", "-event__id")[:RELATED_EVENTS_SHOWN]
        )
        rows = format_html_join(
            "",
            "<li><a href='{}'>{}</a> ({}, {})</li>",
            (
                (
                    reverse("admin:events_event_change", args=[p.event_id]),
                    p.event,
                    event_dates(p.event),
                    p.get_role_display().lower(),
                )
                for p in participations
            ),
        )
        if not rows:
            return "—"
        everything = reverse("admin:events_event_changelist") + f"?actor={actor.slug}"
        return format_html(
            "<ul class='related-events'>{}</ul><a href='{}'>All its events</a>", rows, everything
        )


@admin.register(Source)
class SourceAdmin(RecordAdminMixin, SimpleHistoryAdmin):
    list_display = ["title", "publisher", "kind", "published_on"]
    list_filter = ["kind"]
    search_fields = ["title", "publisher", "url"]
    search_help_text = "Part of the title, the publisher or the address."
    show_full_result_count = False
    fields = [
        "url",
        "title",
        "publisher",
        "author",
        "kind",
        "published_on",
        "language",
        "cited_by",
        "seen_version",
    ]
    readonly_fields = ["cited_by"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "url":
            kwargs["assume_scheme"] = "https"  # an address typed without a scheme
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_search_fields(self, request):
        # Autocomplete runs on every keystroke: only what an index serves (trigram on
        # UPPER(title), the unique index on url). The changelist also searches publishers.
        match = request.resolver_match
        if match and match.url_name == "autocomplete":
            return ["title", "url__exact"]
        return super().get_search_fields(request)

    @admin.display(description="cited by")
    def cited_by(self, source):
        if not source.pk:
            return "—"
        citations = (
            Citation.objects.filter(source=source)
            .select_related("event")
            .order_by("-event__start_date", "-event__id")[:RELATED_EVENTS_SHOWN]
        )
        events = list({c.event_id: c.event for c in citations}.values())
        if not events:
            return "—"
        everything = reverse("admin:events_event_changelist") + f"?source={source.pk}"
        return format_html(
            "{}<a href='{}'>All events citing it</a>", event_admin_links(events), everything
        )


@admin.register(Country)
class CountryAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "code3"]
    search_fields = ["name", "code", "code3"]
    search_help_text = "Name or ISO code."
    list_per_page = 100


@admin.register(EventAlias)
class EventAliasAdmin(admin.ModelAdmin):
    """Slugs of events merged into others: each still answers, redirecting to the kept event.
    Written only by a merge, so read-only here; whoever may view events may view them."""

    list_display = ["slug", "event"]
    list_select_related = ["event"]
    search_fields = ["slug", "event__slug", "event__title"]
    search_help_text = "Part of the old slug, or of the kept event's slug or title."
    fields = ["slug", "event"]

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("events.view_event")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
