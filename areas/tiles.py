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
`orders`. Both can be restricted to one area's addresses (`area_id`).
"""

from __future__ import annotations

from django.conf import settings

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


def _live_demand(where: str) -> str:
    """Live interests and signups with their address, one row each (kind, point, …)."""
    return f"""
        SELECT 'interest' AS kind, address.location_3857 AS point, address.id AS address_id,
               address.area_id, interest.registered_at AS at
          FROM areas_interest AS interest
          JOIN gis_core_address AS address ON address.id = interest.address_id
         WHERE interest.withdrawn_at IS NULL AND {where}
        UNION ALL
        SELECT 'order', address.location_3857, address.id, address.area_id, signup.signed_up_at
          FROM areas_signup AS signup
          JOIN gis_core_address AS address ON address.id = signup.address_id
         WHERE signup.withdrawn_at IS NULL AND {where}
    """


_AREA_FILTER = "address.area_id = %(area_id)s"


def _demand_points_sql(area_filter: str) -> str:
    where = f"address.location_3857 && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {MARGIN})"
    return f"""
SELECT ST_AsMVT(tile, '{DEMAND_LAYER}', {EXTENT}, 'geom')
  FROM (SELECT ST_AsMVTGeom(demand.point, ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                            {EXTENT}, {BUFFER}, true) AS geom,
               demand.kind, demand.address_id, demand.area_id,
               to_char(demand.at AT TIME ZONE %(time_zone)s, 'YYYY-MM-DD') AS at
          FROM ({_live_demand(f"{where} {area_filter}")}) AS demand) AS tile
"""


def _demand_cells_sql(area_filter: str) -> str:
    where = "address.location_3857 && ST_TileEnvelope(%(z)s, %(x)s, %(y)s)"
    return f"""
SELECT ST_AsMVT(tile, '{DEMAND_LAYER}', {EXTENT}, 'geom')
  FROM (SELECT ST_AsMVTGeom(ST_Point(cell.x, cell.y, 3857),
                            ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {EXTENT}, {BUFFER}, true)
                 AS geom,
               cell.count, cell.interests, cell.orders
          FROM (SELECT floor((ST_X(demand.point) + {WORLD_HALF_WIDTH}) / %(cell)s) AS cell_x,
                       floor(({WORLD_HALF_WIDTH} - ST_Y(demand.point)) / %(cell)s) AS cell_y,
                       count(*)::integer AS count,
                       (count(*) FILTER (WHERE demand.kind = 'interest'))::integer AS interests,
                       (count(*) FILTER (WHERE demand.kind = 'order'))::integer AS orders,
                       avg(ST_X(demand.point)) AS x, avg(ST_Y(demand.point)) AS y
                  FROM ({_live_demand(f"{where} {area_filter}")}) AS demand
                 GROUP BY 1, 2) AS cell
         WHERE cell.cell_x BETWEEN %(cell_x_min)s AND %(cell_x_max)s
           AND cell.cell_y BETWEEN %(cell_y_min)s AND %(cell_y_max)s) AS tile
"""


_DEMAND_SQL = {
    (points, restricted): (_demand_points_sql if points else _demand_cells_sql)(
        f"AND {_AREA_FILTER}" if restricted else ""
    )
    for points in (True, False)
    for restricted in (True, False)
}


def area_tile(z: int, x: int, y: int) -> bytes:
    """The `areas` layer of tile z/x/y: active areas with their figures."""
    # half a pixel of a 256-pixel tile: simpler outlines, no visible change
    tolerance = tile_size(z) / 512
    return tile_query(_AREAS_SQL, {"z": z, "x": x, "y": y, "tolerance": tolerance})


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
    return tile_query(_DEMAND_SQL[points, area_id is not None], params)
