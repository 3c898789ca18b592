"""The IQGeo → oanm address import: page by page, each page upserted set-based.

Each page of features is mapped (`mapping`), written to a GeoJSON file in EPSG:4326 and
upserted by `gis_core.importing.import_addresses(system="iqgeo")` (keyed by
ExternalReference(system="iqgeo", external_id=feature id); one SQL statement set per page;
IQGeo's address fields and location replace oanm's, oanm's own fields are never written).
The page's upsert and the run record's counts and `next_offset` commit in one transaction,
so a run killed mid-paging is resumed from the page after the last committed one, and a
page is never counted twice. Re-running changes nothing (every row is `unchanged`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gis_core.importing import import_address_rows
from integrations.iqgeo.client import IQGeoClient, IQGeoError
from integrations.iqgeo.mapping import map_features
from integrations.iqgeo.models import SyncRun

SYSTEM = "iqgeo"
REJECTIONS_KEPT = 200
Progress = Callable[[int, int], None]  # (features fetched so far, features announced)


class IQGeoDisabled(IQGeoError):
    """USE_IQGEO is off or IQGEO_BASE_URL is empty."""


def _resumable(mode: str) -> SyncRun | None:
    """The latest run of the system, if it did not finish and had the same mode."""
    latest = SyncRun.objects.filter(system=SYSTEM).order_by("-started_at", "-id").first()
    if latest and latest.status != SyncRun.Status.SUCCEEDED and latest.mode == mode:
        return latest
    return None


def _cursor() -> str:
    """The change time the last successful run reached ('' when there is none)."""
    last = (
        SyncRun.objects.filter(system=SYSTEM, status=SyncRun.Status.SUCCEEDED)
        .exclude(high_water="")
        .order_by("-started_at", "-id")
        .first()
    )
    return last.high_water if last else ""


def sync_iqgeo(
    *,
    full: bool = False,
    client: IQGeoClient | None = None,
    page_size: int | None = None,
    progress: Progress | None = None,
) -> SyncRun:
    """Run (or resume) an import from IQGeo and return its run record.

    Incremental (the default) asks only for features changed since the last successful
    run's high-water mark; without one it runs in full. A failure leaves the run `failed`
    with its error and offset; the next call in the same mode resumes it.
    """
    if not getattr(settings, "USE_IQGEO", False) or not getattr(settings, "IQGEO_BASE_URL", ""):
        raise IQGeoDisabled("IQGeo sync is off: set USE_IQGEO and IQGEO_BASE_URL")
    client = client or IQGeoClient.from_settings()
    page_size = page_size or int(getattr(settings, "IQGEO_PAGE_SIZE", 500))
    extras = tuple(getattr(settings, "IQGEO_EXTRA_PROPERTIES", ()) or ())
    change_field = getattr(settings, "IQGEO_CHANGE_FIELD", "myw_change_time")

    cursor = "" if full else _cursor()
    mode = SyncRun.Mode.INCREMENTAL if cursor else SyncRun.Mode.FULL
    run = _resumable(mode)
    if run is not None:
        run.resumed += 1
        run.status = SyncRun.Status.RUNNING
        run.save(update_fields=["resumed", "status"])
    else:
        run = SyncRun.objects.create(
            system=SYSTEM, mode=mode, started_at=timezone.now(), changed_since=cursor
        )
    started = time.monotonic() - run.duration_seconds
    try:
        for page in client.pages(
            start=run.next_offset, limit=page_size, changed_since=run.changed_since or None
        ):
            run.total = page.total
            rows, rejected = map_features(page.features, crs=page.crs, extra_properties=extras)
            times = [
                str(f["properties"][change_field])
                for f in page.features
                if (f.get("properties") or {}).get(change_field)
            ]
            with transaction.atomic():
                if rows:
                    report = _upsert(rows)
                    run.created += report.created
                    run.updated += report.updated
                    run.unchanged += report.unchanged
                    rejected += [(r.external_id, r.reason) for r in report.rejected]
                run.fetched += len(page.features)
                run.rejected += len(rejected)
                room = REJECTIONS_KEPT - len(run.rejections)
                run.rejections += [
                    [r.external_id, r.reason] if hasattr(r, "reason") else list(r)
                    for r in rejected[: max(room, 0)]
                ]
                run.high_water = max([run.high_water, *times])
                run.next_offset = page.next_offset or 0
                if page.unstable:
                    run.errors.append(
                        "the feature set kept changing while paging: run again to pick up"
                        " features inserted during this run"
                    )
                run.duration_seconds = time.monotonic() - started
                run.save()
            if progress:
                progress(run.fetched, run.total)
    except IQGeoError as exc:
        run.status = SyncRun.Status.FAILED
        run.errors.append(str(exc))
        _finish(run, started)
        return run
    run.status = SyncRun.Status.SUCCEEDED
    run.next_offset = 0
    _finish(run, started)
    return run


def _finish(run: SyncRun, started: float) -> None:
    run.finished_at = timezone.now()
    run.duration_seconds = time.monotonic() - started
    run.save()


def _upsert(rows: list[dict]):
    # The mapped rows (GeoJSON features in EPSG:4326, properties named as oanm names them;
    # unmapped ones, the extra properties, become attributes) are staged with COPY and go
    # through the file import's checks and upsert: no file, no ogr2ogr process per page.
    return import_address_rows(rows, system=SYSTEM)
