"""`manage.py iqgeo_writeback`: queue a write-back of every IQGeo address to reconcile."""

from django.core.management.base import BaseCommand, CommandError

from integrations.iqgeo.writeback import iqgeo_writeback_request_all, writeback_enabled


class Command(BaseCommand):
    help = (
        "Queue a write-back of the commercial state of every IQGeo address that has one "
        "(after IQGEO_WRITEBACK was off, or a refusal was fixed); the outbox delivers them and "
        "skips those IQGeo has already. See docs/iqgeo.md."
    )

    def handle(self, *args, **options):
        if not writeback_enabled():
            raise CommandError(
                "IQGeo write-back is off: set USE_IQGEO, IQGEO_BASE_URL and IQGEO_WRITEBACK"
            )
        queued = iqgeo_writeback_request_all(cause="manage.py iqgeo_writeback")
        self.stdout.write(
            self.style.SUCCESS(f"Queued {queued} write-backs to IQGeo (the outbox delivers them).")
        )
