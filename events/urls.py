from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("events/", views.event_list, name="event-list"),
    path("events/<slug:slug>/", views.event_detail, name="event-detail"),
    path("countries/<str:code>/", views.country_detail, name="country-detail"),
    path("actors/<slug:slug>/", views.actor_detail, name="actor-detail"),
    path("sources/<int:pk>/", views.source_detail, name="source-detail"),
    path("dyads/<str:a>/<str:b>/", views.dyad_detail, name="dyad-detail"),
]
