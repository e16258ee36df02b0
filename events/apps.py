from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EventsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "events"
    verbose_name = "Diplomatic events"

    def ready(self):
        from .groups import ensure_groups
        from .response_cache import connect_signals

        # Runs after auth's own handler has created the permissions of every app.
        post_migrate.connect(ensure_groups, dispatch_uid="events.ensure_groups")
        # Every committed write moves the anonymous response cache's data version on.
        connect_signals()
