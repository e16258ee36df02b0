"""Curators' proposed changes to published events: the queue, the difference, accept, reject."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from rest_framework.exceptions import APIException

from .. import writes
from ..filters import whole_number
from ..models import (
    Event,
    EventProposal,
    LinkKind,
    ProposalState,
    Role,
)

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
    "expelled_low": "people expelled, low estimate",
    "expelled_best": "people expelled, best estimate",
    "expelled_high": "people expelled, high estimate",
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
