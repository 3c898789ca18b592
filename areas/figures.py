"""Demand figures per area, recounted with set-based SQL whenever something under them changes.

Writes that move demand (an interest or signup, an import, a split, a reshaped boundary)
call `refresh_figures` with the areas they touched, in their own transaction: one
INSERT … SELECT … GROUP BY over just those areas' addresses, upserted into `AreaFigures`,
plus today's row of the daily series. Reads (lists, the map, the API) then never count.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

from areas.models import Area, AreaDailyFigures, AreaFigures, Interest, Signup
from gis_core.models import Address

_REFRESH_SQL = """
WITH live_signups AS (
    SELECT address_id, count(*) AS n FROM {signup}
     WHERE withdrawn_at IS NULL
       AND address_id IN (SELECT id FROM {address} WHERE area_id = ANY(%(ids)s))
     GROUP BY address_id
), live_interests AS (
    SELECT address_id, count(*) AS n FROM {interest}
     WHERE withdrawn_at IS NULL
       AND address_id IN (SELECT id FROM {address} WHERE area_id = ANY(%(ids)s))
     GROUP BY address_id
), counted AS (
    SELECT address.area_id,
           count(*) AS addresses,
           coalesce(sum(address.units), 0) AS homes,
           coalesce(sum(live_interests.n), 0) AS interests,
           coalesce(sum(live_signups.n), 0) AS orders,
           count(live_interests.n) AS addresses_with_interest,
           count(live_signups.n) AS addresses_with_order
      FROM {address} AS address
      LEFT JOIN live_signups ON live_signups.address_id = address.id
      LEFT JOIN live_interests ON live_interests.address_id = address.id
     WHERE address.area_id = ANY(%(ids)s)
     GROUP BY address.area_id
), figures AS (
    SELECT area.id AS area_id,
           coalesce(counted.addresses, 0) AS addresses,
           coalesce(counted.homes, 0) AS homes,
           coalesce(counted.interests, 0) AS interests,
           coalesce(counted.orders, 0) AS orders,
           coalesce(counted.addresses_with_interest, 0) AS addresses_with_interest,
           coalesce(counted.addresses_with_order, 0) AS addresses_with_order,
           round(coalesce(counted.addresses_with_order::numeric / nullif(counted.homes, 0), 0), 4)
             AS take_rate,
           round(coalesce(counted.addresses_with_interest::numeric
                          / nullif(counted.homes, 0), 0), 4)
             AS interest_rate,
           area.target_take_rate
      FROM {area} AS area
      LEFT JOIN counted ON counted.area_id = area.id
     WHERE area.id = ANY(%(ids)s)
), upserted AS (
    INSERT INTO {figures} AS stored
           (area_id, addresses, homes, interests, orders, addresses_with_interest,
            addresses_with_order, take_rate, interest_rate, progress, refreshed_at)
    SELECT area_id, addresses, homes, interests, orders, addresses_with_interest,
           addresses_with_order, take_rate, interest_rate,
           round(CASE WHEN target_take_rate > 0 THEN take_rate / target_take_rate
                      WHEN homes > 0 THEN 1 ELSE 0 END, 4),
           %(now)s
      FROM figures
    ON CONFLICT (area_id) DO UPDATE SET
           addresses = excluded.addresses, homes = excluded.homes,
           interests = excluded.interests, orders = excluded.orders,
           addresses_with_interest = excluded.addresses_with_interest,
           addresses_with_order = excluded.addresses_with_order,
           take_rate = excluded.take_rate, interest_rate = excluded.interest_rate,
           progress = excluded.progress, refreshed_at = excluded.refreshed_at
    RETURNING area_id
)
INSERT INTO {daily} AS day_row
       (area_id, day, homes, interests, orders, addresses_with_order, take_rate, interest_rate)
SELECT area_id, %(today)s, homes, interests, orders, addresses_with_order, take_rate,
       interest_rate
  FROM figures
ON CONFLICT (area_id, day) DO UPDATE SET
       homes = excluded.homes, interests = excluded.interests, orders = excluded.orders,
       addresses_with_order = excluded.addresses_with_order,
       take_rate = excluded.take_rate, interest_rate = excluded.interest_rate
"""


def refresh_figures(area_ids: Iterable[int | None]) -> set[int]:
    """Recount the demand figures of these areas (and today's daily row); returns the ids."""
    ids = sorted({area_id for area_id in area_ids if area_id is not None})
    if not ids:
        return set()
    sql = _REFRESH_SQL.format(
        signup=Signup._meta.db_table,
        interest=Interest._meta.db_table,
        address=Address._meta.db_table,
        area=Area._meta.db_table,
        figures=AreaFigures._meta.db_table,
        daily=AreaDailyFigures._meta.db_table,
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": ids, "now": now, "today": timezone.localdate(now)})
    return set(ids)


def refresh_all_figures() -> set[int]:
    """Recount every area (after a bulk change such as a full re-assignment)."""
    return refresh_figures(Area.objects.values_list("id", flat=True))
