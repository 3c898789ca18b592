"""The change log of the sync feed and the triggers that write it.

Statement-level AFTER triggers with transition tables on gis_core_address and areas_area log
every written row in one INSERT … SELECT, whoever writes (services, bulk imports, the area
assignment, `addresses_move`). An UPDATE is logged only for rows whose stored data changed
(bookkeeping and generated columns left out), so an import re-run or a no-op save logs nothing.
The sync layer (7) owns these triggers on the lower apps' tables: only it reads the log.
"""

import django.db.models.functions.datetime
from django.db import migrations, models

# The columns whose change is a change a GIS sees (not updated_at, last_import_id or the
# generated ones). Compared as row values: to_jsonb of whole rows cost ~100 µs a row.
# A new column that a GIS should see must be added here (a later migration).
ADDRESS_COLUMNS = (
    "location, street, house_number, unit, postcode, city, country, premises_type, units,"
    " status, status_changed_at, area_id, attributes"
)
AREA_COLUMNS = (
    "name, code, boundary, phase, phase_changed_at, parent_id, target_take_rate, is_active,"
    " deploys_at_target, attributes, expected_connection_from, expected_connection_until"
)


def row(alias: str, columns: str) -> str:
    return "(" + ", ".join(f"{alias}.{c.strip()}" for c in columns.split(",")) + ")"


def log_function(name: str, entity: str, columns: str, retire: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO integrations_sync_change (entity, entity_id, op, xid, changed_at)
        SELECT '{entity}', n.id, 'insert', pg_current_xact_id()::text::bigint, now()
          FROM new_rows n ORDER BY n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO integrations_sync_change (entity, entity_id, op, xid, changed_at)
        SELECT '{entity}', n.id, CASE WHEN {retire} THEN 'retire' ELSE 'update' END,
               pg_current_xact_id()::text::bigint, now()
          FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE {row("n", columns)} IS DISTINCT FROM {row("o", columns)}
         ORDER BY n.id;
    ELSE
        INSERT INTO integrations_sync_change (entity, entity_id, op, xid, changed_at)
        SELECT '{entity}', o.id, 'delete', pg_current_xact_id()::text::bigint, now()
          FROM old_rows o ORDER BY o.id;
    END IF;
    RETURN NULL;
END $$;
"""


def triggers(table: str, function: str) -> str:
    return f"""
CREATE TRIGGER {table}_sync_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {table}_sync_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {table}_sync_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
"""


def drop(table: str, function: str) -> str:
    return f"""
DROP TRIGGER IF EXISTS {table}_sync_insert ON {table};
DROP TRIGGER IF EXISTS {table}_sync_update ON {table};
DROP TRIGGER IF EXISTS {table}_sync_delete ON {table};
DROP FUNCTION IF EXISTS {function}();
"""


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
