"""Demand figures per area, recounted with set-based SQL whenever something under them changes.

Writes that move demand (an interest or signup, an import, a split, a reshaped boundary)
call `refresh_figures` with the areas they touched, in their own transaction: one
INSERT … SELECT … GROUP BY over just those areas' addresses, upserted into `AreaFigures`,
plus today's row of the daily series. Reads (lists, the map, the API) then never count.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import connection
from django.utils import timezone

from areas.models import Area, AreaDailyFigures, AreaFigures, Interest, Signup
from gis_core.models import Address

_REFRESH_SQL = """
-- Each step is MATERIALIZED, computed once over the areas' own rows: left to inline, a plan
-- made on stale statistics (a table analysed while empty, then filled in the same
-- transaction: a bulk import, a test) re-ran the demand subqueries for every address, and
-- one refresh of a 650-address area took minutes.
WITH area_addresses AS MATERIALIZED (
    SELECT id, area_id, units FROM {address} WHERE area_id = ANY(%(ids)s)
), live_signups AS MATERIALIZED (
    SELECT record.address_id, count(*) AS n
      FROM area_addresses
      JOIN {signup} AS record ON record.address_id = area_addresses.id
     WHERE record.withdrawn_at IS NULL
     GROUP BY record.address_id
), live_interests AS MATERIALIZED (
    SELECT record.address_id, count(*) AS n
      FROM area_addresses
      JOIN {interest} AS record ON record.address_id = area_addresses.id
     WHERE record.withdrawn_at IS NULL
     GROUP BY record.address_id
), counted AS (
    SELECT address.area_id,
           count(*) AS addresses,
           coalesce(sum(address.units), 0) AS homes,
           coalesce(sum(live_interests.n), 0) AS interests,
           coalesce(sum(live_signups.n), 0) AS orders,
           count(live_interests.n) AS addresses_with_interest,
           count(live_signups.n) AS addresses_with_order
      FROM area_addresses AS address
      LEFT JOIN live_signups ON live_signups.address_id = address.id
      LEFT JOIN live_interests ON live_interests.address_id = address.id
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


_BACKFILL_SQL = """
WITH area_homes AS (
    SELECT area.id AS area_id, coalesce(sum(address.units), 0) AS homes
      FROM {area} AS area
      LEFT JOIN {address} AS address ON address.area_id = area.id
     WHERE area.id = ANY(%(ids)s)
     GROUP BY area.id
), book AS (
    -- every signup ('o') and interest ('i') at these areas' addresses, with the local days
    -- it began and ended; anything dated after today counts from today, as the figures do
    SELECT 'o' AS kind, address.area_id, record.address_id,
           least((record.signed_up_at AT TIME ZONE %(tz)s)::date, %(today)s) AS began,
           -- (least() skips NULLs: a live record must keep no end)
           CASE WHEN record.withdrawn_at IS NOT NULL
                THEN least((record.withdrawn_at AT TIME ZONE %(tz)s)::date, %(today)s) END
             AS ended
      FROM {signup} AS record
      JOIN {address} AS address ON address.id = record.address_id
     WHERE address.area_id = ANY(%(ids)s)
    UNION ALL
    SELECT 'i', address.area_id, record.address_id,
           least((record.registered_at AT TIME ZONE %(tz)s)::date, %(today)s),
           CASE WHEN record.withdrawn_at IS NOT NULL
                THEN least((record.withdrawn_at AT TIME ZONE %(tz)s)::date, %(today)s) END
      FROM {interest} AS record
      JOIN {address} AS address ON address.id = record.address_id
     WHERE address.area_id = ANY(%(ids)s)
), per_address AS (
    -- each address's net change of live records per day (+1 when one began, -1 when one ended)
    SELECT kind, area_id, address_id, day, sum(delta) AS delta
      FROM (SELECT kind, area_id, address_id, began AS day, 1 AS delta FROM book
            UNION ALL
            SELECT kind, area_id, address_id, ended, -1 FROM book WHERE ended IS NOT NULL)
           AS deltas
     GROUP BY kind, area_id, address_id, day
), running AS (
    SELECT kind, area_id, day, delta,
           sum(delta) OVER (PARTITION BY kind, address_id ORDER BY day) AS live_after
      FROM per_address
), changes AS (
    -- per area and day: live records gained, and addresses gaining (+1) or losing (-1)
    -- their last live record of the kind
    SELECT area_id, day,
           coalesce(sum(delta) FILTER (WHERE kind = 'o'), 0) AS orders,
           coalesce(sum(delta) FILTER (WHERE kind = 'i'), 0) AS interests,
           count(*) FILTER (WHERE kind = 'o' AND live_after > 0 AND live_after - delta <= 0)
           - count(*) FILTER (WHERE kind = 'o' AND live_after <= 0 AND live_after - delta > 0)
             AS addresses_with_order,
           count(*) FILTER (WHERE kind = 'i' AND live_after > 0 AND live_after - delta <= 0)
           - count(*) FILTER (WHERE kind = 'i' AND live_after <= 0 AND live_after - delta > 0)
             AS addresses_with_interest
      FROM running
     GROUP BY area_id, day
    UNION ALL
    -- a row of no change for every day of the series, so every day gets its row
    SELECT area_id, day::date, 0, 0, 0, 0
      FROM area_homes
     CROSS JOIN generate_series(%(since)s::date, %(today)s::date, interval '1 day') AS day
), series AS (
    SELECT area_id, day,
           sum(sum(orders)) OVER by_day AS orders,
           sum(sum(interests)) OVER by_day AS interests,
           sum(sum(addresses_with_order)) OVER by_day AS addresses_with_order,
           sum(sum(addresses_with_interest)) OVER by_day AS addresses_with_interest
      FROM changes
     GROUP BY area_id, day
    WINDOW by_day AS (PARTITION BY area_id ORDER BY day)
)
INSERT INTO {daily} AS day_row
       (area_id, day, homes, interests, orders, addresses_with_order, take_rate, interest_rate)
SELECT series.area_id, series.day, area_homes.homes, series.interests, series.orders,
       series.addresses_with_order,
       round(coalesce(series.addresses_with_order::numeric / nullif(area_homes.homes, 0), 0), 4),
       round(coalesce(series.addresses_with_interest::numeric / nullif(area_homes.homes, 0), 0), 4)
  FROM series
  JOIN area_homes ON area_homes.area_id = series.area_id
 WHERE series.day BETWEEN %(since)s AND %(today)s
ON CONFLICT (area_id, day) DO UPDATE SET
       homes = excluded.homes, interests = excluded.interests, orders = excluded.orders,
       addresses_with_order = excluded.addresses_with_order,
       take_rate = excluded.take_rate, interest_rate = excluded.interest_rate
"""


def backfill_daily_figures(area_ids: Iterable[int | None], since: date) -> int:
    """Rebuild these areas' daily series from `since` to today out of the demand book's dates.

    For imports of historical demand (and the demo): each day's row is the book as it stood
    at the end of that local day, from `signed_up_at` / `registered_at` / `withdrawn_at`,
    in one INSERT … SELECT over `generate_series`. Homes are today's (the book keeps no
    history of addresses), so today's row equals the one `refresh_figures` writes.
    Returns the number of rows written.
    """
    ids = sorted({area_id for area_id in area_ids if area_id is not None})
    today = timezone.localdate()
    if not ids or since > today:
        return 0
    sql = _BACKFILL_SQL.format(
        signup=Signup._meta.db_table,
        interest=Interest._meta.db_table,
        address=Address._meta.db_table,
        area=Area._meta.db_table,
        daily=AreaDailyFigures._meta.db_table,
    )
    params = {
        "ids": ids,
        "since": since,
        "today": today,
        "tz": timezone.get_current_timezone_name(),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
