"""Can fibre be had here? An honest answer from the real state of the network.

The answer is worked out from what the database holds at the moment of the question — the
address's lifecycle status, its area's phase and demand figures, the installation slots, the
ISPs serving the area and their valid offerings, the connection-cost terms — never from a
flag someone sets, and nothing is cached. One SQL statement gathers all of it (the offerings
as a JSON array), so an answer costs one round trip to PostgreSQL and is one consistent
snapshot (no transaction needed around a single statement).

It never says who lives at an address or who ordered there: only the address, the area and
the area's aggregate demand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import psycopg
from django.db import connection
from django.templatetags.static import static
from django.utils import timezone

from areas.lifecycle import AreaPhase
from common.errors import DomainError, NotFound
from gis_core.lifecycle import AddressStatus
from wholesale.connection_cost import ConnectionCost

AVAILABLE = "available"
BEING_BUILT = "being_built"
GATHERING_INTEREST = "gathering_interest"
PLANNED = "planned"
OUTSIDE = "outside"
# The address was retired (its feature vanished from the GIS of record): it is kept, but no
# longer in the network's records, so nothing can be had or ordered there.
RETIRED = "retired"
STATES = (AVAILABLE, BEING_BUILT, GATHERING_INTEREST, PLANNED, OUTSIDE, RETIRED)

NEAREST_ADDRESS_METRES = 30
# Boundary simplification for the small map (degrees, ~5 m) and GeoJSON precision (~0.1 m).
BOUNDARY_TOLERANCE = 0.00005
GEOJSON_DIGITS = 6

_BUILT = (AddressStatus.CONNECTED, AddressStatus.ACTIVATED)

# The subject of the question: (address_id, area_id). By address: that address and its area.
_BY_ADDRESS = "SELECT a.id AS address_id, a.area_id FROM gis_core_address a WHERE a.id = %(id)s"
# By point: the nearest live (not retired) address within the radius (KNN on the stored
# EPSG:3857 point; the radius is in Mercator units, metres ÷ cos(latitude)); else no address
# and the active area containing the point. UNION ALL + LIMIT 1 stops after the first
# branch that yields a row.
_BY_POINT = """
SELECT * FROM (
    (SELECT a.id AS address_id, a.area_id
       FROM gis_core_address a, p
      WHERE ST_DWithin(a.location_3857, p.g, %(radius)s) AND a.retired_at IS NULL
      ORDER BY a.location_3857 <-> p.g, a.id
      LIMIT 1)
    UNION ALL
    SELECT NULL::bigint, (SELECT ar.id FROM areas_area ar, p
                           WHERE ar.is_active AND ST_Intersects(ar.boundary_3857, p.g)
                           ORDER BY ar.id LIMIT 1)
) AS found LIMIT 1
"""
_POINT = (
    "p AS (SELECT ST_Transform(ST_SetSRID("
    "ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4326), 3857) AS g),"
)

_ANSWER = """
WITH {point}
subject AS ({subject})
SELECT s.address_id, a.label, ST_X(a.location), ST_Y(a.location), a.status,
       a.retired_at IS NOT NULL,
       ar.id, ar.code, ar.name, ar.phase,
       ST_AsGeoJSON(ST_Multi(ST_SimplifyPreserveTopology(ar.boundary, %(tolerance)s)),
                    %(digits)s)::json,
       ar.target_take_rate, ar.expected_connection_from, ar.expected_connection_until,
       f.homes, f.addresses_with_order, f.take_rate,
       slots.first_day, slots.last_day, slots.open,
       t.total::text, t.deposit::text, t.max_installment::text, t.invoicing_starts,
       t.currency, t.connection_only_enabled, billing.name,
       offers.offerings
  FROM subject s
  LEFT JOIN gis_core_address a ON a.id = s.address_id
  LEFT JOIN areas_area ar ON ar.id = s.area_id
  LEFT JOIN areas_areafigures f ON f.area_id = ar.id
  LEFT JOIN LATERAL (
      SELECT (min(sl.starts_at) AT TIME ZONE %(tz)s)::date AS first_day,
             (max(sl.ends_at) AT TIME ZONE %(tz)s)::date AS last_day,
             bool_or(sl.booked < sl.capacity) AS open
        FROM wholesale_installationslot sl
       WHERE sl.area_id = ar.id AND sl.starts_at > %(now)s
  ) AS slots ON true
  LEFT JOIN LATERAL (
      SELECT * FROM wholesale_connectioncostterms ct
       WHERE ct.address_id = s.address_id OR ct.area_id = ar.id
       ORDER BY ct.address_id IS NULL
       LIMIT 1
  ) AS t ON true
  LEFT JOIN accounts_organisation billing ON billing.id = t.billed_by_id
  LEFT JOIN LATERAL (
      SELECT json_agg(json_build_object(
                 'id', o.id, 'isp_id', isp.id, 'isp_name', isp.name, 'logo', profile.logo,
                 'name', o.name, 'download_mbps', pr.download_mbps,
                 'upload_mbps', pr.upload_mbps, 'monthly_price', o.monthly_price::text,
                 'currency', o.currency, 'setup_fee', o.setup_fee::text,
                 'contract_months', o.contract_months, 'notice_days', o.notice_days,
                 'terms', o.terms)
             ORDER BY o.monthly_price, pr.download_mbps DESC, o.id) AS offerings
        FROM wholesale_ispservicearea served
        JOIN accounts_organisation isp ON isp.id = served.isp_id AND isp.is_active
        JOIN wholesale_offering o ON o.isp_id = served.isp_id
        JOIN wholesale_product pr ON pr.id = o.product_id
        LEFT JOIN wholesale_ispprofile profile ON profile.organisation_id = isp.id
       WHERE served.area_id = ar.id
         AND o.valid_from <= %(today)s AND (o.valid_to IS NULL OR o.valid_to >= %(today)s)
         AND pr.valid_from <= %(today)s AND (pr.valid_to IS NULL OR pr.valid_to >= %(today)s)
         AND (NOT EXISTS (SELECT 1 FROM wholesale_offering_areas r WHERE r.offering_id = o.id)
              OR EXISTS (SELECT 1 FROM wholesale_offering_areas r
                          WHERE r.offering_id = o.id AND r.area_id = ar.id))
  ) AS offers ON true
