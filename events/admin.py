from django.contrib import admin

from .models import Actor, Country, Event, Source

admin.site.register([Country, Actor, Source, Event])
