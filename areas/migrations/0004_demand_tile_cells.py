"""The demand-tile pyramid: live interests and orders per grid cell of 1/16 tile, zooms 0–12.

Demand tiles below zoom 13 draw these cells (areas.tiles): a zoom-8 tile over a county's
demand reads a few hundred rows instead of joining hundreds of thousands of interests and
signups to their addresses (8–9 s measured). It is the address pyramid's design
(gis_core/migrations/0003_address_tile_cells.py) on the demand book:

- each interest and signup keeps a copy of its address's EPSG:3857 location, set by a
  BEFORE trigger on every insert and update, and rewritten when the address moves; live
  demand is then found by a partial GiST index, with no join to the addresses;
- statement triggers count inserted and deleted rows per zoom-12 cell; a row trigger
  stages a row whose liveness (`withdrawn_at`) or location changes; each writing
  statement rolls its changes up zoom by zoom, appending rows and merging the touched
  cells' rows it can lock without waiting. A cell's figures are the sum of its rows.
"""

import django.contrib.gis.db.models.fields
import django.contrib.postgres.indexes
from django.db import migrations, models

HALF = 20037508.342789244  # half the width of EPSG:3857, metres
TOP_ZOOM = 12  # from zoom 13 demand tiles draw single interests and orders
BASE_CELLS = 1 << (TOP_ZOOM + 4)  # 16 cells per tile side
BASE_CELL_SIZE = 2 * HALF / BASE_CELLS
COUNTS = ["interests", "orders"]
VALUES = "interests, orders, sum_x, sum_y"
COLUMNS = f"cell_x, cell_y, {VALUES}"
KINDS = {"interest": "areas_interest", "order": "areas_signup"}


def _cell(metres_from_edge: str) -> str:
    return (
        f"least(greatest(floor(({metres_from_edge}) / {BASE_CELL_SIZE!r})::integer, 0),"
        f" {BASE_CELLS - 1})"
    )


def _cells_of(point: str) -> str:
    return f"{_cell(f'ST_X({point}) + {HALF}')}, {_cell(f'{HALF} - ST_Y({point})')}"


def _counted(kind: str, sign: str, amount: str = "count(*)") -> str:
    interests = f"{sign}{amount}" if kind == "interest" else "0"
    orders = f"{sign}{amount}" if kind == "order" else "0"
    return f"{interests}, {orders}"


def _count_rows(table: str, kind: str, sign: str) -> str:
    """Live, located demand rows of a table counted per zoom-12 cell, times `sign`."""
    point = "location_3857"
    return (
        f"SELECT {_cells_of(point)}, {_counted(kind, sign)},"
        f" {sign}sum(ST_X({point})), {sign}sum(ST_Y({point}))"
        f" FROM {table} WHERE withdrawn_at IS NULL AND {point} IS NOT NULL GROUP BY 1, 2"
    )


def _stage_one(row: str, kind: str, sign: str) -> str:
    point = f"{row}.location_3857"
    return f"""
    IF {row}.withdrawn_at IS NULL AND {point} IS NOT NULL THEN
        INSERT INTO areas_demandcell_staged ({COLUMNS})
        VALUES ({_cells_of(point)}, {_counted(kind, sign, "1")},
                {sign}ST_X({point}), {sign}ST_Y({point}));
    END IF;"""


def _sums() -> str:
    counts = [f"sum({column})::integer AS {column}" for column in COUNTS]
    return ", ".join([*counts, "sum(sum_x) AS sum_x", "sum(sum_y) AS sum_y"])


NOT_EMPTY = "interests <> 0 OR orders <> 0 OR abs(sum_x) > 0.01 OR abs(sum_y) > 0.01"