"""
ANSWER_BY_ADDRESS_SQL = _ANSWER.format(point="", subject=_BY_ADDRESS)
ANSWER_BY_POINT_SQL = _ANSWER.format(point=_POINT, subject=_BY_POINT)


@dataclass(frozen=True)
class Serviceability:
    """The answer for an address or a point; `as_dict()` is the JSON of the API."""

    state: str
    headline: str
    detail: str
    address: dict | None = None
    area: dict | None = None
    window: dict | None = None
    demand: dict | None = None
    offerings: list[dict] = field(default_factory=list)
    connection_cost: ConnectionCost | None = None
    can_sign_up: bool = False
    can_register_interest: bool = False
    connection_only_available: bool = False
    booking_open: bool = False

    def as_dict(self) -> dict:
        return {
            "state": self.state,
            "headline": self.headline,
            "detail": self.detail,
            "address": self.address,
            "area": self.area,
            "window": self.window,
            "demand": self.demand,
            "offerings": self.offerings,
            "connection_cost": self.connection_cost.as_dict() if self.connection_cost else None,
            "can_sign_up": self.can_sign_up,
            "can_register_interest": self.can_register_interest,
            "connection_only_available": self.connection_only_available,
            "booking_open": self.booking_open,
        }

    @property
    def offering_ids(self) -> set[int]:
        return {offering["id"] for offering in self.offerings}


class _PreparedCursor(psycopg.Cursor):
    """A server-side-binding cursor that prepares its statement: PostgreSQL plans the answer
    once per connection instead of at every question (planning it costs more than running
    it). Django's own cursors bind on the client and never prepare."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def _fetch_answer(statement: str, parameters: dict):
    """Run one answer statement through Django's connection (its query logging and wrappers
    included) on a preparing cursor; the row, or None."""
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        # Django turns preparing off for the connection (None); a threshold no statement
        # reaches keeps it off for Django's own queries and allows our explicit prepare.
        connection.connection.prepare_threshold = 2**31 - 1
    raw = _PreparedCursor(connection.connection)
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with wrap(raw) as cursor:
        cursor.execute(statement, parameters)
        return cursor.fetchone()


