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
- Bulk data: curators import a CSV or JSON file after reading its dry-run report
  (`EventAdmin.import_view`); a save that looks like an existing event warns with links to it;
  editors merge two events into one (`merge_selected`), whose old slug then redirects.
"""

import datetime
import secrets
import tempfile
import time
from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError, connections, transaction
from django.db.models import CheckConstraint, Max, Min, Prefetch, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from rest_framework.exceptions import APIException
from simple_history.admin import SimpleHistoryAdmin

from . import writes
from .filters import EventFilter, resolve_actor, resolve_country, resolve_source, whole_number
from .importing import FileProblem, run_import
from .importing import describe_problem as describe_row_problem
from .models import (
    Actor,
    ActorKind,
    Citation,
    ConcurrentEditError,
    Country,
    DatePrecision,
    Event,
    EventAlias,
    EventLink,
    EventProposal,
    EventQuerySet,
    LinkKind,
    Membership,
    Office,
    Participation,
    ProposalState,
    ReviewState,
    Role,
    Source,
)

# The change pages list at most this many related events; the rest are one filter away.
RELATED_EVENTS_SHOWN = 50
# Child history records shown on an event's or actor's history page, per child model.
CHILD_HISTORY_SHOWN = 200
# Below this many rows an exact COUNT(*) is cheap; above it the changelist shows an estimate.
ESTIMATE_COUNT_ABOVE = 100_000
# A filtered or searched changelist counts up to this many rows and then says "more than".
CAPPED_COUNT = 10_000


def can_publish(request):
    return writes.is_editor(request.user)


def event_dates(event):
    """An event's dates at their precision: "14 March 2018", "May 2018", "2014–2016"."""
    formats = {
        DatePrecision.YEAR: ("Y", "{}–{}"),
        DatePrecision.MONTH: ("F Y", "{} – {}"),
        DatePrecision.DAY: ("j F Y", "{} – {}"),
    }
    pattern, span = formats.get(event.date_precision, formats[DatePrecision.DAY])
    start = date_format(event.start_date, pattern)
    if event.end_date and event.end_date != event.start_date:
        return span.format(start, date_format(event.end_date, pattern))
    return start


def event_admin_links(events):
    """A bulleted list of links to these events' change pages (already loaded, no queries)."""
    items = format_html_join(
        "",
        "<li><a href='{}'>{}</a> ({})</li>",
        (
            (reverse("admin:events_event_change", args=[event.pk]), event, event_dates(event))
            for event in events
        ),
    )
    return format_html("<ul class='related-events'>{}</ul>", items) if items else "—"


# --- Autocomplete without a query per row ----------------------------------------------------


class KnownObjectAutocompleteSelect(AutocompleteSelect):
    """An autocomplete that renders its selected option from the row already loaded.

    Django's widget looks the selected object up again, one query per inline row; the inline
    querysets here `select_related` those objects, so `known` already holds it.
    """

    known = None

    def optgroups(self, name, value, attr=None):
        known = self.known
        selected = {str(v) for v in value if str(v) not in self.choices.field.empty_values}
        if known is None or selected != {str(known.pk)}:
            return super().optgroups(name, value, attr)
        options = []
        if not self.is_required:
            options.append(self.create_option(name, "", "", False, 0))
        label = self.choices.field.label_from_instance(known)
        options.append(self.create_option(name, known.pk, label, selected, len(options)))
        return [(None, options, 0)]


