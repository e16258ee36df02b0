"""The WSGI application, for gunicorn (`make serve`) or any WSGI server.

Each worker imports this module once, then serves many requests: the garbage collector is
tuned for that after the application is loaded (diplomacy/serving.py says why).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "diplomacy.settings")

application = get_wsgi_application()

if os.environ.get("DJANGO_GC_TUNING", "1") != "0":
    from diplomacy.serving import tune_gc

    tune_gc()
