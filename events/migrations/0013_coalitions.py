"""Coalitions: an actor for several states acting together, with its named members (by
Membership) and a lower bound of how many (`member_count_low`).

The involvement rule changes with it (events/models/derived.py, CountryInvolvement): a person
involves the state of an office held at the time of the event, no longer the state of their
citizenship, and only states and agencies involve their country. The events that have a
participant of another kind with a country are derived again (their involvement rows and
country-id columns), in batches of 500 ids; on millions of events plan downtime for it, and
run `VACUUM ANALYZE` afterwards.
"""

import django.db.models.deletion
from django.db import migrations, models

AFFECTED = """
SELECT DISTINCT p.event_id FROM events_participation p
JOIN events_actor a ON a.id = p.actor_id
WHERE a.country_id IS NOT NULL AND a.kind NOT IN ('state', 'agency')
ORDER BY p.event_id
"""


def derive_again(apps, schema_editor):
    from events.models.derived import refresh_involvements

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(AFFECTED)
        event_ids = [row[0] for row in cursor.fetchall()]
    if event_ids:
        refresh_involvements(event_ids, using=connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0012_expelled_estimates'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='actor',
            name='actor_kind_valid',
        ),
        migrations.AddField(
            model_name='actor',
            name='member_count_low',
            field=models.PositiveIntegerField(blank=True, help_text='For a coalition only: a lower bound of how many states it counts, as the sources give it ("more than 20 countries" is 21). Empty when not known.', null=True, verbose_name='members, at least'),
        ),
        migrations.AddField(
            model_name='historicalactor',
            name='member_count_low',
            field=models.PositiveIntegerField(blank=True, help_text='For a coalition only: a lower bound of how many states it counts, as the sources give it ("more than 20 countries" is 21). Empty when not known.', null=True, verbose_name='members, at least'),
        ),
        migrations.AlterField(
            model_name='actor',
            name='country',
            field=models.ForeignKey(blank=True, help_text='The state a state actor or ministry belongs to; for a person, their citizenship (an office held at the time, not citizenship, makes a state a party).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='actors', to='events.country'),
        ),
        migrations.AlterField(
            model_name='actor',
            name='kind',
            field=models.CharField(choices=[('person', 'Person'), ('state', 'State or government'), ('agency', 'Ministry or agency'), ('organisation', 'International organisation'), ('bloc', 'Group of states'), ('coalition', 'Coalition of states'), ('academic', 'Academic institution or think tank'), ('media', 'Media')], max_length=20),
        ),
        migrations.AlterField(
            model_name='actor',
            name='member_countries',
            field=models.ManyToManyField(blank=True, help_text="For a group or a coalition of states: its members (a coalition's: those the sources name).", related_name='blocs', through='events.Membership', to='events.country'),
        ),
        migrations.AlterField(
            model_name='historicalactor',
            name='country',
            field=models.ForeignKey(blank=True, db_constraint=False, help_text='The state a state actor or ministry belongs to; for a person, their citizenship (an office held at the time, not citizenship, makes a state a party).', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='events.country'),
        ),
        migrations.AlterField(
            model_name='historicalactor',
            name='kind',
            field=models.CharField(choices=[('person', 'Person'), ('state', 'State or government'), ('agency', 'Ministry or agency'), ('organisation', 'International organisation'), ('bloc', 'Group of states'), ('coalition', 'Coalition of states'), ('academic', 'Academic institution or think tank'), ('media', 'Media')], max_length=20),
        ),
        migrations.AddConstraint(
            model_name='actor',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['person', 'state', 'agency', 'organisation', 'bloc', 'coalition', 'academic', 'media'])), name='actor_kind_valid', violation_error_message='Kind must be one of: person, state, agency, organisation, bloc, coalition, academic, media.'),
        ),
        migrations.AddConstraint(
            model_name='actor',
            constraint=models.CheckConstraint(condition=models.Q(('member_count_low__isnull', True), models.Q(('kind', 'coalition'), ('member_count_low__gte', 1)), _connector='OR'), name='actor_member_count_low_coalition', violation_error_message='Only a coalition has a number of members, at least 1.'),
        ),
        migrations.RunPython(derive_again, migrations.RunPython.noop, elidable=True),
    ]
