"""A small marketplace for the lookup tests: one area in each phase, ISPs serving them, an
offering each, and helpers to put addresses in them and walk them along their lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.models import Organisation
from areas.models import Area
from areas.services import area_deploy, area_go_live, area_start_demand_aggregation
from gis_core.models import Address
from gis_core.services import address_await_deployment, address_connect, address_start_deployment
from tests.areas.factories import AreaFactory, square
from tests.gis_core.factories import AddressFactory
from tests.wholesale.factories import IspFactory, OfferingFactory, serve
from wholesale.models import Offering
from wholesale.services import installation_slot_create

SIZE = 0.002  # about 135 × 220 m
# phase → south-west corner of its area; well apart from each other
CORNERS = {
    "planning": (13.400, 52.500),
    "demand_aggregation": (13.410, 52.500),
    "in_deployment": (13.420, 52.500),
    "live": (13.430, 52.500),
}
OUTSIDE = (13.500, 52.600)


@dataclass
class Town:
    """Areas by phase, two ISPs serving all of them with an offering each, and helpers."""

    areas: dict[str, Area]
    isps: list[Organisation]
    offerings: list[Offering]
    billing: Organisation
    made: list[Address] = field(default_factory=list)

    def address(self, phase: str | None, n: int = 0, **fields) -> Address:
        """A planned home inside the area of this phase (None: outside every area)."""
        lon, lat = CORNERS[phase] if phase else OUTSIDE
        point = Point(lon + 0.0002 + n * 0.0001, lat + 0.0005, srid=4326)
        address = AddressFactory(location=point, **fields)
        self.made.append(address)
        return address

    def slots(self, phase: str, count: int = 2, capacity: int = 1, days: int = 3):
        """Installation windows in the area, starting `days` from now, a day apart."""
        start = timezone.now().replace(hour=8, minute=0, second=0, microsecond=0)
        return [
            installation_slot_create(
                area=self.areas[phase],
                starts_at=start + timedelta(days=days + k),
                ends_at=start + timedelta(days=days + k, hours=4),
                capacity=capacity,
            )
            for k in range(count)
        ]


def build(address: Address, to: str) -> Address:
    """Walk a planned address to `to` (in_deployment or connected)."""
    address = address_await_deployment(address=address)
    address = address_start_deployment(address=address)
    if to == "connected":
        address = address_connect(address=address)
    return address


@pytest.fixture
def town(owner) -> Town:
    areas = {}
    for phase, (lon, lat) in CORNERS.items():
        area = AreaFactory(code=f"t-{phase}", name=f"Kiez {phase}", boundary=square(lon, lat, SIZE))
        if phase != "planning":
            area = area_start_demand_aggregation(area=area)
        if phase in ("in_deployment", "live"):
            area = area_deploy(area=area)
        if phase == "live":
            area = area_go_live(area=area)
        areas[phase] = area
    isps = [IspFactory(name="Spree Net"), IspFactory(name="Kiez Online")]
    offerings = [
        OfferingFactory(isp=isps[0], name="Spree 500", monthly_price=Decimal("39.90")),
        OfferingFactory(isp=isps[1], name="Kiez 1000", monthly_price=Decimal("49.00")),
    ]
    for isp in isps:
        serve(isp, *areas.values())
    return Town(areas=areas, isps=isps, offerings=offerings, billing=owner)
