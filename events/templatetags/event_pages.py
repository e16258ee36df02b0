"""Template helpers for the public pages; they read prefetched rows and run no query."""

from django import template
from django.urls import reverse

register = template.Library()


@register.filter
def side(event, role):
    """The countries in `role` (initiator, target) of an event, as names and page addresses.

    An actor with no country (a group of states, an organisation) stands for itself.
    """
    seen, found = set(), []
    for participation in event.participations.all():
        if participation.role != role:
            continue
        actor = participation.actor
        if actor.country_id:
            country = actor.country
            key, name = ("country", country.code), country.name
            url = reverse("country-detail", kwargs={"code": country.code})
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
