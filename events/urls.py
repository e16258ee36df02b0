from django.urls import path

from . import index_pages, views

urlpatterns = [
    path("", views.home, name="home"),
    path("events/", views.event_list, name="event-list"),
    path("events/<slug:slug>/", views.event_detail, name="event-detail"),
    path("countries/", index_pages.country_index, name="country-index"),
    path("countries/<str:code>/", views.country_detail, name="country-detail"),
    path("actors/", index_pages.actor_index, name="actor-index"),
    path("actors/<slug:slug>/", views.actor_detail, name="actor-detail"),
    path("sources/", index_pages.source_index, name="source-index"),
    path("sources/<int:pk>/", views.source_detail, name="source-detail"),
    path("codes/", views.codes, name="codes"),
    path("dyads/<str:a>/<str:b>/", views.dyad_detail, name="dyad-detail"),
]
