"""The address-tile pyramid: per zoom 0–13, grid cells of 1/16 tile with their counts.

Address tiles below zoom 14 draw these cells instead of single addresses (gis_core.tiles),
so a zoom-8 tile over a million addresses reads a few hundred rows instead of counting
a million. Triggers on the address table keep the cells right whoever writes: the
services, the bulk importer's SQL, the area assignment.

Each writing statement counts its changes per zoom-13 cell, rolls them up zoom by zoom
(a cell holds the 2 × 2 cells under it) and, in one statement, appends the changes to
every zoom while merging the touched cells' rows that it can lock without waiting
(`FOR UPDATE SKIP LOCKED`): concurrent writers never queue behind each other on the few
cells of the low zooms. A cell's figures are the sum of its rows.

- INSERT / DELETE: statement triggers read the transition table (one GROUP BY);
- UPDATE: a row trigger fires only when location, status or units change (the area
  assignment rewriting a million `area_id`s costs nothing here) and stages the old and
  the new state; a statement trigger rolls the staged rows up.
"""

from django.db import migrations, models

# Frozen here; gis_core.tiles reads the pyramid with the same numbers.
HALF = 20037508.342789244  # half the width of EPSG:3857, metres
TOP_ZOOM = 13  # the pyramid's finest zoom; from zoom 14 tiles draw single addresses
BASE_CELLS = 1 << (TOP_ZOOM + 4)  # 16 cells per tile side
BASE_CELL_SIZE = 2 * HALF / BASE_CELLS
STATUSES = ["planned", "awaiting_deployment", "in_deployment", "connected", "activated"]
COUNTS = ["addresses", "homes", *STATUSES]
VALUES = ", ".join([*COUNTS, "sum_x", "sum_y"])
COLUMNS = f"cell_x, cell_y, {VALUES}"


def _cell(metres_from_edge: str) -> str:
    """The zoom-13 cell index of an offset from the world's west (or north) edge."""
    return (
        f"least(greatest(floor(({metres_from_edge}) / {BASE_CELL_SIZE!r})::integer, 0),"
        f" {BASE_CELLS - 1})"
    )


def _cells_of(point: str) -> str:
    return f"{_cell(f'ST_X({point}) + {HALF}')}, {_cell(f'{HALF} - ST_Y({point})')}"


def _count_rows(table: str, sign: str) -> str:
    """A table of addresses counted per zoom-13 cell, each count multiplied by `sign`."""
    point = "location_3857"
    statuses = ", ".join(
        f"{sign}count(*) FILTER (WHERE status = '{status}')" for status in STATUSES
    )
    return (
        f"SELECT {_cells_of(point)}, {sign}count(*), {sign}sum(units), {statuses},"
        f" {sign}sum(ST_X({point})), {sign}sum(ST_Y({point}))"
        f" FROM {table} GROUP BY 1, 2"
    )


def _one_row(row: str, sign: str) -> str:
    point = f"{row}.location_3857"
    statuses = ", ".join(f"{sign}({row}.status = '{status}')::integer" for status in STATUSES)
    return (
        f"({_cells_of(point)}, {sign}1, {sign}{row}.units, {statuses},"
        f" {sign}ST_X({point}), {sign}ST_Y({point}))"
    )


def _sums() -> str:
    counts = [f"sum({column})::integer AS {column}" for column in COUNTS]
    return ", ".join([*counts, "sum(sum_x) AS sum_x", "sum(sum_y) AS sum_y"])


NOT_EMPTY = " OR ".join(
    [f"{column} <> 0" for column in COUNTS] + ["abs(sum_x) > 0.01", "abs(sum_y) > 0.01"]
)


