"""Demo scenario: the demo town's 3,006 real addresses (OpenStreetMap, ODbL)."""

from common.demo import DemoContext, demo_step
from gis_core.importing import import_addresses


@demo_step(order=20, name="Addresses of the demo town")
def load_addresses(context: DemoContext) -> None:
    report = import_addresses(context.data_dir / "addresses.geojson", system="osm")
    context.say(
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.rejected)} rejected"
    )
