"""Demo scenario: the 8 postcode areas of the demo town, in different phases."""

from decimal import Decimal

from areas.importing import import_areas
from areas.lifecycle import AreaPhase
from areas.models import Area
from areas.services import area_deploy, area_go_live, area_start_demand_aggregation, area_update
from common.demo import DemoContext, demo_step

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