def _roll_up(changes: str) -> str:
    """One statement: the changes (zoom-13 cells) into every zoom, merged where lockable."""
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
        DELETE FROM gis_core_addresscellcount AS stored
         WHERE stored.id IN (
               SELECT candidate.id
                 FROM gis_core_addresscellcount AS candidate
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
    INSERT INTO gis_core_addresscellcount (zoom, {COLUMNS})
    SELECT zoom, {COLUMNS}
      FROM merged
     WHERE {NOT_EMPTY}
     ORDER BY zoom, cell_x, cell_y;
"""


def _trigger_function(name: str, body: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger
LANGUAGE plpgsql
SET work_mem = '64MB'
AS $$
BEGIN
{body}
    RETURN NULL;
END $$;
"""


FORWARD = f"""
-- The old and new state of the rows the running UPDATE changed; empty between statements.
CREATE UNLOGGED TABLE gis_core_addresscell_staged (
    cell_x integer NOT NULL,
    cell_y integer NOT NULL,
    {", ".join(f"{column} integer NOT NULL" for column in COUNTS)},
    sum_x double precision NOT NULL,
    sum_y double precision NOT NULL
);
{_trigger_function("gis_core_address_cells_after_insert", _roll_up(_count_rows("new_rows", "")))}
{_trigger_function("gis_core_address_cells_after_delete", _roll_up(_count_rows("old_rows", "-")))}
{
    _trigger_function(
        "gis_core_address_cells_stage_update",
        f'''    INSERT INTO gis_core_addresscell_staged ({COLUMNS})
    VALUES {_one_row("OLD", "-")},
           {_one_row("NEW", "")};''',
    )
}
{
    _trigger_function(
        "gis_core_address_cells_after_update",
        f'''    IF EXISTS (SELECT FROM gis_core_addresscell_staged) THEN
    {_roll_up("DELETE FROM gis_core_addresscell_staged RETURNING *")}
    END IF;''',
    )
}
-- Recount the whole pyramid from the addresses (after a load that bypassed the triggers).
CREATE FUNCTION gis_core_address_cells_rebuild() RETURNS void
LANGUAGE plpgsql
SET work_mem = '64MB'
AS $$
BEGIN
    DELETE FROM gis_core_addresscellcount;
{_roll_up(_count_rows("gis_core_address", ""))}
END $$;

CREATE TRIGGER address_cells_after_insert AFTER INSERT ON gis_core_address
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION gis_core_address_cells_after_insert();
CREATE TRIGGER address_cells_after_delete AFTER DELETE ON gis_core_address
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION gis_core_address_cells_after_delete();
CREATE TRIGGER address_cells_stage_update AFTER UPDATE ON gis_core_address
    FOR EACH ROW
    WHEN (OLD.location IS DISTINCT FROM NEW.location
          OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.units IS DISTINCT FROM NEW.units)
    EXECUTE FUNCTION gis_core_address_cells_stage_update();
CREATE TRIGGER address_cells_after_update AFTER UPDATE ON gis_core_address
    FOR EACH STATEMENT EXECUTE FUNCTION gis_core_address_cells_after_update();

SELECT gis_core_address_cells_rebuild();
"""

BACKWARD = """
DROP TRIGGER address_cells_after_update ON gis_core_address;
DROP TRIGGER address_cells_stage_update ON gis_core_address;
DROP TRIGGER address_cells_after_delete ON gis_core_address;
DROP TRIGGER address_cells_after_insert ON gis_core_address;
DROP FUNCTION gis_core_address_cells_rebuild();
DROP FUNCTION gis_core_address_cells_after_update();
DROP FUNCTION gis_core_address_cells_stage_update();
DROP FUNCTION gis_core_address_cells_after_delete();
DROP FUNCTION gis_core_address_cells_after_insert();
DROP TABLE gis_core_addresscell_staged;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("gis_core", "0002_address_location_3857"),
    ]

    operations = [
        migrations.CreateModel(
            name="AddressCellCount",
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
                ("addresses", models.IntegerField(default=0)),
                ("homes", models.IntegerField(default=0)),
                ("planned", models.IntegerField(default=0)),
                ("awaiting_deployment", models.IntegerField(default=0)),
                ("in_deployment", models.IntegerField(default=0)),
                ("connected", models.IntegerField(default=0)),
                ("activated", models.IntegerField(default=0)),
                (
                    "sum_x",
                    models.FloatField(default=0, help_text="Sum of the addresses' EPSG:3857 x."),
                ),
                (
                    "sum_y",
                    models.FloatField(default=0, help_text="Sum of the addresses' EPSG:3857 y."),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["zoom", "cell_x", "cell_y"], name="address_cell_count_cell"
                    )
                ],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