def _roll_up(changes: str) -> str:
    """One statement: the changes (zoom-12 cells) into every zoom, merged where lockable."""
    levels = ",\n".join(
        [f"    level{TOP_ZOOM} AS (SELECT cell_x, cell_y, {_sums()} FROM changes GROUP BY 1, 2)"]
        + [
            f"    level{zoom} AS (SELECT cell_x >> 1 AS cell_x, cell_y >> 1 AS cell_y, {_sums()}"
            f" FROM level{zoom + 1} GROUP BY 1, 2)"
            for zoom in range(TOP_ZOOM - 1, -1, -1)
        ]
    )
    delta = "\n     UNION ALL ".join(
        f"SELECT {zoom}::smallint AS zoom, cell_x, cell_y, {VALUES} FROM level{zoom}"
        for zoom in range(TOP_ZOOM + 1)
    )
    return f"""
    WITH changes ({COLUMNS}) AS (
        {changes}
    ),
{levels},
    delta AS (
        {delta}
    ), merged_away AS (
        DELETE FROM areas_demandcellcount AS stored
         WHERE stored.id IN (
               SELECT candidate.id
                 FROM areas_demandcellcount AS candidate
                 JOIN delta USING (zoom, cell_x, cell_y)
                  FOR UPDATE OF candidate SKIP LOCKED)
        RETURNING stored.zoom, stored.cell_x, stored.cell_y, {VALUES}
    ), merged AS (
        SELECT zoom, cell_x, cell_y, {_sums()}
          FROM (SELECT zoom, cell_x, cell_y, {VALUES} FROM delta
                UNION ALL
                SELECT zoom, cell_x, cell_y, {VALUES} FROM merged_away) AS parts
         GROUP BY zoom, cell_x, cell_y
    )
    INSERT INTO areas_demandcellcount (zoom, {COLUMNS})
    SELECT zoom, {COLUMNS}
      FROM merged
     WHERE {NOT_EMPTY}
     ORDER BY zoom, cell_x, cell_y;
"""


def _function(name: str, body: str, returns: str = "NULL") -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger
LANGUAGE plpgsql
SET work_mem = '64MB'
AS $$
BEGIN
{body}
    RETURN {returns};
END $$;
"""


def _kind_sql(kind: str, table: str) -> str:
    prefix = f"areas_demand_cells_{kind}"
    return f"""
{_function(f"{prefix}_after_insert", _roll_up(_count_rows("new_rows", kind, "")))}
{_function(f"{prefix}_after_delete", _roll_up(_count_rows("old_rows", kind, "-")))}
{_function(f"{prefix}_stage_update", _stage_one("OLD", kind, "-") + _stage_one("NEW", kind, ""))}
CREATE TRIGGER demand_locate BEFORE INSERT OR UPDATE ON {table}
    FOR EACH ROW EXECUTE FUNCTION areas_demand_locate();
CREATE TRIGGER demand_cells_after_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_after_insert();
CREATE TRIGGER demand_cells_after_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_after_delete();
CREATE TRIGGER demand_cells_stage_update AFTER UPDATE ON {table}
    FOR EACH ROW
    WHEN ((OLD.withdrawn_at IS NULL) IS DISTINCT FROM (NEW.withdrawn_at IS NULL)
          OR OLD.location_3857 IS DISTINCT FROM NEW.location_3857)
    EXECUTE FUNCTION {prefix}_stage_update();
CREATE TRIGGER demand_cells_after_update AFTER UPDATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION areas_demand_cells_after_update();
"""


FORWARD = f"""
-- Every demand row keeps its address's location (the demand tiles read it without a join).
CREATE FUNCTION areas_demand_locate() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.location_3857 := (SELECT location_3857 FROM gis_core_address WHERE id = NEW.address_id);
    RETURN NEW;
END $$;

UPDATE areas_interest AS interest SET location_3857 = address.location_3857
  FROM gis_core_address AS address WHERE address.id = interest.address_id;
UPDATE areas_signup AS signup SET location_3857 = address.location_3857
  FROM gis_core_address AS address WHERE address.id = signup.address_id;

