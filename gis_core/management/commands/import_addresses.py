"""manage.py import_addresses PATH: create or update addresses from any file GDAL reads."""

from django.core.management.base import BaseCommand, CommandError

from gis_core.importing import ADDRESS_FIELDS, import_addresses
from gis_core.staging import (
    ConsoleProgress,
    ImportFailed,
    add_import_arguments,
    parse_mapping,
    print_report,
)


class Command(BaseCommand):
    help = (
        "Import addresses from GeoJSON, GeoPackage, Shapefile, CSV (lon/lat or x/y columns) or "
        "any other format GDAL reads; upserted by (system, external id), so running the same "
        "file again changes nothing. Fields: " + ", ".join(ADDRESS_FIELDS) + "."
    )

    def add_arguments(self, parser):
        add_import_arguments(parser, fields=ADDRESS_FIELDS)
        parser.add_argument(
            "--system",
            default="osm",
            help="The system the file's ids belong to (osm, iqgeo, vetro, …); default osm.",
        )

    def handle(self, *args, **options):
        progress = ConsoleProgress(disable=options["no_progress"] or options["verbosity"] == 0)
        try:
            report = import_addresses(
                options["path"],
                system=options["system"],
                mapping=parse_mapping(options["map"]),
                srs=options["srs"],
                where=options["where"],
                layer=options["layer"],
                progress=progress,
            )
        except ImportFailed as exc:
            raise CommandError(exc.message) from exc
        finally:
            progress.close()
        print_report(self, report, rejects=options["rejects"], key="external_id")
