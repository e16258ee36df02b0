"""Routes of the REST API, included under /api/ (namespace "api")."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from . import views as api

app_name = "api"


class Router(DefaultRouter):
    APIRootView = api.ApiRoot


router = Router()
router.register("events", api.EventViewSet, basename="event")
router.register("actors", api.ActorViewSet, basename="actor")
router.register("countries", api.CountryViewSet, basename="country")
router.register("sources", api.SourceViewSet, basename="source")
router.register("proposals", api.ProposalViewSet, basename="proposal")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("aggregates/events/", api.EventAggregateView.as_view(), name="event-aggregates"),
    path("dyads/<str:a>/<str:b>/", api.DyadView.as_view(), name="dyad"),
    *router.urls,
]
