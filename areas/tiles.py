"""Area and demand vector tiles, made by PostGIS (`ST_AsMVT` over `ST_TileEnvelope`, EPSG:3857).

`areas` (`area_tile`): every active planning area (split parents are history, not drawn)
as a polygon from the stored `boundary_3857` column, simplified to half a pixel of the
tile's zoom, with its demand figures joined from `AreaFigures` in the same query (an
area without figures yet shows zeros): `id`, `code`, `name`, `phase`, `homes`,
`interests`, `orders`, `take_rate`, `interest_rate`, `target_take_rate`, `progress`,
`ready_to_build` (progress ≥ 1 with homes). The MVT feature id is the area id.

`demand` (`demand_tile`): live demand where it is. From zoom 13 one point per live
interest and per live signup at its address: `kind` ("interest" or "order"),
`address_id`, `area_id` (absent outside areas), `at` (the day it was registered, ISO,
in the project's time zone). Below zoom 13, one point per grid cell of 1/16 tile (the
address tiles' grid) at the mean position of its demand: `count`, `interests`,
`orders`, read from the pyramid the database keeps in `DemandCellCount` (migration
0004), so a county-wide tile reads a few hundred rows. Both can be restricted to one
area's addresses (`area_id`); its cells are then counted from its own demand rows.

Every interest and signup keeps a copy of its address's EPSG:3857 location (a database
trigger sets it, and rewrites it when the address moves), so live demand in a tile is
found by a partial GiST index without joining the addresses.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from areas.models import Area, Interest
from common.tiles import BUFFER, EXTENT, MARGIN, WORLD_HALF_WIDTH, tile_query, tile_size

DEMAND_POINTS_FROM_ZOOM = 13
CELLS_PER_TILE_SIDE = 16  # the address tiles' grid (gis_core.tiles)
AREAS_LAYER = "areas"
DEMAND_LAYER = "demand"

_AREAS_SQL = f"""
SELECT ST_AsMVT(tile, '{AREAS_LAYER}', {EXTENT}, 'geom', 'feature_id')
  FROM (SELECT ST_AsMVTGeom(ST_Simplify(area.boundary_3857, %(tolerance)s, true),
                            ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {EXTENT}, {BUFFER}, true)
                 AS geom,
               area.id AS feature_id, area.id, area.code, area.name, area.phase,
               coalesce(figures.homes, 0) AS homes,
               coalesce(figures.interests, 0) AS interests,
               coalesce(figures.orders, 0) AS orders,
               coalesce(figures.take_rate, 0)::double precision AS take_rate,
               coalesce(figures.interest_rate, 0)::double precision AS interest_rate,
               area.target_take_rate::double precision AS target_take_rate,
               coalesce(figures.progress, 0)::double precision AS progress,
               coalesce(figures.progress >= 1 AND figures.homes > 0, false) AS ready_to_build
          FROM areas_area AS area
          LEFT JOIN areas_areafigures AS figures ON figures.area_id = area.id
         WHERE area.is_active
           AND area.boundary_3857 && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {MARGIN})
       ) AS tile
 WHERE geom IS NOT NULL
"""


_ENVELOPE = "ST_TileEnvelope(%(z)s, %(x)s, %(y)s)"
_ENVELOPE_WITH_MARGIN = f"ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {MARGIN})"


def _live_demand(envelope: str, *, in_area: bool = False) -> str:
    """Live interests and signups in the envelope, one row each, at the location they keep
    of their address (found by partial GiST indexes, no join); `in_area`: one area's only."""

    def where(row: str) -> str:
        area = (
            f" AND {row}.address_id IN"
            " (SELECT id FROM gis_core_address WHERE area_id = %(area_id)s)"
        )
        return f"{row}.withdrawn_at IS NULL AND {row}.location_3857 && {envelope}" + (
            area if in_area else ""
        )

    return f"""
        SELECT 'interest' AS kind, interest.location_3857 AS point, interest.address_id,
               interest.registered_at AS at
          FROM areas_interest AS interest
         WHERE {where("interest")}
        UNION ALL
        SELECT 'order', signup.location_3857, signup.address_id, signup.signed_up_at
          FROM areas_signup AS signup
         WHERE {where("signup")}
    """


