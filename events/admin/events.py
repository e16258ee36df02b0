"""The event form (fields, participants, citations and links in one form, or a proposal for a
curator's change to a published event), the changelist, actions, import and merge."""

import datetime

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError, connections
from django.db.models import CheckConstraint, Max, Min, Prefetch, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from diplomacy.routers import pin_to_primary

from .. import tasks, writes
from ..duplicates import duplicates_of
from ..filters import EventFilter, resolve_actor, resolve_country, resolve_source, whole_number
from ..models import (
    Citation,
    ConcurrentEditError,
    Event,
    EventLink,
    EventProposal,
    EventQuerySet,
    ImportJob,
    Participation,
    ReviewState,
    Role,
)
from ..tasks import IMPORT_OPTIONS
from .common import (
    CAPPED_COUNT,
    ESTIMATE_COUNT_ABOVE,
    REFUSALS,
    RELATED_EVENTS_SHOWN,
    ChildHistoryMixin,
    EventAdminForm,
    KnownObjectsAutocompleteMixin,
    WritesAdminMixin,
    _safe,
    can_publish,
    event_admin_links,
    event_dates,
    refusal_text,
)
from .importing import RECENT_IMPORTS, ImportForm, job_context
from .proposals import EventProposalAdmin

# --- Inline formsets: constraint messages and the publish rule on submitted rows ------------


class ConstraintInlineFormSet(BaseInlineFormSet):
    """Reports duplicates between submitted rows with the unique constraint's own message,
    on the constraint's field; and, for a published event, requires at least one row.

    `needed_to_publish` names what a published event must have (None: nothing). The rule is
    `writes.publish_problems()`, applied here to the rows being submitted, so an editor can add
    a participant and publish in the same save.
    """

    needed_to_publish = None

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        if self.instance.pk is not None:
            # The row's parent is this formset's instance: cache it, so that rendering the row
            # (EventLink.__str__ names both events) does not fetch it once per row.
            setattr(form.instance, self.fk.name, self.instance)
        return form

    def validate_unique(self):
        model = self.model
        kept = [
            form
            for form in self.forms
            if form.is_valid() and form.cleaned_data and not self._should_delete_form(form)
        ]
        for constraint in model._meta.total_unique_constraints:
            fields = [name for name in constraint.fields if name != self.fk.name]
            seen = set()
            for form in kept:
                key = tuple(form.cleaned_data.get(name) for name in fields)
                if None in key:
                    continue
                if key in seen:
                    field = model.constraint_fields.get(constraint.name, fields[-1])
                    form.add_error(field, str(constraint.violation_error_message))
                seen.add(key)

    def clean(self):
        super().clean()
        self.check_constraints_on_parent()
        if self.needed_to_publish is None:
            return
        if getattr(self.instance, "review_state", None) != ReviewState.PUBLISHED:
            return
        kept = [
            form
            for form in self.forms
            if getattr(form, "cleaned_data", None) and not self._should_delete_form(form)
        ]
        if not kept:
            raise ValidationError(
                "A published event needs %(what)s: add one here, or keep the event as a draft.",
                code="publish_rule",
                params={"what": self.needed_to_publish},
            )

    def check_constraints_on_parent(self):
        """Check constraints that involve the parent, such as "not linked to itself".

        A ModelForm leaves the inline foreign key out of model validation, so without this the
        database would refuse the row with an IntegrityError instead of a message on the field.
        """
        checks = [
            c
            for c in self.model._meta.constraints
            if isinstance(c, CheckConstraint) and self.fk.name in str(c.condition)
        ]
        if not checks or self.instance.pk is None:
            return
        for form in self.forms:
            if not form.is_valid() or not form.cleaned_data or self._should_delete_form(form):
                continue
            for constraint in checks:
                try:
                    constraint.validate(self.model, form.instance)
                except ValidationError:
                    field = self.model.constraint_fields.get(constraint.name)
                    form.add_error(field, str(constraint.violation_error_message))


