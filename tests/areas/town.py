"""A small town of five areas for the area pages' tests, built through the services.

Every column of the list has distinct values (but for one tie on the target, broken by
code), so each sort has exactly one right order:

code   name                   phase               homes interests orders take  target progress ready
13347  Gesundbrunnen          planning              10     2       0    0      0.40  0        no
13349  Afrikanisches Viertel  demand aggregation     8     5       4    0.5    0.35  1.4286   yes
13351  Brüsseler Kiez         demand aggregation     5     3       1    0.2    0.50  0.4      no
13353  Leopoldplatz           in deployment          4     0       3    0.75   0.40  1.875    yes
13405  Schillerpark           live                   6     1       2    0.3333 0.30  1.1110   yes
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.gis.geos import Point

from areas.lifecycle import AreaPhase
from areas.models import Area
from areas.services import (
    area_deploy,
    area_go_live,
    area_start_demand_aggregation,
    interest_register,
    signup_record,
)
from tests.areas.factories import AreaFactory, square
from tests.gis_core.factories import AddressFactory


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    phase: str
    homes: int
    interests: int
    orders: int
    target: str


PLANS = [
    Plan("13347", "Gesundbrunnen", AreaPhase.PLANNING, 10, 2, 0, "0.40"),
    Plan("13349", "Afrikanisches Viertel", AreaPhase.DEMAND_AGGREGATION, 8, 5, 4, "0.35"),
    Plan("13351", "Brüsseler Kiez", AreaPhase.DEMAND_AGGREGATION, 5, 3, 1, "0.50"),
    Plan("13353", "Leopoldplatz", AreaPhase.IN_DEPLOYMENT, 4, 0, 3, "0.40"),
    Plan("13405", "Schillerpark", AreaPhase.LIVE, 6, 1, 2, "0.30"),
]
CODES = [plan.code for plan in PLANS]

# The way forward through the lifecycle, one service per step.
FORWARD = {
    AreaPhase.DEMAND_AGGREGATION: [area_start_demand_aggregation],
    AreaPhase.IN_DEPLOYMENT: [area_start_demand_aggregation, area_deploy],
    AreaPhase.LIVE: [area_start_demand_aggregation, area_deploy, area_go_live],
}


def area_with_demand(
    *,
    code: str,
    name: str,
    column: int,
    homes: int,
    interests: int = 0,
    orders: int = 0,
    target: str = "0.40",
    phase: str = AreaPhase.PLANNING,
) -> Area:
    """An area (a ~300 m square, `column` squares east of the origin) with its addresses,
    interests and signups, walked forward to `phase`."""
    lon, lat = 13.30 + column * 0.005, 52.54
    area = AreaFactory(
        code=code,
        name=name,
        boundary=square(lon, lat, 0.004),
        target_take_rate=Decimal(target),
    )
    addresses = [
        AddressFactory(location=Point(lon + 0.0003 * (n + 1), lat + 0.0002 * (n + 1), srid=4326))
        for n in range(homes)
    ]
    for address in addresses[:orders]:
        signup_record(address=address, order_key=f"order:{code}-{address.pk}")
    for address in addresses[:interests]:
        interest_register(address=address, source="web")
    for service in FORWARD.get(phase, []):
        area = service(area=area, reason="town set-up")
    return Area.objects.get(pk=area.pk)


def build_town() -> dict[str, Area]:
    """The five areas of the table above, by code."""
    return {
        plan.code: area_with_demand(
            code=plan.code,
            name=plan.name,
            column=column,
            homes=plan.homes,
            interests=plan.interests,
            orders=plan.orders,
            target=plan.target,
            phase=plan.phase,
        )
        for column, plan in enumerate(PLANS)
    }


def build_many(count: int, *, start: int = 0) -> list[Area]:
    """`count` more areas, each with one home (codes z000, z001, …: after the town's)."""
    return [
        area_with_demand(code=f"z{n:03d}", name=f"Block {n:03d}", column=10 + n, homes=1)
        for n in range(start, start + count)
    ]


def row_codes(response) -> list[str]:
    """The area codes of the /areas/ table's rows, top to bottom."""
    return re.findall(r'<tr data-href="/areas/\d+/" data-code="([^"]+)"', response.text)