def _demand_points_sql(*, restricted: bool) -> str:
    # The area of each point's address comes from one hash or merge join with the
    # addresses in the tile (both sides materialised): a lookup per point cost twice as
    # much on a dense tile (4,800 points: 33 → 23 ms).
    return f"""
WITH demand AS MATERIALIZED ({_live_demand(_ENVELOPE_WITH_MARGIN)}),
     address AS MATERIALIZED (
        SELECT id, area_id FROM gis_core_address
         WHERE location_3857 && {_ENVELOPE_WITH_MARGIN})
SELECT ST_AsMVT(tile, '{DEMAND_LAYER}', {EXTENT}, 'geom')
  FROM (SELECT ST_AsMVTGeom(demand.point, {_ENVELOPE}, {EXTENT}, {BUFFER}, true) AS geom,
               demand.kind, demand.address_id, address.area_id,
               to_char(demand.at AT TIME ZONE %(time_zone)s, 'YYYY-MM-DD') AS at
          FROM demand LEFT JOIN address ON address.id = demand.address_id
         {"WHERE address.area_id = %(area_id)s" if restricted else ""}) AS tile
"""


_DEMAND_CELLS_SQL = f"""
SELECT ST_AsMVT(tile, '{DEMAND_LAYER}', {EXTENT}, 'geom')
  FROM (SELECT ST_AsMVTGeom(ST_Point(sum_x / count, sum_y / count, 3857), {_ENVELOPE},
                            {EXTENT}, {BUFFER}, true) AS geom,
               count, interests, orders
          FROM (SELECT sum(interests + orders)::integer AS count,
                       sum(interests)::integer AS interests, sum(orders)::integer AS orders,
                       sum(sum_x) AS sum_x, sum(sum_y) AS sum_y
                  FROM areas_demandcellcount
                 WHERE zoom = %(z)s
                   AND cell_x BETWEEN %(cell_x_min)s AND %(cell_x_max)s
                   AND cell_y BETWEEN %(cell_y_min)s AND %(cell_y_max)s
                 GROUP BY cell_x, cell_y
                HAVING sum(interests + orders) > 0) AS cell) AS tile
"""

# One area's demand below zoom 13: counted from its rows (an area holds a few thousand).
_AREA_DEMAND_CELLS_SQL = f"""
SELECT ST_AsMVT(tile, '{DEMAND_LAYER}', {EXTENT}, 'geom')
  FROM (SELECT ST_AsMVTGeom(ST_Point(cell.x, cell.y, 3857), {_ENVELOPE}, {EXTENT}, {BUFFER}, true)
                 AS geom,
               cell.count, cell.interests, cell.orders
          FROM (SELECT floor((ST_X(demand.point) + {WORLD_HALF_WIDTH}) / %(cell)s) AS cell_x,
                       floor(({WORLD_HALF_WIDTH} - ST_Y(demand.point)) / %(cell)s) AS cell_y,
                       count(*)::integer AS count,
                       (count(*) FILTER (WHERE demand.kind = 'interest'))::integer AS interests,
                       (count(*) FILTER (WHERE demand.kind = 'order'))::integer AS orders,
                       avg(ST_X(demand.point)) AS x, avg(ST_Y(demand.point)) AS y
                  FROM ({_live_demand(_ENVELOPE, in_area=True)}) AS demand
                 GROUP BY 1, 2) AS cell
         WHERE cell.cell_x BETWEEN %(cell_x_min)s AND %(cell_x_max)s
           AND cell.cell_y BETWEEN %(cell_y_min)s AND %(cell_y_max)s) AS tile
"""

_DEMAND_SQL = {
    (True, False): _demand_points_sql(restricted=False),
    (True, True): _demand_points_sql(restricted=True),
    (False, False): _DEMAND_CELLS_SQL,
    (False, True): _AREA_DEMAND_CELLS_SQL,
}


def area_tile(z: int, x: int, y: int) -> bytes:
    """The `areas` layer of tile z/x/y: active areas with their figures."""
    # half a pixel of a 256-pixel tile: simpler outlines, no visible change
    tolerance = tile_size(z) / 512
    return tile_query(_AREAS_SQL, {"z": z, "x": x, "y": y, "tolerance": tolerance}, model=Area)


def demand_tile(z: int, x: int, y: int, *, area_id: int | None = None) -> bytes:
    """The `demand` layer of tile z/x/y: live interests and orders, points or cells."""
    points = z >= DEMAND_POINTS_FROM_ZOOM
    params: dict = {"z": z, "x": x, "y": y, "area_id": area_id}
    if points:
        params["time_zone"] = settings.TIME_ZONE
    else:
        side = CELLS_PER_TILE_SIDE
        params.update(
            cell=tile_size(z) / side,
            cell_x_min=x * side,
            cell_x_max=x * side + side - 1,
            cell_y_min=y * side,
            cell_y_max=y * side + side - 1,
        )
    return tile_query(_DEMAND_SQL[points, area_id is not None], params, model=Interest)


def demand_cells_rebuild() -> None:
    """Recount the whole demand-tile pyramid from the demand book.

    The triggers keep it right on every write; this is for loads that bypass triggers.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT areas_demand_cells_rebuild()")
