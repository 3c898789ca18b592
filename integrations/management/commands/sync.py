"""`manage.py sync iqgeo [--full]`: import addresses from IQGeo, with a progress bar."""

from django.core.management.base import BaseCommand, CommandError

from integrations.iqgeo.client import IQGeoError
from integrations.iqgeo.importer import sync_iqgeo
from integrations.iqgeo.models import SyncRun
from integrations.safety import SyncAlreadyRunning

REJECTIONS_SHOWN = 20


class Command(BaseCommand):
    help = (
        "Sync addresses from a GIS of record (iqgeo). Incremental by default; --full reads "
        "every feature. A failed run is resumed by the next one. See docs/iqgeo.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("system", choices=["iqgeo"])
        parser.add_argument("--full", action="store_true", help="read every feature")
        parser.add_argument("--page-size", type=int, help="features per request")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        from tqdm import tqdm

        bar = tqdm(
            desc="iqgeo", unit=" features", file=self.stderr._out, disable=options["no_progress"]
        )

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            run = sync_iqgeo(
                full=options["full"], page_size=options["page_size"], progress=progress
            )
        except (IQGeoError, SyncAlreadyRunning) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        out = self.stdout
        if run.resumed:
            out.write(f"Resumed run {run.pk} ({run.resumed}x).")
        for external_id, reason in run.rejections[:REJECTIONS_SHOWN]:
            out.write(f"  rejected feature {external_id or '-'}: {reason}")
        if run.rejected > REJECTIONS_SHOWN:
            out.write(f"  … and {run.rejected - REJECTIONS_SHOWN} more (see run {run.pk})")
        summary = (
            f"IQGeo {run.mode} run {run.pk}: fetched {run.fetched}, created {run.created}, "
            f"updated {run.updated}, unchanged {run.unchanged}, rejected {run.rejected}, "
            f"retired {run.retired}, conflicts {run.conflicts} "
            f"in {run.duration_seconds:.1f} s"
        )
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(
                f"{summary}; FAILED: {'; '.join(run.errors)} (run again to resume from "
                f"offset {run.next_offset})"
            )
        style = self.style.WARNING if run.rejected or run.errors else self.style.SUCCESS
        out.write(style(summary))
        for error in run.errors:
            out.write(self.style.WARNING(f"  warning: {error}"))