-- Changes of the running UPDATE statement; empty between statements.
CREATE UNLOGGED TABLE areas_demandcell_staged (
    cell_x integer NOT NULL,
    cell_y integer NOT NULL,
    interests integer NOT NULL,
    orders integer NOT NULL,
    sum_x double precision NOT NULL,
    sum_y double precision NOT NULL
);
{
    _function(
        "areas_demand_cells_after_update",
        f'''    IF EXISTS (SELECT FROM areas_demandcell_staged) THEN
    {_roll_up("DELETE FROM areas_demandcell_staged RETURNING *")}
    END IF;''',
    )
}
{"".join(_kind_sql(kind, table) for kind, table in KINDS.items())}
-- An address that moves takes its demand with it.
CREATE FUNCTION areas_demand_follow_address() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE areas_interest SET location_3857 = NEW.location_3857 WHERE address_id = NEW.id;
    UPDATE areas_signup SET location_3857 = NEW.location_3857 WHERE address_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER demand_follows_address AFTER UPDATE ON gis_core_address
    FOR EACH ROW WHEN (OLD.location IS DISTINCT FROM NEW.location)
    EXECUTE FUNCTION areas_demand_follow_address();

-- Recount the whole pyramid from the demand book (after a load that bypassed the triggers).
CREATE FUNCTION areas_demand_cells_rebuild() RETURNS void
LANGUAGE plpgsql
SET work_mem = '64MB'
AS $$
BEGIN
    DELETE FROM areas_demandcellcount;
{
    _roll_up(
        _count_rows("areas_interest", "interest", "")
        + " UNION ALL "
        + _count_rows("areas_signup", "order", "")
    )
}
END $$;

SELECT areas_demand_cells_rebuild();
"""

BACKWARD = (
    """
DROP TRIGGER demand_follows_address ON gis_core_address;
DROP FUNCTION areas_demand_follow_address();
DROP FUNCTION areas_demand_cells_rebuild();
"""
    + "".join(
        f"""
DROP TRIGGER demand_cells_after_update ON {table};
DROP TRIGGER demand_cells_stage_update ON {table};
DROP TRIGGER demand_cells_after_delete ON {table};
DROP TRIGGER demand_cells_after_insert ON {table};
DROP TRIGGER demand_locate ON {table};
DROP FUNCTION areas_demand_cells_{kind}_stage_update();
DROP FUNCTION areas_demand_cells_{kind}_after_delete();
DROP FUNCTION areas_demand_cells_{kind}_after_insert();
"""
        for kind, table in KINDS.items()
    )
    + """
DROP FUNCTION areas_demand_cells_after_update();
DROP TABLE areas_demandcell_staged;
DROP FUNCTION areas_demand_locate();
"""
)


class Migration(migrations.Migration):
    dependencies = [
        ("areas", "0003_area_boundary_3857"),
        ("gis_core", "0003_address_tile_cells"),
    ]

    operations = [
        migrations.CreateModel(
            name="DemandCellCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("zoom", models.PositiveSmallIntegerField()),
                ("cell_x", models.IntegerField()),
                ("cell_y", models.IntegerField()),
                ("interests", models.IntegerField(default=0)),
                ("orders", models.IntegerField(default=0)),
                (
                    "sum_x",
                    models.FloatField(default=0, help_text="Sum of the demand's EPSG:3857 x."),
                ),
                (
                    "sum_y",
                    models.FloatField(default=0, help_text="Sum of the demand's EPSG:3857 y."),
                ),
            ],
        ),
        migrations.AddField(
            model_name="interest",
            name="location_3857",
            field=django.contrib.gis.db.models.fields.PointField(
                blank=True, editable=False, null=True, spatial_index=False, srid=3857
            ),
        ),
        migrations.AddField(
            model_name="signup",
            name="location_3857",
            field=django.contrib.gis.db.models.fields.PointField(
                blank=True, editable=False, null=True, spatial_index=False, srid=3857
            ),
        ),
        migrations.AddIndex(
            model_name="interest",
            index=django.contrib.postgres.indexes.GistIndex(
                condition=models.Q(("withdrawn_at__isnull", True)),
                fields=["location_3857"],
                name="interest_live_location",
            ),
        ),
        migrations.AddIndex(
            model_name="signup",
            index=django.contrib.postgres.indexes.GistIndex(
                condition=models.Q(("withdrawn_at__isnull", True)),
                fields=["location_3857"],
                name="signup_live_location",
            ),
        ),
        migrations.AddIndex(
            model_name="demandcellcount",
            index=models.Index(fields=["zoom", "cell_x", "cell_y"], name="demand_cell_count_cell"),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
