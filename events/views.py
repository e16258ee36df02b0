from django.db.models import Count
from django.shortcuts import render

from .models import Event, EventKind


def home(request):
    """The home page: what the database holds, published events by kind, the latest ones."""
    published = Event.objects.published()
    counts = dict(published.order_by().values_list("kind").annotate(n=Count("id")))
    kinds = [(label, counts.get(value, 0)) for value, label in EventKind.choices]
    latest = published.select_related("location_country").order_by("-start_date", "-id")[:10]
    return render(
        request,
        "events/home.html",
        {"kinds": kinds, "total": sum(counts.values()), "latest": latest},
    )
