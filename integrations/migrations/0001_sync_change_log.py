"""The change log of the sync feed and the triggers that write it.

Statement-level AFTER triggers with transition tables on gis_core_address and areas_area log
every written row in one INSERT … SELECT, whoever writes (services, bulk imports, the area
assignment, `addresses_move`). An UPDATE is logged only for rows whose stored data changed
(bookkeeping and generated columns left out), so an import re-run or a no-op save logs nothing.
The sync layer (7) owns these triggers on the lower apps' tables: only it reads the log.
"""

import django.db.models.functions.datetime
from django.db import migrations, models

from integrations.migrations._sync_log import (
    ADDRESS_COLUMNS,
    AREA_COLUMNS,
    drop,
    log_function,
    triggers,
)

FORWARD = (
    log_function("oanm_sync_log_address", "address", ADDRESS_COLUMNS, "false")
    + triggers("gis_core_address", "oanm_sync_log_address")
    + log_function("oanm_sync_log_area", "area", AREA_COLUMNS, "o.is_active AND NOT n.is_active")
    + triggers("areas_area", "oanm_sync_log_area")
)
BACKWARD = drop("gis_core_address", "oanm_sync_log_address") + drop(
    "areas_area", "oanm_sync_log_area"
)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("gis_core", "0005_address_search"),
        ("areas", "0006_area_expected_connection_window"),
    ]

    operations = [
        migrations.CreateModel(
            name='Change',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entity', models.CharField(choices=[('address', 'address'), ('area', 'area')], max_length=10)),
                ('entity_id', models.BigIntegerField()),
                ('op', models.CharField(choices=[('insert', 'insert'), ('update', 'update'), ('delete', 'delete'), ('retire', 'retire')], max_length=10)),
                ('xid', models.BigIntegerField()),
                ('changed_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
            ],
            options={
                'db_table': 'integrations_sync_change',
                'ordering': ['xid', 'id'],
                'indexes': [models.Index(fields=['xid', 'id'], name='sync_change_cursor')],
                'constraints': [models.CheckConstraint(condition=models.Q(('entity__in', ['address', 'area'])), name='sync_change_entity_valid'), models.CheckConstraint(condition=models.Q(('op__in', ['insert', 'update', 'delete', 'retire'])), name='sync_change_op_valid')],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
