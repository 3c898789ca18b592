"""`manage.py sync iqgeo|vetro [--full]`: pull addresses from a GIS of record, with a
progress bar."""

from django.core.management.base import BaseCommand, CommandError

from integrations.iqgeo.client import IQGeoError
from integrations.iqgeo.importer import sync_iqgeo
from integrations.iqgeo.models import SyncRun
from integrations.safety import SyncAlreadyRunning
from integrations.vetro.client import VetroError
from integrations.vetro.importer import sync_vetro

REJECTIONS_SHOWN = 20
SYSTEMS = {
    # system: (name shown, the run, its errors)
    "iqgeo": ("IQGeo", sync_iqgeo, IQGeoError),
    "vetro": ("VETRO", sync_vetro, VetroError),
}


class Command(BaseCommand):
    help = (
        "Sync addresses from a GIS of record (iqgeo, vetro). Incremental by default; --full "
        "reads every feature. A failed run is resumed by the next one. See docs/iqgeo.md and "
        "docs/vetro.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("system", choices=sorted(SYSTEMS))
        parser.add_argument("--full", action="store_true", help="read every feature")
        parser.add_argument("--page-size", type=int, help="features per request")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        from tqdm import tqdm

        system = options["system"]
        name, sync, errors = SYSTEMS[system]
        bar = tqdm(
            desc=system, unit=" features", file=self.stderr._out, disable=options["no_progress"]
        )

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            run = sync(full=options["full"], page_size=options["page_size"], progress=progress)
        except (errors, SyncAlreadyRunning) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        out = self.stdout
        if run.resumed:
            out.write(f"Resumed run {run.pk} ({run.resumed}x).")
        for external_id, reason in run.rejections[:REJECTIONS_SHOWN]:
            out.write(f"  rejected feature {external_id or '-'}: {reason}")
        if len(run.rejections) > REJECTIONS_SHOWN:
            out.write(f"  … and more (see run {run.pk})")
        summary = (
            f"{name} {run.mode} run {run.pk}: fetched {run.fetched}, created {run.created}, "
            f"updated {run.updated}, unchanged {run.unchanged}, rejected {run.rejected}, "
            f"retired {run.retired}, conflicts {run.conflicts} "
            f"in {run.duration_seconds:.1f} s"
        )
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(
                f"{summary}; FAILED: {'; '.join(run.errors)} (run again to resume from "
                f"offset {run.next_offset})"
            )
        style = self.style.WARNING if run.rejections or run.errors else self.style.SUCCESS
        out.write(style(summary))
        for error in run.errors:
            out.write(self.style.WARNING(f"  warning: {error}"))
