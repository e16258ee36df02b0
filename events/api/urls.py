"""Routes of the REST API, included under /api/ (namespace "api")."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from . import tokens
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
    # The split view serves Swagger UI's start-up script as a file (`?script=`), not inline,
    # as the Content-Security-Policy asks.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
    path("aggregates/events/", api.EventAggregateView.as_view(), name="event-aggregates"),
    path("dyads/<str:a>/<str:b>/", api.DyadView.as_view(), name="dyad"),
    path("auth/login/", tokens.LoginView.as_view(), name="login"),
    path("auth/tokens/", tokens.TokenListView.as_view(), name="tokens"),
    path("auth/tokens/<str:prefix>/", tokens.TokenRevokeView.as_view(), name="token"),
    path("auth/logout/", tokens.LogoutView.as_view(), name="logout"),
    path("auth/logoutall/", tokens.LogoutAllView.as_view(), name="logoutall"),
    *router.urls,
]
