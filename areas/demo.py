"""Demo scenario: the 8 postcode areas of the demo town, in different phases, and the interest
residents registered in them.

Demand is placed deterministically: the addresses of an area are ranked by a hash of their
OSM id (optionally leaning north, so demand clusters somewhere), and times are spread over
the last `HISTORY_DAYS` days by another hash. The orders step (wholesale.demo) uses the same.
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import OuterRef, Subquery, Sum
from django.utils import timezone

from areas.importing import import_areas
from areas.lifecycle import AreaPhase
from areas.models import Area, Interest
from areas.services import (
    area_deploy,
    area_go_live,
    area_start_demand_aggregation,
    area_update,
    interest_register,
    interest_withdraw,
)
from common.demo import DemoContext, demo_step
from gis_core.models import Address, ExternalReference

REASON = "demo scenario"
# code → (name, phase it should reach, target take rate): a town at every stage of the build.
# OSM names postcode areas by their code; the demo names them after their district.
SCENARIO = {
    "13405": ("Reinickendorf 13405", AreaPhase.LIVE, Decimal("0.30")),
    "13353": ("Wedding 13353", AreaPhase.IN_DEPLOYMENT, Decimal("0.40")),
    "13347": ("Wedding 13347", AreaPhase.DEMAND_AGGREGATION, Decimal("0.40")),
    "13349": ("Wedding 13349", AreaPhase.DEMAND_AGGREGATION, Decimal("0.35")),
    "13407": ("Reinickendorf 13407", AreaPhase.DEMAND_AGGREGATION, Decimal("0.50")),
    "13351": ("Wedding 13351", AreaPhase.PLANNING, Decimal("0.40")),
    "13403": ("Reinickendorf 13403", AreaPhase.PLANNING, Decimal("0.45")),
    "13627": ("Charlottenburg-Nord 13627", AreaPhase.PLANNING, Decimal("0.40")),
}
# The way forward through the lifecycle, one service per step.
FORWARD = [
    (AreaPhase.PLANNING, area_start_demand_aggregation),
    (AreaPhase.DEMAND_AGGREGATION, area_deploy),
    (AreaPhase.IN_DEPLOYMENT, area_go_live),
]
ORDER = [AreaPhase.PLANNING, AreaPhase.DEMAND_AGGREGATION, AreaPhase.IN_DEPLOYMENT, AreaPhase.LIVE]


@demo_step(order=30, name="Postcode areas of the demo town")
def load_areas(context: DemoContext) -> None:
    report = import_areas(context.data_dir / "areas.geojson", where="kind = 'postcode'")
    context.say(
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.rejected)} rejected"
    )


@demo_step(order=40, name="Area phases and targets")
def advance_areas(context: DemoContext) -> None:
    """Walk each area forward to its scenario phase; areas already there are left alone."""
    for code, (name, target_phase, take_rate) in SCENARIO.items():
        area = Area.objects.filter(code=code, is_active=True).first()
        if area is None:
            context.say(f"area {code} is missing; skipped")
            continue
        if area.phase == AreaPhase.PLANNING and not area.phase_history.exists():
            area = area_update(area=area, name=name, target_take_rate=take_rate)
        for phase, service in FORWARD:
            if area.phase == phase and ORDER.index(phase) < ORDER.index(target_phase):
                area = service(area=area, reason=REASON)
        context.say(f"{code} {area.name}: {area.get_phase_display()}")


# The demand history spans this many days up to yesterday (the daily series' length).
HISTORY_DAYS = 120
DEMO_SYSTEM = "osm"


def demand_unit(*parts: str) -> float:
    """A number in [0, 1) fixed by the parts: the demo's dice, the same on every run."""
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def ranked_addresses(area: Area, *, salt: str, north_tilt: float = 0.0) -> list[Address]:
    """The area's addresses in a fixed random order; the first N are the N that take part.

    `north_tilt` (0 to 1) makes northern addresses likelier to come first: weighted sampling
    without replacement (key = u ** (1 / weight)), the weight rising exponentially from the
    southernmost address to the northernmost, e**(±3 × tilt). Each address carries its OSM
    id as `demo_key`.
    """
    osm_id = ExternalReference.objects.filter(address=OuterRef("pk"), system=DEMO_SYSTEM)
    addresses = list(
        Address.objects.filter(area=area)
        .annotate(demo_key=Subquery(osm_id.values("external_id")))
        .filter(demo_key__isnull=False)
    )
    by_latitude = sorted(addresses, key=lambda address: (address.location.y, address.demo_key))
    share_north = {
        address.pk: index / max(len(addresses) - 1, 1) for index, address in enumerate(by_latitude)
    }

    def key(address: Address) -> tuple[float, str]:
        weight = math.exp(3 * north_tilt * (2 * share_north[address.pk] - 1))
        return (-(demand_unit(salt, address.demo_key) ** (1 / weight)), address.demo_key)

    return sorted(addresses, key=key)


