"""What the admin's pages share: autocomplete without a query per row, forms that carry the
version they were opened at, the write path's refusals as messages, and child rows' history
on their parent's history page."""

from django import forms
from django.contrib import messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from .. import writes
from ..models import (
    ConcurrentEditError,
    DatePrecision,
    Event,
    ReviewState,
)
from ..models.events import EXPELLED

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
    publish, and the constraint's own message for the numbers expelled."""

    stored_fields = ("review_state",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in EXPELLED:
            if name in self.fields:
                # The constraint's message, on the field that breaks it, rather than the form
                # field's "greater than or equal to 0".
                field = self.fields[name]
                field.min_value = None
                field.validators = [self._expelled_positive]
                field.widget.attrs.pop("min", None)

    @staticmethod
    def _expelled_positive(value):
        if value is not None and value < 1:
            raise ValidationError(Event.constraint_message("event_expelled_positive"))

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
