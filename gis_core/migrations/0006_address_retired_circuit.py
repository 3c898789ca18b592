"""Retired addresses and an address's circuit.

- `Address.retired_at` / `retired_reason`: an address gone from its GIS of record is retired,
  never deleted (orders and history keep it). A partial index finds the retired ones.
- `Address.circuit_ref` / `circuit_name`: the circuit the GIS links to the address.
- The address-tile pyramid (migration 0003) counts live addresses only: its trigger
  functions are replaced by ones that leave retired rows out, and the row trigger on UPDATE
  also fires when `retired_at` changes (retiring takes an address off the map, reinstating
  puts it back). No address is retired yet, so the stored cells stay right.
"""

import importlib

from django.db import migrations, models

_cells = importlib.import_module("gis_core.migrations.0003_address_tile_cells")

LIVE = "retired_at IS NULL"


def _replace(sql: str) -> str:
    return sql.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")


def _functions(*, live_only: bool) -> str:
    def rows(table: str) -> str:
        return f"(SELECT * FROM {table} WHERE {LIVE}) AS live" if live_only else table

    old_row = _cells._one_row("OLD", "-")
    new_row = _cells._one_row("NEW", "")
    if live_only:
        stage = f"""    IF OLD.{LIVE} THEN
        INSERT INTO gis_core_addresscell_staged ({_cells.COLUMNS}) VALUES {old_row};
    END IF;
    IF NEW.{LIVE} THEN
        INSERT INTO gis_core_addresscell_staged ({_cells.COLUMNS}) VALUES {new_row};
    END IF;"""
    else:
        stage = f"""    INSERT INTO gis_core_addresscell_staged ({_cells.COLUMNS})
    VALUES {old_row},
           {new_row};"""
    insert = _cells._roll_up(_cells._count_rows(rows("new_rows"), ""))
    delete = _cells._roll_up(_cells._count_rows(rows("old_rows"), "-"))
    rebuild = _cells._roll_up(_cells._count_rows(rows("gis_core_address"), ""))
    watched = "OLD.location IS DISTINCT FROM NEW.location OR OLD.status IS DISTINCT FROM" + (
        " NEW.status OR OLD.units IS DISTINCT FROM NEW.units"
    )
    if live_only:
        watched += " OR OLD.retired_at IS DISTINCT FROM NEW.retired_at"
    return f"""
{_replace(_cells._trigger_function("gis_core_address_cells_after_insert", insert))}
{_replace(_cells._trigger_function("gis_core_address_cells_after_delete", delete))}
{_replace(_cells._trigger_function("gis_core_address_cells_stage_update", stage))}
CREATE OR REPLACE FUNCTION gis_core_address_cells_rebuild() RETURNS void
LANGUAGE plpgsql
SET work_mem = '64MB'
AS $$
BEGIN
    DELETE FROM gis_core_addresscellcount;
{rebuild}
END $$;
DROP TRIGGER address_cells_stage_update ON gis_core_address;
CREATE TRIGGER address_cells_stage_update AFTER UPDATE ON gis_core_address
    FOR EACH ROW
    WHEN ({watched})
    EXECUTE FUNCTION gis_core_address_cells_stage_update();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("gis_core", "0005_address_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="address",
            name="circuit_name",
            field=models.CharField(blank=True, db_default="", default="", max_length=200),
        ),
        migrations.AddField(
            model_name="address",
            name="circuit_ref",
            field=models.CharField(blank=True, db_default="", default="", max_length=100),
        ),
        migrations.AddField(
            model_name="address",
            name="retired_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="address",
            name="retired_reason",
            field=models.CharField(
                blank=True, db_default="", default="", editable=False, max_length=200
            ),
        ),
        migrations.AddIndex(
            model_name="address",
            index=models.Index(
                fields=["retired_at"],
                condition=models.Q(retired_at__isnull=False),
                name="address_retired",
            ),
        ),
        migrations.RunSQL(_functions(live_only=True), _functions(live_only=False)),
    ]
