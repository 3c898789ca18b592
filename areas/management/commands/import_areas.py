"""manage.py import_areas PATH: create or update planning areas from any file GDAL reads."""

from django.core.management.base import BaseCommand, CommandError

from areas.importing import AREA_FIELDS, import_areas
from gis_core.staging import (
    ConsoleProgress,
    ImportFailed,
    add_import_arguments,
    parse_mapping,
    print_report,
)


class Command(BaseCommand):
    help = (
        "Import planning areas (Polygon/MultiPolygon) from GeoJSON, GeoPackage, Shapefile or any "
        "other format GDAL reads; upserted by code, so running the same file again changes "
        "nothing. Fields: " + ", ".join(AREA_FIELDS) + "."
    )

    def add_arguments(self, parser):
        add_import_arguments(parser, fields=AREA_FIELDS)
        parser.add_argument(
            "--make-valid",
            action="store_true",
            help="Repair invalid polygons with ST_MakeValid (each repair is listed) instead of "
            "rejecting them.",
        )

    def handle(self, *args, **options):
        progress = ConsoleProgress(disable=options["no_progress"] or options["verbosity"] == 0)
        try:
            report = import_areas(
                options["path"],
                mapping=parse_mapping(options["map"]),
                srs=options["srs"],
                where=options["where"],
                layer=options["layer"],
                make_valid=options["make_valid"],
                progress=progress,
            )
        except ImportFailed as exc:
            raise CommandError(exc.message) from exc
        finally:
            progress.close()
        print_report(self, report, rejects=options["rejects"], key="code")