def area_homes(area: Area) -> int:
    """Homes in an area (addresses counting MDU units), counted afresh."""
    return Address.objects.filter(area=area).aggregate(homes=Sum("units"))["homes"] or 0


def demo_moment(
    today: date, key: str, *, oldest: int, newest: int, recent_weight: float = 1.0
) -> datetime:
    """A moment between `oldest` and `newest` days ago, in daytime, fixed by `key`.

    `recent_weight` above 1 crowds the moments towards `newest` (a campaign gaining pace).
    """
    share = demand_unit("when", key) ** recent_weight
    days_ago = newest + round((oldest - newest) * share)
    minute = int(demand_unit("minute", key) * 13 * 60)
    at = datetime.combine(today - timedelta(days=days_ago), time(8 + minute // 60, minute % 60))
    return timezone.make_aware(at)


@dataclass(frozen=True)
class InterestPlan:
    """How much interest an area has gathered, over which days, and where it leans."""

    share: Decimal
    oldest: int
    newest: int
    recent_weight: float = 1.0
    north_tilt: float = 0.0


# code → the share of homes that registered interest, and when.
INTEREST_SCENARIO = {
    "13405": InterestPlan(Decimal("0.20"), oldest=120, newest=60),
    "13353": InterestPlan(Decimal("0.18"), oldest=120, newest=30),
    "13347": InterestPlan(Decimal("0.35"), oldest=110, newest=1, recent_weight=1.5),
    "13349": InterestPlan(Decimal("0.16"), oldest=110, newest=1, north_tilt=0.8),
    "13407": InterestPlan(Decimal("0.40"), oldest=110, newest=1, recent_weight=1.3),
    # planning areas: a first survey, started two months ago
    "13351": InterestPlan(Decimal("0.05"), oldest=60, newest=1),
    "13403": InterestPlan(Decimal("0.15"), oldest=60, newest=1),
    "13627": InterestPlan(Decimal("0.10"), oldest=60, newest=1, north_tilt=0.5),
}
INTEREST_SOURCES = [(0.6, "web"), (0.9, "door-to-door"), (1.0, "event")]
INTEREST_WITHDRAWN_SHARE = 0.03


def _interest_source(key: str) -> str:
    roll = demand_unit("source", key)
    return next(source for limit, source in INTEREST_SOURCES if roll < limit)


@demo_step(order=45, name="Interest registered in the areas")
@transaction.atomic
def register_interest(context: DemoContext) -> None:
    """Each area's share of homes registers interest; a few residents take it back today."""
    today = timezone.localdate()
    for code, plan in INTEREST_SCENARIO.items():
        area = Area.objects.filter(code=code, is_active=True).first()
        if area is None:
            context.say(f"area {code} is missing; skipped")
            continue
        count = round(plan.share * area_homes(area))
        chosen = ranked_addresses(area, salt=f"interest:{code}", north_tilt=plan.north_tilt)
        interests = {
            interest.address_id: interest
            for interest in Interest.objects.filter(address__area=area).order_by("pk")
        }
        registered = withdrawn = 0
        for address in chosen[:count]:
            interest = interests.get(address.pk)
            if interest is None:
                at = demo_moment(
                    today,
                    f"interest:{address.demo_key}",
                    oldest=plan.oldest,
                    newest=plan.newest,
                    recent_weight=plan.recent_weight,
                )
                interest = interest_register(
                    address=address, source=_interest_source(address.demo_key), at=at
                )
                registered += 1
            quits = demand_unit("interest-withdrawn", address.demo_key) < INTEREST_WITHDRAWN_SHARE
            if quits and interest.is_live:
                interest_withdraw(interest=interest)
                withdrawn += 1
        context.say(f"{code}: {registered} interests registered, {withdrawn} withdrawn")