def _parameters(**extra) -> dict:
    return {
        "tolerance": BOUNDARY_TOLERANCE,
        "digits": GEOJSON_DIGITS,
        "tz": timezone.get_current_timezone_name(),
        "now": timezone.now(),
        "today": timezone.localdate(),
        **extra,
    }


def serviceability_for_address(address_id: int) -> Serviceability:
    """The answer for one address; `NotFound` if there is no such address."""
    try:
        address_id = int(address_id)
    except (TypeError, ValueError) as exc:
        raise DomainError(
            f"address must be an address id (a whole number), not {address_id!r}",
            code="invalid",
            field="address",
        ) from exc
    row = _fetch_answer(ANSWER_BY_ADDRESS_SQL, _parameters(id=address_id))
    if row is None:
        raise NotFound(f"no address with id {address_id}")
    return _answer(row)


def serviceability_at_point(*, lon: float, lat: float) -> Serviceability:
    """The answer at a point: for the nearest address within 30 m, else for the area there."""
    lon, lat = _coordinate(lon, "lon", 180), _coordinate(lat, "lat", 90)
    radius = NEAREST_ADDRESS_METRES / math.cos(math.radians(min(abs(lat), 89.9)))
    return _answer(_fetch_answer(ANSWER_BY_POINT_SQL, _parameters(lon=lon, lat=lat, radius=radius)))