class KnownObjectsForm(forms.ModelForm):
    """Hands each autocomplete widget the related object its instance already has cached."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            widget = getattr(field.widget, "widget", field.widget)
            if not isinstance(widget, KnownObjectAutocompleteSelect):
                continue
            model_field = self.instance._meta.get_field(name)
            if model_field.is_cached(self.instance):
                widget.known = getattr(self.instance, name)


class KnownObjectsAutocompleteMixin:
    """Use KnownObjectAutocompleteSelect for every autocomplete field of this admin/inline."""

    form = KnownObjectsForm

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KnownObjectAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


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


class ParticipationInline(KnownObjectsAutocompleteMixin, admin.TabularInline):
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


class OutgoingLinkInline(KnownObjectsAutocompleteMixin, admin.TabularInline):
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


# --- Forms that carry the version they were opened at; the write path's refusals -------------


class SeenVersionForm(KnownObjectsForm):
    """A change form of a versioned record (an event, actor or source). `seen_version` is the
    version the form was opened at.

    A save from an older version is refused here, before anything is written, and the form
    comes back with the user's input and a message saying who changed what since (with a link
    to the history). The write path checks again inside the save's transaction
    (events/writes.py; `WritesAdminMixin.changeform_view` handles that second refusal).
    """

    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    # Set by WritesAdminMixin.get_form: reverting from history, and who submits the form.
    reverting = False
    user = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            version = self.instance.version
            if self.reverting:
                # The instance is an old version; the save must be checked against today's.
                version = self._stored().get("version", version)
            self.fields["seen_version"].initial = version

    def _stored(self):
        if not hasattr(self, "_stored_row"):
            self._stored_row = (
                type(self.instance)
                .objects.filter(pk=self.instance.pk)
                .values("version", *self.stored_fields)
                .first()
                or {}
            )
        return self._stored_row

    stored_fields = ()

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk:
            return cleaned
        stored = self._stored()
        seen = cleaned.get("seen_version")
        if not stored:
            return cleaned
        if seen is None or seen != stored["version"]:
            raise ValidationError(stale_copy_message(self.instance, seen), code="stale")
        # The write compares this with the row again inside the save's transaction.
        self.instance.version = seen
        return cleaned


class EventAdminForm(SeenVersionForm):
    """The event form: the stale-copy check, the review state as stored for whoever may not
    publish, and the constraint's own message for the number expelled."""

    stored_fields = ("review_state",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "expelled_count" in self.fields:
            # The constraint's message rather than the form field's "greater than or equal to 0".
            field = self.fields["expelled_count"]
            field.min_value = None
            field.validators = [self._expelled_count_positive]
            field.widget.attrs.pop("min", None)

    @staticmethod
    def _expelled_count_positive(value):
        if value is not None and value < 1:
            constraint = next(
                c for c in Event._meta.constraints if c.name == "event_expelled_count_positive"
            )
            raise ValidationError(str(constraint.violation_error_message))

    def clean(self):
        cleaned = super().clean()
        stored = self._stored() if self.instance.pk else {}
        if not stored:
            return cleaned
        if "review_state" not in self.fields:
            # Without the publish permission the review state stays as stored (also on revert).
            self.instance.review_state = stored["review_state"]
        if self.reverting and self.instance.review_state == ReviewState.PUBLISHED:
            problems = writes.publish_problems(self.instance)
            if problems:
                raise ValidationError(
                    "This version cannot be published now: %(why)s.",
                    params={"why": " and ".join(problems)},
                )
        return cleaned


class EventChildForm(KnownObjectsForm):
    """A participant, citation or link on its own page.

    The row is part of its event: `seen_version` is the event's version when the page was
    opened (for a link, its `from_event`'s), and a save is refused here, as a form error, when
    the event changed since or when `writes.require_change_event` refuses this user one of the
    events the row is stored with or moved to. `writes.save_child` checks both again.
    """

    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    reverting = False
    user = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and not self.is_bound:
            events = writes.child_events(self.instance)
            self.fields["seen_version"].initial = events[0].version if events else None

    def clean(self):
        cleaned = super().clean()
        names = writes.CHILD_EVENT_FIELDS[self._meta.model]
        values = {name: cleaned.get(name, getattr(self.instance, name, None)) for name in names}
        if None in values.values():
            return cleaned  # the missing event is reported on its field
        row = self._meta.model(pk=self.instance.pk, **values)
        events = writes.child_events(row)
        try:
            for event in events:
                writes.require_change_event(self.user, event)
        except writes.WriteRefused as error:
            raise ValidationError(str(error), code="refused") from error
        if self.instance.pk is not None:
            seen = cleaned.get("seen_version")
            if seen is None or seen != events[0].version:
                raise ValidationError(stale_copy_message(events[0], seen), code="stale")
        return cleaned


def stale_copy_message(record, seen):
    """Who changed the record (an event, actor or source) since version `seen`, what changed,
    and where to see it."""
    model, opts = type(record), record._meta
    records = list(
        model.history.filter(id=record.pk, version__gte=seen or 0)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    changed_by = sorted(
        {str(r.history_user) for r in records[1:] if r.history_user is not None}
    ) or ["someone"]
    fields = []
    if len(records) > 1:
        delta = records[-1].diff_against(records[0])
        fields = sorted(c.field.replace("_", " ") for c in delta.changes if c.field != "version")
    return format_html(
        "This {} was changed by {} since you opened it{}. Nothing was saved: your entries are "
        "still in the form below. <a href='{}'>See the change in the history</a>, then open "
        "<a href='{}' target='_blank'>the current version</a> and enter your changes there.",
        opts.verbose_name,
        ", ".join(changed_by),
        f" (changed: {', '.join(fields)})" if fields else "",
        reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[record.pk]),
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[record.pk]),
    )


