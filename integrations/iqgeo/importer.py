"""The IQGeo → oanm address import: page by page, each page upserted set-based.

Each page of features is mapped (`mapping`) to rows in EPSG:4326, staged with COPY and
upserted by `gis_core.importing.import_address_rows(system="iqgeo")` (keyed by
ExternalReference(system="iqgeo", external_id=feature id); one SQL statement set per page;
IQGeo's address fields and location replace oanm's, oanm's own fields are never written).
The page's upsert and the run record's counts and `next_offset` commit in one transaction,
so a run killed mid-paging is resumed from the page after the last committed one, and a
page is never counted twice. Re-running changes nothing (every row is `unchanged`).

Sync safety (`integrations.safety`, docs/sync-safety.md): a run holds the `iqgeo` sync lock
(a second concurrent run is refused with `SyncAlreadyRunning`); per page, in the page's
transaction, one query finds the fields both IQGeo and oanm changed since the last pull
(`SyncState.pulled`) and logs them as conflicts (IQGeo wins: it owns address fields and
location), and one query records what was pulled. A full run keeps the ids it has seen
(`SyncSeen`, with the run, so a resumed run still knows them); when it has read every
feature, the addresses whose feature is gone are retired (never deleted), and a feature
that comes back reinstates its address (`gis_core.importing`).
"""

from __future__ import annotations

from django.conf import settings

from gis_core.importing import import_address_rows
from integrations.gis_sync import (
    PageOutcome,
    Progress,
    RunWording,
    pulled_conflicts,
    pulled_remember,
    retire_missing,
    seen_record,
    sync_pages,
)
from integrations.iqgeo.client import IQGeoClient, IQGeoError
from integrations.iqgeo.mapping import ADDRESS_COLUMNS, map_features
from integrations.iqgeo.models import SyncRun
from integrations.safety import sync_lock

SYSTEM = "iqgeo"
UNSTABLE = (
    "the feature set kept changing while paging: run again to pick up"
    " features inserted during this run"
)
SHIFTED = (
    "the feature count changed while the run was stopped: features may have moved past"
    " the resume offset (run --full again to read them)"
)
NOT_RETIRED = "features may have been skipped while paging: nothing retired (run --full again)"
WORDING = RunWording(unstable=UNSTABLE, shifted=SHIFTED, not_retired=NOT_RETIRED)
# The address fields whose pulled values are kept and compared (the mapping's columns; IQGeo
# owns them all); a page compares those its rows carry, plus the location.
TRACKED_FIELDS = tuple(name for name in ADDRESS_COLUMNS if name != "external_id")


class IQGeoDisabled(IQGeoError):
    """USE_IQGEO is off or IQGEO_BASE_URL is empty."""


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
    # One run at a time: a second one is refused here (SyncAlreadyRunning), before it
    # touches a run record, so it can neither resume nor double the running one.
    with sync_lock(SYSTEM):
        return _sync(full=full, client=client, page_size=page_size, progress=progress)


def _sync(
    *,
    full: bool,
    client: IQGeoClient | None,
    page_size: int | None,
    progress: Progress | None,
) -> SyncRun:
    client = client or IQGeoClient.from_settings()
    page_size = page_size or int(getattr(settings, "IQGEO_PAGE_SIZE", 500))
    extras = tuple(getattr(settings, "IQGEO_EXTRA_PROPERTIES", ()) or ())
    change_field = getattr(settings, "IQGEO_CHANGE_FIELD", "myw_change_time")

    def pages(run: SyncRun):
        return client.pages(
            start=run.next_offset, limit=page_size, changed_since=run.changed_since or None
        )

    def take_page(run: SyncRun, page) -> PageOutcome:
        rows, rejected = map_features(page.features, crs=page.crs, extra_properties=extras)
        if run.mode == SyncRun.Mode.FULL:
            _remember_seen(run, page.features)
        if rows:
            run.conflicts += pulled_conflicts(rows, system=SYSTEM, fields=TRACKED_FIELDS, run=run)
            report = _upsert(rows)
            run.created += report.created
            run.updated += report.updated
            run.unchanged += report.unchanged
            rejected += [(r.external_id, r.reason) for r in report.rejected]
            refused = {r.external_id for r in report.rejected}
            pulled_remember(
                [
                    row["properties"]["external_id"]
                    for row in rows
                    if row["properties"]["external_id"] not in refused
                ],
                system=SYSTEM,
                fields=TRACKED_FIELDS,
            )
        run.rejected += len(rejected)
        return PageOutcome(
            rejections=[
                [r.external_id, r.reason] if hasattr(r, "reason") else list(r) for r in rejected
            ],
            high_water=[
                str(f["properties"][change_field])
                for f in page.features
                if (f.get("properties") or {}).get(change_field)
            ],
        )

    return sync_pages(
        system=SYSTEM,
        full=full,
        pages=pages,
        take_page=take_page,
        error=IQGeoError,
        wording=WORDING,
        retire=_retire_missing,
        progress=progress,
    )


def _retire_missing(run: SyncRun) -> None:
    """After a full run: retire the addresses whose feature IQGeo no longer has, unless the
    run may have missed features (the set changed under the paging or while the run was
    stopped, fewer features read than announced, or none at all: the next full run
    retires them then), and forget the ids seen."""
    retire_missing(run, system=SYSTEM, wording=WORDING)


def _remember_seen(run: SyncRun, features: list[dict]) -> None:
    """Record the page's feature ids with the run (in the page's transaction): what a full
    run has seen survives a kill and a resume. Rejected features count as seen (they are
    still in IQGeo); a feature read twice (the set changed while paging) is kept once."""
    seen_record(run, [str(f["id"]).strip() for f in features if f.get("id") is not None])


def _upsert(rows: list[dict]):
    # The mapped rows (GeoJSON features in EPSG:4326, properties named as oanm names them;
    # unmapped ones, the extra properties, become attributes) are staged with COPY and go
    # through the file import's checks and upsert: no file, no ogr2ogr process per page.
    return import_address_rows(rows, system=SYSTEM)