def _coordinate(value, name: str, limit: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise DomainError(
            f"{name} must be a number, not {value!r}", code="invalid", field=name
        ) from exc
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise DomainError(
            f"{name} must be between -{limit} and {limit}, not {value}", code="invalid", field=name
        )
    return number


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _offering(raw: dict) -> dict:
    logo = raw["logo"] or ""
    if logo and not logo.startswith(("http://", "https://", "/")):
        logo = static(logo)
    return {
        "id": raw["id"],
        "isp": {"id": raw["isp_id"], "name": raw["isp_name"], "logo_url": logo or None},
        "name": raw["name"],
        "download_mbps": raw["download_mbps"],
        "upload_mbps": raw["upload_mbps"],
        "monthly_price": raw["monthly_price"],
        "currency": raw["currency"],
        "setup_fee": raw["setup_fee"],
        "contract_months": raw["contract_months"],
        "notice_days": raw["notice_days"],
        "terms": raw["terms"],
    }


def _answer(row) -> Serviceability:
    (
        address_id, label, lon, lat, status, retired,
        area_id, code, name, phase, boundary,
        target, window_from, window_until,
        homes, with_order, take_rate,
        first_slot_day, last_slot_day, slots_open,
        total, deposit, max_installment, invoicing_starts,
        currency, connection_only, billed_by,
        offerings,
    ) = row  # fmt: skip
    address = (
        {"id": address_id, "label": label, "lon": round(lon, 7), "lat": round(lat, 7)}
        if address_id is not None
        else None
    )
    area = (
        {"id": area_id, "code": code, "name": name, "phase": phase, "boundary": boundary}
        if area_id is not None
        else None
    )
    if retired:
        return _retired(address)
    cost = (
        ConnectionCost(
            total=Decimal(total),
            deposit=Decimal(deposit) if deposit is not None else None,
            max_installment=Decimal(max_installment) if max_installment is not None else None,
            invoicing_starts=invoicing_starts,
            billed_by=billed_by,
            currency=currency,
        )
        if total is not None
        else None
    )
    offers = [_offering(raw) for raw in offerings or []] if area_id is not None else []

    if address is not None and status in _BUILT:
        state = AVAILABLE
    elif area is None:
        state = OUTSIDE
    elif status == AddressStatus.IN_DEPLOYMENT or phase in (
        AreaPhase.IN_DEPLOYMENT,
        AreaPhase.LIVE,
    ):
        state = BEING_BUILT
    elif phase == AreaPhase.DEMAND_AGGREGATION:
        state = GATHERING_INTEREST
    else:
        state = PLANNED

    window = None
    if state == BEING_BUILT:
        if window_from and window_until:
            window = {"from": _day(window_from), "until": _day(window_until)}
        elif first_slot_day and last_slot_day:
            window = {"from": _day(first_slot_day), "until": _day(last_slot_day)}

    demand = None
    if area is not None and state in (GATHERING_INTEREST, PLANNED):
        homes = homes or 0
        with_order = with_order or 0
        needed = math.ceil(Decimal(target) * homes) if homes else 0
        demand = {
            "homes": homes,
            "orders": with_order,
            "take_rate": str(take_rate if take_rate is not None else Decimal("0.0000")),
            "target_take_rate": str(target),
            "orders_to_target": max(needed - with_order, 0),
        }

    connection_only_available = bool(connection_only) and state in (
        AVAILABLE,
        BEING_BUILT,
        GATHERING_INTEREST,
    )
    can_sign_up = (
        address is not None
        and state in (AVAILABLE, BEING_BUILT, GATHERING_INTEREST)
        and bool(offers or connection_only_available)
    )
    can_register_interest = address is not None and state in (
        GATHERING_INTEREST,
        PLANNED,
        OUTSIDE,
    )
    deploying = phase == AreaPhase.IN_DEPLOYMENT or status == AddressStatus.IN_DEPLOYMENT
    booking_open = bool(deploying and slots_open)
    headline, detail = _words(state, address, area, window, demand, offers)
    return Serviceability(
        state=state,
        headline=headline,
        detail=detail,
        address=address,
        area=area,
        window=window,
        demand=demand,
        offerings=offers,
        connection_cost=cost,
        can_sign_up=can_sign_up,
        can_register_interest=can_register_interest,
        connection_only_available=connection_only_available,
        booking_open=booking_open,
    )


def _retired(address: dict) -> Serviceability:
    """A retired address answers with itself only: no area, offer, cost or way to sign up.

    Its id may still be in a bookmark or an e-mail; the answer says plainly that the network
    no longer knows it (never why: the retirement reason is the operators' note)."""
    return Serviceability(
        state=RETIRED,
        headline="This address is no longer in the network's records.",
        detail=(
            "It may have been renumbered, merged with another or removed, so nothing can be"
            " ordered here. Search for your address again to find its current entry."
        ),
        address=address,
    )


def _words(state, address, area, window, demand, offers) -> tuple[str, str]:
    """One honest sentence, and what the customer can do next."""
    here = "this address" if address else "this spot"
    isps = len({offer["isp"]["id"] for offer in offers})
    choice = (
        f"{len(offers)} offering{'s' if len(offers) != 1 else ''} from {isps}"
        f" provider{'s' if isps != 1 else ''}"
        if offers
        else "no offerings yet"
    )
    if state == AVAILABLE:
        return (
            f"Fibre is available at {here} now.",
            f"The connection is in place: choose a provider and sign up ({choice}).",
        )
    if state == BEING_BUILT:
        when = (
            f" Homes here are expected to be connected between {window['from']}"
            f" and {window['until']}."
            if window
            else ""
        )
        return (
            f"Fibre is being built in {area['name']}.",
            f"Sign up now to be connected as the build reaches you.{when}",
        )
    if state == GATHERING_INTEREST:
        to_go = demand["orders_to_target"]
        progress = f"{demand['orders']} of {demand['homes']} homes have signed up;" + (
            f" {to_go} more and the area reaches its target."
            if to_go
            else " the area has reached its target."
        )
        return (
            f"{area['name']} is gathering sign-ups for fibre.",
            f"{progress} Sign up or register your interest to help bring fibre here.",
        )
    if state == PLANNED:
        return (
            f"Fibre is planned for {area['name']}, but sign-ups have not opened yet.",
            "Register your interest and we will tell you when you can sign up.",
        )
    return (
        f"{here[0].upper()}{here[1:]} is outside our network.",
        "We have no fibre planned here yet"
        + (
            "; register your interest so we know there is demand."
            if address
            else "; search for your address to register interest."
        ),
    )
