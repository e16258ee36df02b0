"""Template helpers for the public pages; they read prefetched rows and run no query."""

from django import template
from django.urls import reverse

from events import glossary

register = template.Library()


@register.filter
def side(event, role):
    """The countries in `role` (initiator, target) of an event, as names and page addresses.

    A participant that acts for no country (a coalition, a group of states, an organisation, a
    person in no office of a state at the time) stands for itself: the country a participant
    acts for follows the involvement rule (Participation.acting_country).
    """
    seen, found = set(), []
    for participation in event.participations.all():
        if participation.role != role:
            continue
        actor = participation.actor
        country = participation.acting_country()
        if country:
            code, name = country
            key = ("country", code)
            url = reverse("country-detail", kwargs={"code": code})
        else:
            key, name = ("actor", actor.slug), actor.name
            url = reverse("actor-detail", kwargs={"slug": actor.slug})
        if key not in seen:
            seen.add(key)
            found.append({"name": name, "url": url})
    return found


@register.filter
def period(event):
    """An event's dates as text, at their precision: "14 March 2018", "May 2018", "2014–2016"."""
    start, end = event.start_date, event.end_date
    if event.date_precision == "year":
        return f"{start.year}–{end.year}" if end else str(start.year)
    if event.date_precision == "month":
        text = start.strftime("%B %Y")
        return f"{text} – {end.strftime('%B %Y')}" if end else text
    text = f"{start.day} {start.strftime('%B %Y')}"
    return f"{text} – {end.day} {end.strftime('%B %Y')}" if end else text


@register.filter
def status_note(event):
    """The status to show in brackets after an event's title ("planned", "postponed",
    "cancelled"), or "" when it occurred or when the title says it already: curators often
    write "(planned)" into the title, and every list would otherwise repeat it."""
    if event.status == "occurred":
        return ""
    note = event.get_status_display().lower()
    return "" if f"({note})" in event.title.lower() else note


@register.filter
def code_entries(event):
    """The event's codes with their names and their anchors on /codes/ (events/glossary)."""
    return glossary.event_codes(event)