def refusal_text(error):
    """A refusal of the write path as one sentence for a message."""
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


# What the write path refuses: shown as a message, the write rolled back.
REFUSALS = (writes.WriteRefused, writes.PublishError, ConcurrentEditError, ValidationError)


class WritesAdminMixin:
    """An admin whose writes go through events/writes.py.

    Its forms learn who submits them and whether they revert from history (`get_form`); what
    the write path refuses (who may not write, the publish rule, a stale copy) becomes a
    message and a redirect instead of a 500, and the views that write run in a transaction, so
    nothing of a refused write is kept.
    """

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        match = request.resolver_match
        opts = self.opts
        reverting = bool(
            match and match.url_name == f"{opts.app_label}_{opts.model_name}_simple_history"
        )
        return type(form.__name__, (form,), {"reverting": reverting, "user": request.user})

    def refused(self, request, error, outcome, url=None):
        self.message_user(request, f"{refusal_text(error)} {outcome}", messages.ERROR)
        return HttpResponseRedirect(url or request.get_full_path())

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        for attempt in (1, 2):
            try:
                return super().changeform_view(request, object_id, form_url, extra_context)
            except ConcurrentEditError as error:
                # Someone saved between the form's version check and this save: the transaction
                # rolled back. Showing the form again runs the check again, which now refuses
                # the stale copy with the input kept; only a second race lands here.
                if attempt == 2 or object_id is None:
                    opts = self.opts
                    history = reverse(
                        f"admin:{opts.app_label}_{opts.model_name}_history", args=[object_id]
                    )
                    return self.refused(request, error, "Nothing was saved.", history)
            except REFUSALS as error:
                return self.refused(request, error, "Nothing was saved.")
        raise AssertionError("unreachable")

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except REFUSALS as error:
            return self.refused(request, error, "Nothing was deleted.")

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        try:
            with transaction.atomic():
                return super().history_form_view(request, object_id, version_id, extra_context)
        except REFUSALS as error:
            return self.refused(request, error, "Nothing was reverted.")

    def changelist_view(self, request, extra_context=None):
        if request.method != "POST":
            return super().changelist_view(request, extra_context)
        # An action (delete selected, publish, merge) writes all its rows or none.
        try:
            with transaction.atomic():
                return super().changelist_view(request, extra_context)
        except REFUSALS as error:
            return self.refused(request, error, "Nothing was changed.")


# --- History of child rows on the parent's history page --------------------------------------


class ChildHistoryMixin:
    """Lists, on the parent's history page, the history of the rows it owns.

    `child_histories`: (model, foreign key attname, related fields to load, label function).
    Each record links to that row's own history, where it can be reverted.
    """

    object_history_template = "admin/events/object_history_with_children.html"
    child_histories = []

    def history_view(self, request, object_id, extra_context=None):
        context = {"child_histories": self.child_history_context(object_id)}
        context.update(extra_context or {})
        return super().history_view(request, object_id, extra_context=context)

    def child_history_context(self, object_id):
        sections = []
        for model, fk_attname, related, label in self.child_histories:
            records = list(
                model.history.filter(**{fk_attname: object_id})
                .select_related("history_user", *related)
                .order_by("-history_date", "-history_id")[:CHILD_HISTORY_SHOWN]
            )
            older = {}
            rows = []
            for record in reversed(records):  # oldest first, to diff against the previous one
                previous = older.get(record.id)
                changes = []
                if previous is not None and record.history_type == "~":
                    delta = record.diff_against(previous, foreign_keys_are_objs=True)
                    changes = [(c.field, c.old, c.new) for c in delta.changes]
                older[record.id] = record
                opts = model._meta
                rows.append(
                    {
                        "record": record,
                        "label": label(record),
                        "changes": changes,
                        "history_url": reverse(
                            f"admin:{opts.app_label}_{opts.model_name}_history", args=[record.id]
                        ),
                        "version_url": reverse(
                            f"admin:{opts.app_label}_{opts.model_name}_simple_history",
                            args=[record.id, record.history_id],
                        ),
                    }
                )
            sections.append({"name": model._meta.verbose_name_plural, "rows": list(reversed(rows))})
        return sections


