"""The codes researchers join on: ISO 3166-1 numeric, Correlates of War and Gleditsch-Ward.

The values are those of fixtures/countries.json (from the R package `countrycode`'s codelist;
Country's docstring names the files). `load_fixtures` writes them on every load; this
migration gives them to the countries of a database that already exists, matched by alpha-2
code, so that its filters and exports have the codes without a reload. A country the fixture
does not hold keeps empty codes.
"""

import json
from pathlib import Path

from django.db import migrations, models

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "countries.json"
CODES = ("iso_numeric", "cow_code", "gw_code")


def fill_codes(apps, schema_editor):
    Country = apps.get_model("events", "Country")
    rows = json.loads(FIXTURE.read_text(encoding="utf-8"))
    given = {row["fields"]["code"]: row["fields"] for row in rows}
    countries = list(Country.objects.filter(code__in=given))
    for country in countries:
        for name in CODES:
            setattr(country, name, given[country.code].get(name))
    Country.objects.bulk_update(countries, CODES)


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0010_versions_proposals_text_limits'),
    ]

    operations = [
        migrations.AddField(
            model_name='country',
            name='iso_numeric',
            field=models.CharField(blank=True, help_text='ISO 3166-1 numeric, three digits, e.g. 392.', max_length=3, null=True, unique=True, verbose_name='ISO numeric code'),
        ),
        migrations.AddField(
            model_name='country',
            name='cow_code',
            field=models.PositiveSmallIntegerField(blank=True, help_text='Correlates of War state number, e.g. 740; empty if not a COW state.', null=True, unique=True, verbose_name='COW code'),
        ),
        migrations.AddField(
            model_name='country',
            name='gw_code',
            field=models.PositiveSmallIntegerField(blank=True, help_text='Gleditsch-Ward state number, e.g. 740; empty if not a GW state.', null=True, unique=True, verbose_name='Gleditsch-Ward code'),
        ),
        migrations.AddConstraint(
            model_name='country',
            constraint=models.CheckConstraint(condition=models.Q(('iso_numeric__isnull', True), ('iso_numeric__regex', '^[0-9]{3}$'), _connector='OR'), name='country_iso_numeric_format', violation_error_message='The ISO numeric code is three digits, e.g. 036.'),
        ),
        migrations.AddConstraint(
            model_name='country',
            constraint=models.CheckConstraint(condition=models.Q(('cow_code__isnull', True), ('cow_code__gte', 1), _connector='OR'), name='country_cow_code_positive', violation_error_message='A COW state number is a positive whole number.'),
        ),
        migrations.AddConstraint(
            model_name='country',
            constraint=models.CheckConstraint(condition=models.Q(('gw_code__isnull', True), ('gw_code__gte', 1), _connector='OR'), name='country_gw_code_positive', violation_error_message='A Gleditsch-Ward state number is a positive whole number.'),
        ),
        migrations.RunPython(fill_codes, migrations.RunPython.noop, elidable=True),
    ]
