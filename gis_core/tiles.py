"""Address vector tiles, made by PostGIS (`ST_AsMVT` over `ST_TileEnvelope`, in EPSG:3857).

One layer, `addresses`:

- from zoom 14 (`POINTS_FROM_ZOOM`): one point per address, read from the stored
  `location_3857` column (no transform per request), the address id as the feature id,
  and properties `status`,
  `premises_type`, `units` and `area_id` (absent when the address is in no area), and
  from zoom 15 (`LABELS_FROM_ZOOM`) its `label` too;
- below zoom 14: one point per grid cell of 1/16 tile (16 px on a 256-px tile) that holds
  addresses, at the cell's addresses' mean position, with `count` (addresses), `homes`
  (units), a count per status (`planned`, `awaiting_deployment`, `in_deployment`,
  `connected`, `activated`) and `status`, the dominant status (ties go to the status
  further along the lifecycle), so a map colours cells and points alike. Cells come
  from the pyramid the database keeps in `AddressCellCount` (migration 0003): a tile
  reads at most 256 cells whatever the number of addresses under it.

Retired addresses are in neither: the points leave them out, the pyramid's triggers count
live addresses only (migration 0006).
"""

from __future__ import annotations

from django.db import connection

from common.tiles import BUFFER, EXTENT, MARGIN, tile_query
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address

POINTS_FROM_ZOOM = 14
# A zoom-14 tile of a dense town holds ~8,000 addresses: labels would more than double it
# (300 → 700 KB); from zoom 15 a tile holds a quarter of that.
LABELS_FROM_ZOOM = 15
# The pyramid's layout, frozen in gis_core/migrations/0003_address_tile_cells.py.
CELLS_TOP_ZOOM = POINTS_FROM_ZOOM - 1
CELLS_PER_TILE_SIDE = 16
LAYER = "addresses"

# Most advanced first: CASE picks the first status that has the greatest count.
_STATUSES_BY_PROGRESS = [status.value for status in reversed(AddressStatus)]


def _points_sql(columns: str) -> str:
    # The address id is the MVT feature id (not a property): clients key features by it
    # (VectorGrid's getFeatureId, MapLibre's feature state) and the tile stays smaller.
    return f"""
SELECT ST_AsMVT(tile, '{LAYER}', {EXTENT}, 'geom', 'id')
  FROM (SELECT ST_AsMVTGeom(address.location_3857, ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                            {EXTENT}, {BUFFER}, true) AS geom,
               {columns}
          FROM gis_core_address AS address
         WHERE address.location_3857
               && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {MARGIN})
           AND address.retired_at IS NULL) AS tile
"""


_POINT_COLUMNS = "address.id, address.status, address.premises_type, address.units, address.area_id"
_POINTS_SQL = _points_sql(_POINT_COLUMNS)
_LABELLED_POINTS_SQL = _points_sql(f"{_POINT_COLUMNS}, address.label")

_DOMINANT = (
    "CASE greatest("
    + ", ".join(_STATUSES_BY_PROGRESS)
    + ") "
    + " ".join(f"WHEN {status} THEN '{status}'" for status in _STATUSES_BY_PROGRESS)
    + " END"
)

_CELLS_SQL = f"""
SELECT ST_AsMVT(tile, '{LAYER}', {EXTENT}, 'geom')
  FROM (SELECT ST_AsMVTGeom(ST_Point(sum_x / count, sum_y / count, 3857),
                            ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {EXTENT}, {BUFFER}, true) AS geom,
               count, homes, {", ".join(_STATUSES_BY_PROGRESS)}, {_DOMINANT} AS status
          FROM (SELECT sum(addresses)::integer AS count, sum(homes)::integer AS homes,
                       {", ".join(f"sum({s})::integer AS {s}" for s in _STATUSES_BY_PROGRESS)},
                       sum(sum_x) AS sum_x, sum(sum_y) AS sum_y
                  FROM gis_core_addresscellcount
                 WHERE zoom = %(z)s
                   AND cell_x BETWEEN %(cell_x_min)s AND %(cell_x_max)s
                   AND cell_y BETWEEN %(cell_y_min)s AND %(cell_y_max)s
                 GROUP BY cell_x, cell_y
                HAVING sum(addresses) > 0) AS cell) AS tile
"""


def address_tile(z: int, x: int, y: int) -> bytes:
    """The `addresses` layer of tile z/x/y: points from zoom 14, grid cells below."""
    if z >= POINTS_FROM_ZOOM:
        sql = _LABELLED_POINTS_SQL if z >= LABELS_FROM_ZOOM else _POINTS_SQL
        return tile_query(sql, {"z": z, "x": x, "y": y}, model=Address)
    side = CELLS_PER_TILE_SIDE
    return tile_query(
        _CELLS_SQL,
        model=Address,
        params={
            "z": z,
            "x": x,
            "y": y,
            "cell_x_min": x * side,
            "cell_x_max": x * side + side - 1,
            "cell_y_min": y * side,
            "cell_y_max": y * side + side - 1,
        },
    )


def address_cells_rebuild() -> None:
    """Recount the whole address-tile pyramid from the addresses.

    The triggers keep it right on every write; this is for loads that bypass triggers
    (`session_replication_role = replica`, a restore of the address table alone).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT gis_core_address_cells_rebuild()")