def _safe(getter):
    """A label for a historical row whose related object may since have been deleted."""

    def label(record):
        try:
            return getter(record)
        except ObjectDoesNotExist:  # the related row was deleted since
            return f"#{record.id}"

    return label


# --- Import from a file: upload, dry-run report, confirm --------------------------------------

# Uploads wait here between the report and the confirmation: outside any served directory,
# readable by this user only, named at random. One pending upload per session.
IMPORT_DIR = Path(tempfile.gettempdir()) / "diplomacy-admin-imports"
IMPORT_SESSION_KEY = "events_pending_import"
# Larger files belong to `manage.py import_events`, which shows progress and needs no request.
IMPORT_MAX_BYTES = 20 * 1024 * 1024
# An upload never confirmed nor cancelled is removed at the next upload after this long.
IMPORT_KEPT_SECONDS = 24 * 3600
IMPORT_FORMATS = {".csv": "csv", ".json": "json"}
IMPORT_OPTIONS = ["create_actors", "skip_duplicates", "publish"]


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with the export's columns, or JSON as the API gives events "
        "(one object or a list); UTF-8."
    )
    create_actors = forms.BooleanField(
        required=False,
        label="Create actors",
        help_text="Create actors the database does not have from their name and kind in the "
        "file (otherwise an unknown actor is an error).",
    )
    skip_duplicates = forms.BooleanField(
        required=False,
        label="Skip duplicates",
        help_text="Leave out new events that look like existing ones (same kind, overlapping "
        "dates, same initiator and target) instead of only reporting them.",
    )
    publish = forms.BooleanField(
        required=False,
        label="Publish",
        help_text="Publish the imported events (each needs a participant and a citation); "
        "otherwise they are drafts.",
    )

    def __init__(self, *args, may_publish=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_publish:
            del self.fields["publish"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in IMPORT_FORMATS:
            raise ValidationError("Upload a .csv or a .json file.")
        if upload.size > IMPORT_MAX_BYTES:
            raise ValidationError(
                "This file is larger than %(limit)d MB: import it with "
                "`manage.py import_events`, which streams files of any size.",
                params={"limit": IMPORT_MAX_BYTES // (1024 * 1024)},
            )
        return upload


def _pending_path(pending):
    # The stored name is ours, but check it anyway: a session is not a place to trust paths.
    name = Path(str(pending.get("file", ""))).name
    return IMPORT_DIR / name if name and name == pending.get("file") else None


def discard_pending_import(request):
    """Forget this session's pending upload and delete its file."""
    pending = request.session.pop(IMPORT_SESSION_KEY, None)
    if pending and (file := _pending_path(pending)) is not None:
        file.unlink(missing_ok=True)


def keep_pending_import(request, upload, options):
    """Save the upload for the confirmation step; returns the session's pending import."""
    discard_pending_import(request)
    IMPORT_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    cutoff = time.time() - IMPORT_KEPT_SECONDS
    for old in IMPORT_DIR.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    suffix = Path(upload.name).suffix.lower()
    with tempfile.NamedTemporaryFile(
        dir=IMPORT_DIR, prefix="import-", suffix=suffix, delete=False
    ) as out:
        for chunk in upload.chunks():
            out.write(chunk)
    pending = {
        "token": secrets.token_urlsafe(16),
        "file": Path(out.name).name,
        "name": Path(upload.name).name,
        "format": IMPORT_FORMATS[suffix],
        "options": options,
    }
    request.session[IMPORT_SESSION_KEY] = pending
    return pending


def describe_problem(problem):
    """A problem of an import as the report lists it: a row's as the command prints it; the
    file's as a sentence that names its line."""
    if isinstance(problem, FileProblem):
        where = f" (line {problem.line})" if problem.line else ""
        return f"The file {problem.message}{where}."
    return describe_row_problem(problem)


def import_report(request, pending, *, dry_run):
    """Run the import of a pending upload (a dry run, or for real) and describe the outcome."""
    options = dict(pending["options"])
    options["publish"] = options.get("publish", False) and can_publish(request)
    file = _pending_path(pending)
    refused = []
    try:
        # A file that is not UTF-8, CSV or JSON is one problem, at its line (run_import).
        problems, counts, duplicates = run_import(
            str(file), pending["format"], dry_run=dry_run, user=request.user, **options
        )
    except DatabaseError as error:
        # The database refused a write that validation let through (say, a row added in the
        # meantime): the transaction rolled back, so nothing was written.
        refused = [f"The database refused the import, so nothing was written: {error}"]
        problems, counts, duplicates = [], None, []
    if counts is not None and not any(counts.values()):
        message = (
            "holds no events (a CSV needs rows under its header; JSON, "
            "an event object or a list of them)"
        )
        problems, counts = [FileProblem(None, message)], None
    existing = dict(
        Event.objects.filter(slug__in=[slug for _, _, slug in duplicates]).values_list("slug", "pk")
    )
    return {
        "dry_run": dry_run,
        "name": pending["name"],
        "options": [ImportForm.base_fields[name].label for name in options if options[name]],
        "counts": counts,
        "problems": refused + [describe_problem(problem) for problem in problems],
        "duplicates": [
            {
                "row": row,
                "slug": slug,
                "existing": existing_slug,
                "url": reverse("admin:events_event_change", args=[existing[existing_slug]])
                if existing_slug in existing
                else None,
            }
            for row, slug, existing_slug in duplicates
        ],
        "skipped_duplicates": options.get("skip_duplicates", False),
    }


# --- Events ----------------------------------------------------------------------------------


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
    list_display = [
        "title",
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
    sortable_by = ["title", "dates"]
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
        ("Expulsion", {"fields": [("expelled_count", "expelled_count_qualifier")]}),
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
        return ", ".join(names) or "—"

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
        import_url = path(
            "import/",
            self.admin_site.admin_view(self.import_view),
            name="events_event_import",
        )
        return [import_url, *super().get_urls()]

    def import_view(self, request):
        """Import events from a CSV or JSON file: upload it with the options, read the dry
        run's report (what would be created, updated, left unchanged; duplicates; every
        problem by row and column), then confirm, which checks the file again and imports it."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        may_publish = can_publish(request)
        pending = request.session.get(IMPORT_SESSION_KEY)
        report, form = None, None
        if request.method == "POST" and ("_confirm" in request.POST or "_cancel" in request.POST):
            if not pending or request.POST.get("token") != pending.get("token"):
                self.message_user(
                    request,
                    "This upload is no longer waiting (it was imported, cancelled or replaced "
                    "by another upload): upload the file again.",
                    messages.WARNING,
                )
                return HttpResponseRedirect(reverse("admin:events_event_import"))
            if "_cancel" in request.POST:
                discard_pending_import(request)
                self.message_user(request, "Import cancelled; nothing was written.")
                return HttpResponseRedirect(reverse("admin:events_event_import"))
            # The database may have changed since the dry run: the real run validates again.
            report = import_report(request, pending, dry_run=False)
            discard_pending_import(request)
            if not report["problems"]:
                counts = report["counts"]
                summary = (
                    f"Imported {report['name']}: created {counts['created']}, updated "
                    f"{counts['updated']}, left {counts['unchanged']} unchanged"
                    + (f", skipped {counts['skipped']} duplicates" if counts["skipped"] else "")
                    + "."
                )
                self.message_user(request, summary, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:events_event_changelist"))
        elif request.method == "POST":
            form = ImportForm(request.POST, request.FILES, may_publish=may_publish)
            if form.is_valid():
                options = {name: form.cleaned_data.get(name, False) for name in IMPORT_OPTIONS}
                pending = keep_pending_import(request, form.cleaned_data["file"], options)
                report = import_report(request, pending, dry_run=True)
                if report["problems"]:
                    discard_pending_import(request)  # nothing to confirm
                form = ImportForm(may_publish=may_publish, initial=options)
        if form is None:
            form = ImportForm(may_publish=may_publish)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import events",
            "form": form,
            "report": report,
            # Only a clean dry run can be confirmed.
            "token": pending["token"]
            if report and report["dry_run"] and not report["problems"]
            else "",
            "max_megabytes": IMPORT_MAX_BYTES // (1024 * 1024),
        }
        return TemplateResponse(request, "admin/events/event/import.html", context)

    # Duplicates and merging ------------------------------------------------------------------

    def save_related(self, request, form, formsets, change):
        self.write(request, form, formsets, change)
        # After the inlines: a duplicate is judged by the initiators and targets just saved.
        duplicates = list(writes.duplicates_of(form.instance)[:RELATED_EVENTS_SHOWN])
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


# --- Proposed changes to published events ------------------------------------------------------


class ProposalStateFilter(admin.SimpleListFilter):
    """Waiting proposals unless another state is chosen: the list opens as the editors' queue."""

    title = "state"
    parameter_name = "state"
    everything = "all"

    def lookups(self, request, model_admin):
        return [*ProposalState.choices, (self.everything, "All")]

    def value(self):
        return super().value() or ProposalState.PENDING

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.everything:
            return queryset
        return queryset.filter(state=value) if value in ProposalState.values else queryset.none()

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class RejectionForm(forms.Form):
    reason = forms.CharField(
        required=False,  # writes.reject_proposal says when one is missing
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="The curator sees this with the proposal.",
    )


# How the proposal's page names each key of the proposed document, in order.
PROPOSED_FIELDS = {
    "slug": "slug",
    "kind": "kind",
    "mode": "mode",
    "title": "title",
    "summary": "summary",
    "start_date": "start date",
    "end_date": "end date",
    "date_precision": "date precision",
    "status": "status",
    "location": "place",
    "participants": "participants",
    "expelled_count": "number expelled",
    "expelled_count_qualifier": "number expelled is",
    "quoted_words": "quoted words",
    "citations": "citations",
    "links": "links",
}


def proposed_value_lines(field, value):
    """A value of the proposed document (or of the event now) as lines of text."""
    if value in (None, "", []):
        return []
    if field == "location":
        return [", ".join(part for part in (value.get("place"), value.get("country_name")) if part)]
    if field == "participants":
        roles = dict(Role.choices)
        return [
            f"{item.get('actor_name') or item['actor']} ({roles.get(item['role'], item['role'])})"
            for item in value
        ]
    if field == "citations":
        return [
            f"{item.get('source_title') or item.get('source_url')}, {item['locator']}"
            + (f": “{item['note']}”" if item.get("note") else "")
            for item in value
        ]
    if field == "links":
        kinds = dict(LinkKind.choices)
        return [
            (
                f"{kinds.get(item['kind'], item['kind'])} “{item.get('title') or item['event']}”"
                if item["direction"] == "outgoing"
                else f"“{item.get('title') or item['event']}” "
                f"{kinds.get(item['kind'], item['kind']).lower()} this event"
            )
            for item in value
        ]
    return [str(value)]


def difference_rows(proposal):
    """`writes.proposal_difference` as the page shows it: per field, the lines now and as
    proposed, each marked when it is not on the other side (removed, added)."""
    order = list(PROPOSED_FIELDS)
    rows = []
    for field, now, proposed in sorted(
        writes.proposal_difference(proposal),
        key=lambda change: order.index(change[0]) if change[0] in order else len(order),
    ):
        before, after = proposed_value_lines(field, now), proposed_value_lines(field, proposed)
        rows.append(
            {
                "field": PROPOSED_FIELDS.get(field, field.replace("_", " ")),
                "now": [(line, line not in after) for line in before],
                "proposed": [(line, line not in before) for line in after],
            }
        )
    return rows


@admin.register(EventProposal)
class EventProposalAdmin(admin.ModelAdmin):
    """Curators' changes to published events, waiting for an editor.

    The list is the editors' queue (waiting ones first; a curator sees only their own); a
    proposal's page shows, field by field, what accepting it would change (participants,
    citations and links included), with Accept and Reject (with a reason) for an editor.
    Deciding goes through `writes.accept_proposal` / `reject_proposal`.
    """

    list_display = ["event", "proposed_by", "proposed_at", "state", "decided_by"]
    list_filter = [ProposalStateFilter]
    list_select_related = ["event", "proposed_by", "decided_by"]
    show_full_result_count = False
    review_template = "admin/events/eventproposal/review.html"

    @staticmethod
    def visible(user, proposals):
        """The proposals `user` may see: every one for an editor, a curator's own."""
        return proposals if writes.is_editor(user) else proposals.filter(proposed_by=user)

    def get_queryset(self, request):
        return self.visible(request.user, super().get_queryset(request))

    def has_add_permission(self, request):
        return False  # a proposal is made by saving a published event

    def has_delete_permission(self, request, obj=None):
        return False  # decided or waiting, a proposal stays on record

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The proposal with what accepting it would change; an editor accepts or rejects it."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        queryset = self.get_queryset(request).select_related("event", "proposed_by", "decided_by")
        number = whole_number(str(object_id))
        proposal = queryset.filter(pk=number).first() if number is not None else None
        if proposal is None:
            raise Http404("No such proposal (or not yours to see).")
        form = RejectionForm(request.POST or None)
        if request.method == "POST":
            response = self.decide(request, proposal, form)
            if response is not None:
                return response
        may_decide = proposal.state == ProposalState.PENDING and writes.is_editor(request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Proposed change to “{proposal.event}”",
            "proposal": proposal,
            "event_url": reverse("admin:events_event_change", args=[proposal.event_id]),
            "difference": difference_rows(proposal),
            "stale": proposal.state == ProposalState.PENDING
            and proposal.event.version != proposal.based_on_version,
            "may_decide": may_decide,
            "form": form,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.review_template, context)

    def decide(self, request, proposal, form):
        """Accept or reject; a redirect when done, None to show the page again (with the
        rejection form's error)."""
        form.is_valid()
        try:
            if "_accept" in request.POST:
                event = writes.accept_proposal(request.user, proposal)
                self.message_user(
                    request,
                    format_html(
                        "Accepted: <a href='{}'>{}</a> now shows the proposed change (version "
                        "{}), recorded in its history as yours.",
                        reverse("admin:events_event_change", args=[event.pk]),
                        event,
                        event.version,
                    ),
                    messages.SUCCESS,
                )
            elif "_reject" in request.POST:
                writes.reject_proposal(request.user, proposal, form.cleaned_data.get("reason"))
                self.message_user(
                    request,
                    f"Rejected; {proposal.proposed_by} sees your reason with the proposal.",
                    messages.SUCCESS,
                )
            else:
                return None
        except ValidationError as error:
            form.add_error(None, error)
            return None
        except writes.WriteRefused as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.path)
        except APIException as error:  # raised by the API's serializer, which accept uses
            self.message_user(request, self.not_accepted(proposal, error), messages.ERROR)
            return HttpResponseRedirect(request.path)
        return HttpResponseRedirect(reverse("admin:events_eventproposal_changelist"))

    @staticmethod
    def not_accepted(proposal, error):
        if error.status_code == 409:
            current = Event.objects.filter(pk=proposal.event_id).values_list("version", flat=True)
            return (
                f"Not accepted: this proposal was made on version {proposal.based_on_version} "
                f"of the event, which has changed since (it is at version {current.first()} "
                "now), and accepting it would undo that change. Nothing was written and the "
                "proposal still waits: reject it, saying why, so that the curator can propose "
                "the change again on the current version."
            )
        problems = "; ".join(messages_in(error.detail))
        return (
            f"Not accepted: the proposed event is no longer valid ({problems}). Nothing was "
            "written and the proposal still waits: reject it, saying why."
        )


def messages_in(detail, field=None):
    """The messages of an API error's detail (nested dicts and lists), each with its field."""
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in messages_in(value, key)]
    if isinstance(detail, list):
        return [m for value in detail for m in messages_in(value, field)]
    return [f"{field}: {detail}" if field and field != "non_field_errors" else str(detail)]


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
    fields = ["kind", "name", "slug", "country", "description", "taking_part_in", "seen_version"]
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
        inlines = [OfficeInline] if obj.kind != ActorKind.BLOC else []
        if obj.kind == ActorKind.BLOC or obj.memberships.exists():
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