class ParticipationFormSet(ConstraintInlineFormSet):
    needed_to_publish = "at least one participant"


class CitationFormSet(ConstraintInlineFormSet):
    needed_to_publish = "at least one citation"


class LabelledTabularInline(admin.TabularInline):
    """A tabular inline whose inputs carry their column's name (the table shows it only as a
    heading, which does not label them for assistive technology), "Delete" included."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)

        def add_fields(formset_self, form, index):
            formset.add_fields(formset_self, form, index)
            for name, field in form.fields.items():
                label = "Delete" if name == "DELETE" else field.label or name
                field.widget.attrs.setdefault("aria-label", str(label).capitalize())

        return type(formset.__name__, (formset,), {"add_fields": add_fields})


class ParticipationInline(KnownObjectsAutocompleteMixin, LabelledTabularInline):
    model = Participation
    formset = ParticipationFormSet
    fields = ["actor", "role", "position"]
    autocomplete_fields = ["actor"]
    extra = 0
    verbose_name = "participant"

    def get_queryset(self, request):
        # Ordered on the row itself: the model's ordering would join the event for nothing.
        return super().get_queryset(request).select_related("actor").order_by("position", "id")


class CitationInline(KnownObjectsAutocompleteMixin, admin.StackedInline):
    model = Citation
    formset = CitationFormSet
    fields = [("source", "locator"), "note"]
    autocomplete_fields = ["source"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source").order_by("id")


class OutgoingLinkInline(KnownObjectsAutocompleteMixin, LabelledTabularInline):
    model = EventLink
    formset = ConstraintInlineFormSet
    fk_name = "from_event"
    fields = ["kind", "to_event"]
    autocomplete_fields = ["to_event"]
    extra = 0
    verbose_name = "link to another event"
    verbose_name_plural = "links to other events"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("to_event").order_by("kind", "id")


# --- Changelist: text filters, index-served ordering, estimated count ------------------------


class NaturalKeyTextFilter(admin.ListFilter):
    """A filter typed as text (an ISO code, a slug) instead of a list of every value.

    It reuses `EventFilter`'s method for the parameter, so the admin, the API and the HTML
    listing filter the same way. An unknown value empties the list and says so.
    """

    template = "admin/events/text_filter.html"
    parameter_name = None
    resolve = None
    method = None
    placeholder = ""

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        value = params.pop(self.parameter_name, None)
        self.value = value[-1].strip() if value else ""
        if self.value:
            self.used_parameters[self.parameter_name] = self.value

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.parameter_name]

    def choices(self, changelist):
        others = {
            key: value for key, value in changelist.params.items() if key != self.parameter_name
        }
        yield {
            "name": self.parameter_name,
            "value": self.value,
            "placeholder": self.placeholder,
            "hidden": sorted(others.items()),
            "clear_url": changelist.get_query_string(remove=[self.parameter_name]),
        }

    def queryset(self, request, queryset):
        if not self.value:
            return queryset
        found = type(self).resolve(self.value)
        if found is None:
            messages.warning(request, f"Unknown {self.title} “{self.value}”.")
            return queryset.none()
        return getattr(EventFilter(), self.method)(queryset, self.parameter_name, found)


class CountryCodeFilter(NaturalKeyTextFilter):
    title = "country code"
    parameter_name = "country"
    resolve = staticmethod(resolve_country)
    method = "filter_country"
    placeholder = "GB or GBR"


class ActorSlugFilter(NaturalKeyTextFilter):
    title = "actor slug"
    parameter_name = "actor"
    resolve = staticmethod(resolve_actor)
    method = "filter_actor"
    placeholder = "taro-kono"


class SourceIdFilter(NaturalKeyTextFilter):
    title = "source id"
    parameter_name = "source"
    resolve = staticmethod(resolve_source)
    method = "filter_source"
    placeholder = "12"


class EstimatedCountPaginator(Paginator):
    """Counts exactly, except an unfiltered list of a large PostgreSQL table.

    There COUNT(*) reads the whole table on every page, so the planner's row estimate
    (pg_class.reltuples, kept current by autovacuum) stands in for it; `estimated` says so.
    One query either way: PostgreSQL runs the COUNT(*) sub-select only when it is needed.
    """

    estimated = False

    @cached_property
    def count(self):
        queryset = self.object_list
        if not (isinstance(queryset, QuerySet) and connections[queryset.db].vendor == "postgresql"):
            return super().count
        if queryset.query.where:
            # A filtered or searched list: count at most CAPPED_COUNT + 1 rows (a LIMIT inside
            # the COUNT), so a search matching hundreds of thousands of events stays quick.
            count = queryset.order_by()[: CAPPED_COUNT + 1].count()
            if count > CAPPED_COUNT:
                self.estimated = True
                return CAPPED_COUNT
            return count
        connection = connections[queryset.db]
        table = queryset.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT CASE WHEN reltuples > %s THEN reltuples::bigint "
                f"ELSE (SELECT COUNT(*) FROM {connection.ops.quote_name(table)}) END, "
                "reltuples > %s FROM pg_class WHERE oid = %s::regclass",
                [ESTIMATE_COUNT_ABOVE, ESTIMATE_COUNT_ABOVE, table],
            )
            count, self.estimated = cursor.fetchone()
        return count


class YearSpanQuerySet(EventQuerySet):
    """The changelist's queryset: its years for the date drill-down are every year from the
    first event to the last (a year may hold no event), read with MIN and MAX, which the
    (start_date, id) index answers at once, instead of SELECT DISTINCT over the whole table."""

    def dates(self, field_name, kind, order="ASC"):
        if kind != "year":
            return super().dates(field_name, kind, order)
        bounds = self.aggregate(first=Min(field_name), last=Max(field_name))
        if bounds["first"] is None:
            return []
        years = [
            datetime.date(year, 1, 1)
            for year in range(bounds["first"].year, bounds["last"].year + 1)
        ]
        return years if order == "ASC" else years[::-1]


class EventChangeList(ChangeList):
    # Columns an index serves, tie-broken on id in the same direction:
    # event_start_date_idx (start_date, id) and event_title_idx (title, id).
    indexed_orderings = {"start_date", "title"}

    def get_ordering(self, request, queryset):
        ordering = super().get_ordering(request, queryset)
        first = next(
            (
                term
                for term in ordering
                if isinstance(term, str) and term.lstrip("-") in self.indexed_orderings
            ),
            "-start_date",
        )
        return [first, "-id" if first.startswith("-") else "id"]

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        if self.query:
            # The date drill-down of a full-text search would read every match (twice: bounds
            # and distinct years); on millions of events that takes seconds. Search results are
            # narrowed with the other filters instead.
            self.date_hierarchy = None

    def get_queryset(self, request, exclude_parameters=None):
        # Initiator and target countries for the page's rows, in one query.
        queryset = super().get_queryset(request, exclude_parameters)
        # The drill-down's years from two index look-ups (MIN and MAX), not a DISTINCT over
        # every event: see YearSpanQuerySet.
        queryset.__class__ = YearSpanQuerySet
        return queryset.prefetch_related(
            Prefetch(
                "participations",
                queryset=Participation.objects.filter(role__in=[Role.INITIATOR, Role.TARGET])
                .select_related("actor__country")
                .order_by("position", "id"),
                to_attr="sides",
            )
        )


# --- Events ----------------------------------------------------------------------------------

# Characters of a title, and of an actor's name without a country code, shown in the list.
TITLE_SHOWN = 100
SIDE_SHOWN = 20


def shortened(text, length):
    """`text` cut to `length` characters, whole in a tooltip when cut."""
    cut = Truncator(text).chars(length)
    return format_html('<span title="{}">{}</span>', text, cut) if cut != text else cut


# The inline formsets by prefix, as the event's history names their changes.
INLINE_NOUNS = {
    "participations": "participants",
    "citations": "citations",
    "outgoing_links": "links",
}


@admin.register(Event)
class EventAdmin(
    WritesAdminMixin, ChildHistoryMixin, KnownObjectsAutocompleteMixin, SimpleHistoryAdmin
):
    form = EventAdminForm
    # Short columns, so that the list fits 1280 px beside its filters (static/css/admin-events.css
    # keeps them on one line): a long title or actor name is cut, whole in its tooltip.
    list_display = [
        "short_title",
        "dates",
        "kind",
        "initiator_countries",
        "target_countries",
        "status",
        "review_state",
    ]
    list_filter = [
        "kind",
        "status",
        "review_state",
        "date_precision",
        CountryCodeFilter,
        ActorSlugFilter,
        SourceIdFilter,
    ]
    sortable_by = ["short_title", "dates"]
    date_hierarchy = "start_date"
    search_fields = ["title"]  # shows the search box; get_search_results does the searching
    search_help_text = "Words in the title, summary, quoted words or participants' names."
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    autocomplete_fields = ["location_country"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [ParticipationInline, CitationInline, OutgoingLinkInline]
    actions = ["publish_selected", "unpublish_selected", "merge_selected"]
    fieldsets = [
        (None, {"fields": [("kind", "mode"), "title", "slug", "summary", "seen_version"]}),
        ("Date", {"fields": [("start_date", "end_date", "date_precision"), "status"]}),
        ("Place", {"fields": [("location_country", "place")]}),
        (
            "People expelled",
            {
                "fields": [("expelled_low", "expelled_best", "expelled_high")],
                "description": 'Expulsions only. "60" is 60, 60, 60; "in excess of 100" is a '
                "low of 101 with no best or high estimate; low ≤ best ≤ high.",
            },
        ),
        ("Quoted words", {"fields": ["quoted_words"]}),
        ("Review", {"fields": ["review_state"]}),
        ("Linked from other events", {"fields": ["linked_from_events"]}),
        (
            "Codes derived from kind, mode and status",
            {"fields": [("cameo_code", "plover_type", "plover_mode")], "classes": ["collapse"]},
        ),
    ]
    readonly_fields = ["linked_from_events", "cameo_code", "plover_type", "plover_mode"]
    saved_only_fieldsets = {
        "Linked from other events",
        "Codes derived from kind, mode and status",
    }
    child_histories = [
        (
            Participation,
            "event_id",
            ["actor"],
            _safe(lambda r: f"{r.actor} as {r.get_role_display().lower()}"),
        ),
        (Citation, "event_id", ["source"], _safe(lambda r: f"{r.source.title}, {r.locator}")),
        (
            EventLink,
            "from_event_id",
            ["to_event"],
            _safe(lambda r: f"{r.get_kind_display()} {r.to_event}"),
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("location_country")

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # nothing links to an event not yet saved, nor are codes derived
            return [fs for fs in self.fieldsets if fs[0] not in self.saved_only_fieldsets]
        return self.fieldsets

    def get_changelist(self, request, **kwargs):
        return EventChangeList

    def get_search_results(self, request, queryset, search_term):
        # Full text on PostgreSQL (GIN index), every word icontains on SQLite: see search().
        return queryset.search(search_term), False

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not can_publish(request):
            readonly.append("review_state")
        return readonly

    def view_on_site(self, obj):
        # The public page; until it exists, the API's detail; else no link rather than an error.
        for name in ("event-detail", "api:event-detail", "event-api-detail"):
            try:
                return reverse(name, kwargs={"slug": obj.slug})
            except NoReverseMatch:
                continue
        return None

    # Writing ---------------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {
            "may_publish": can_publish(request),
            # Counted only when the page is rendered (not on a save that redirects).
            "waiting_proposals": lambda: self.waiting_proposals(request, object_id).count(),
            "proposals_url": reverse("admin:events_eventproposal_changelist")
            + f"?event__id__exact={object_id}",
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    def waiting_proposals(self, request, object_id):
        """The proposals waiting for this event that the user may see: all of them for an
        editor, a curator's own."""
        if whole_number(str(object_id)) is None:
            return EventProposal.objects.none()
        return EventProposalAdmin.visible(request.user, EventProposal.objects.pending()).filter(
            event_id=object_id
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        def save():
            return super(EventAdmin, self).changeform_view(
                request, object_id, form_url, extra_context
            )

        return self.save_or_propose(request, object_id, save)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        def revert():
            return super(EventAdmin, self).history_form_view(
                request, object_id, version_id, extra_context
            )

        return self.save_or_propose(request, object_id, revert)

    def save_or_propose(self, request, object_id, save):
        """Run the view that saves (the form, or a revert from history); for a curator's save of
        a published event, as a proposal: `writes.propose` runs the ordinary save in a
        transaction it rolls back and keeps what the event would have become."""
        event = None
        if request.method == "POST" and object_id is not None:
            event = self.get_object(request, unquote(object_id))
        if event is None or not writes.may_propose(request.user, event):
            return save()
        seen = whole_number(request.POST.get("seen_version", ""))
        if seen is None:
            return save()  # the form's own check refuses it, keeping the input
        outcome = {}

        def apply():
            request._proposing = True
            request._event_written = request._nothing_to_propose = False
            try:
                outcome["response"] = save()
            finally:
                request._proposing = False
            return (
                request._event_written
                and not request._nothing_to_propose
                and isinstance(outcome["response"], HttpResponseRedirect)
            )

        try:
            proposal = writes.propose(request.user, event, seen, apply)
        except ConcurrentEditError:
            return save()  # a stale copy: the form's own check says who changed what
        if proposal is None and request._nothing_to_propose:
            self.message_user(request, "You changed nothing, so nothing was proposed.")
            return HttpResponseRedirect(request.path)
        if proposal is None:
            return outcome["response"]  # the form with its errors; nothing was proposed
        url = reverse("admin:events_eventproposal_change", args=[proposal.pk])
        self.message_user(
            request,
            format_html(
                "Your change was saved as a proposal for an editor to review: "
                "<a href='{}'>see the proposal</a>. The published event stays as it is until "
                "an editor accepts it.",
                url,
            ),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(url)

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        if getattr(request, "_proposing", False) and level != messages.ERROR:
            return  # the save being proposed is rolled back: its "saved" is not true
        super().message_user(request, message, level, *args, **kwargs)

    def save_model(self, request, obj, form, change):
        # The event is written with its inlines, as one change, in save_related; a revert from
        # the history page has no inlines and no save_related, so it is written here.
        if form.reverting:
            self.write(request, form)

    def write(self, request, form, formsets=None, change=True):
        """The event (with its inlines' rows) through `writes.save_event`; notes on the request
        that it was written (what `save_or_propose` asks)."""
        changed = [INLINE_NOUNS.get(f.prefix, f.prefix) for f in formsets or () if f.has_changed()]
        # A revert (no formsets) always changes something; a form may change nothing.
        request._nothing_to_propose = formsets is not None and not (changed or form.has_changed())

        def save_children():
            super(EventAdmin, self).save_related(request, form, formsets, change)

        writes.save_event(
            request.user,
            form.instance,
            seen_version=form.cleaned_data.get("seen_version"),
            save_children=save_children if formsets is not None else None,
            reason=f"Changed its {', '.join(changed)}" if changed else None,
        )
        request._event_written = True

    def delete_model(self, request, obj):
        writes.delete_event(request.user, obj)

    def delete_queryset(self, request, queryset):
        for event in queryset:
            writes.delete_event(request.user, event)

    @admin.display(description="title", ordering="title")
    def short_title(self, event):
        return shortened(event.title, TITLE_SHOWN)

    @admin.display(description="date", ordering="start_date")
    def dates(self, event):
        return event_dates(event)

    def _countries(self, event, role):
        names = []
        for participation in getattr(event, "sides", []):
            if participation.role != role:
                continue
            actor = participation.actor
            name = actor.country.code if actor.country else actor.name
            if name not in names:
                names.append(name)
        return (
            format_html_join(", ", "{}", ((shortened(name, SIDE_SHOWN),) for name in names)) or "—"
        )

    @admin.display(description="initiators")
    def initiator_countries(self, event):
        return self._countries(event, Role.INITIATOR)

    @admin.display(description="targets")
    def target_countries(self, event):
        return self._countries(event, Role.TARGET)

    @admin.display(description="linked from")
    def linked_from_events(self, event):
        if not event.pk:
            return "—"
        links = EventLink.objects.filter(to_event=event).select_related("from_event")
        items = format_html_join(
            "",
            "<li><a href='{}'>{}</a> {}</li>",
            (
                (
                    reverse("admin:events_event_change", args=[link.from_event_id]),
                    link.from_event,
                    link.get_kind_display().lower() + " this event",
                )
                for link in links
            ),
        )
        return format_html("<ul>{}</ul>", items) if items else "—"

    def has_publish_permission(self, request):
        return can_publish(request)

    def _set_review_state(self, request, queryset, state, reason):
        events = list(queryset.order_by("-start_date", "-id"))
        for event in events:
            event._change_reason = reason
        changed, refused = writes.set_review_state(request.user, events, state)
        if changed:
            self.message_user(
                request,
                f"{reason.capitalize()}: {len(changed)} event{'s' if len(changed) != 1 else ''}.",
                messages.SUCCESS,
            )
        for refusal in refused:
            self.message_user(request, refusal, messages.ERROR)
        if not changed and not refused:
            self.message_user(request, "Nothing to change.", messages.INFO)

    @admin.action(description="Publish selected events", permissions=["publish"])
    def publish_selected(self, request, queryset):
        self._set_review_state(request, queryset, ReviewState.PUBLISHED, "published")

    @admin.action(description="Unpublish selected events (back to draft)", permissions=["publish"])
    def unpublish_selected(self, request, queryset):
        self._set_review_state(request, queryset, ReviewState.DRAFT, "unpublished")

    # Import ------------------------------------------------------------------------------

    def get_urls(self):
        urls = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="events_event_import",
            ),
            path(
                "import/<int:job_id>/",
                self.admin_site.admin_view(self.import_job_view),
                name="events_event_import_job",
            ),
        ]
        return urls + super().get_urls()

    def import_view(self, request):
        """Import events from a CSV or JSON file: upload it with the options; a background job
        checks it (a dry run) and its page reports what would be created, updated, left
        unchanged, the duplicates and every problem by row and column; confirm there, and a
        second job imports it. Lists the user's recent imports."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        may_publish = can_publish(request)
        form = ImportForm(may_publish=may_publish)
        if request.method == "POST":
            form = ImportForm(request.POST, request.FILES, may_publish=may_publish)
            if form.is_valid():
                options = {name: form.cleaned_data.get(name, False) for name in IMPORT_OPTIONS}
                tasks.remove_expired_uploads()
                try:
                    job = tasks.start_import(request.user, form.cleaned_data["file"], options)
                except (OSError, DatabaseError) as error:  # a full disk, a locked database
                    form.add_error("file", f"The file could not be stored: {error}")
                else:
                    return HttpResponseRedirect(job.get_absolute_url())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import events",
            "form": form,
            "jobs": ImportJob.objects.filter(user=request.user)[:RECENT_IMPORTS],
            "max_size": settings.IMPORT_MAX_BYTES,
        }
        return TemplateResponse(request, "admin/events/event/import.html", context)

    def import_job_view(self, request, job_id):
        """An import job's page, the uploader's (and superusers'): its state, its progress
        while it runs (the page reloads itself), and its report once it ends. A dry run that
        found no problems is confirmed here (a second job imports the file) or cancelled."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        pin_to_primary()  # the worker writes the job: a replica may not have it yet
        job = get_object_or_404(ImportJob.objects.visible_to(request.user), pk=job_id)
        if request.method == "POST" and "_confirm" in request.POST:
            confirmation = tasks.confirm_import(job)
            if confirmation is None:
                self.message_user(
                    request,
                    "This dry run can no longer be imported (it was imported, cancelled, or "
                    "its upload expired): upload the file again.",
                    messages.WARNING,
                )
                return HttpResponseRedirect(job.get_absolute_url())
            return HttpResponseRedirect(confirmation.get_absolute_url())
        if request.method == "POST" and "_cancel" in request.POST:
            if tasks.cancel_import(job):
                self.message_user(request, "Import cancelled; nothing was written.")
            else:
                self.message_user(
                    request, "This dry run was already imported or cancelled.", messages.WARNING
                )
            return HttpResponseRedirect(reverse("admin:events_event_import"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{'Dry run' if job.dry_run else 'Import'} of {job.file_name}",
            **job_context(job),
        }
        return TemplateResponse(request, "admin/events/event/import_job.html", context)

    # Duplicates and merging ------------------------------------------------------------------

    def save_related(self, request, form, formsets, change):
        self.write(request, form, formsets, change)
        # After the inlines: a duplicate is judged by the initiators and targets just saved.
        duplicates = list(duplicates_of(form.instance, limit=RELATED_EVENTS_SHOWN))
        if duplicates:
            self.message_user(
                request,
                format_html(
                    "This event looks like {} already recorded (same kind, overlapping dates, "
                    "same initiator and target): {} If it is the same event, an editor can "
                    "merge the two with “Merge selected events…” on the list.",
                    "one" if len(duplicates) == 1 else f"{len(duplicates)} events",
                    event_admin_links(duplicates),
                ),
                messages.WARNING,
            )

    def has_merge_permission(self, request):
        # A merge changes one event and deletes the other (editors). Django offers an action
        # to whoever has any one of its permissions, hence one permission for both.
        return self.has_change_permission(request) and self.has_delete_permission(request)

    @admin.action(description="Merge selected events…", permissions=["merge"])
    def merge_selected(self, request, queryset):
        events = list(queryset.order_by("start_date", "id")[:3])
        if len(events) != 2:
            self.message_user(
                request,
                "Select exactly two events to merge (one is kept, the other merged into it).",
                messages.WARNING,
            )
            return None
        if request.POST.get("post") == "yes":
            keep = next((e for e in events if str(e.pk) == request.POST.get("keep")), None)
            if keep is None:
                self.message_user(request, "Choose the event to keep.", messages.ERROR)
            else:
                merged = events[1] if keep is events[0] else events[0]
                return self._merge(request, keep, merged)
        rows = [
            {
                "event": event,
                "dates": event_dates(event),
                "url": reverse("admin:events_event_change", args=[event.pk]),
                "participants": event.participations.count(),
                "citations": event.citations.count(),
                "links": event.outgoing_links.count() + event.incoming_links.count(),
            }
            for event in events
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Merge two events",
            "rows": rows,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/events/event/merge_confirmation.html", context)

    def _merge(self, request, keep, merged):
        title, slug = str(merged), merged.slug
        try:
            writes.merge_events(request.user, keep, merged)
        except REFUSALS as error:
            self.message_user(request, f"{refusal_text(error)} Nothing was merged.", messages.ERROR)
            return None
        self.message_user(
            request,
            format_html(
                "Merged “{}” into <a href='{}'>{}</a>: its participants, citations and links "
                "are now the kept event's, and its address ({}) leads there.",
                title,
                reverse("admin:events_event_change", args=[keep.pk]),
                keep,
                slug,
            ),
            messages.SUCCESS,
        )
        return None
