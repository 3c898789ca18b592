"""The VETRO → oanm pull: service locations page by page, each page upserted set-based, and
the field's progress (drop / ONT installed) taken into the address lifecycle.

Each page of service locations is mapped (`mapping`) and upserted by
`gis_core.importing.import_address_rows(system="vetro")` (staged with COPY, no file; keyed by
ExternalReference(system="vetro", external_id=x-vetro.vetro_id); VETRO's address fields and
location replace oanm's, oanm's own fields are never written). Then the service locations
whose drop (or ONT) is installed move their address along its lifecycle through
`gis_core.services.address_connect` — only where the lifecycle allows it (in deployment →
connected); any other case is recorded on the run as a per-feature reason starting with
"lifecycle:", never an error. The page's upsert, its lifecycle moves and the run record's
counts and `next_offset` commit in one transaction, so a run killed mid-paging is resumed
from the page after the last committed one and a page is never counted twice. Re-running
changes nothing.

Sync safety (`integrations.safety`, docs/vetro.md): a run holds the `vetro` sync lock; per
page, one query finds the address fields both sides changed (VETRO wins;
`gis_sync.pulled_conflicts`, the same SQL as IQGeo's), two reads the commercial fields
changed in VETRO (oanm wins and pushes again), one upsert records what was pulled; a full
run keeps the ids it has seen (`SyncSeen`) and, having read every plan completely, retires
the addresses whose service location is gone.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from common.errors import DomainError
from gis_core.importing import import_address_rows
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address, ExternalReference
from gis_core.services import address_connect
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
from integrations.iqgeo.models import SyncRun
from integrations.models import SyncState
from integrations.safety import OANM, conflicts_record, sync_lock
from integrations.vetro.client import VetroClient, VetroError, vetro_id
from integrations.vetro.mapping import (
    FieldProgress,
    commercial_properties,
    fields,
    map_features,
)

SYSTEM = "vetro"
ADDRESS_FIELDS = ("street", "house_number", "unit", "postcode", "city", "country")
UNSTABLE = (
    "the service locations kept changing while paging: run again to pick up those inserted"
    " during this run"
)
SHIFTED = (
    "the number of service locations changed while the run was stopped: some may have moved"
    " past the resume offset (run --full again to read them)"
)
NOT_RETIRED = (
    "service locations may have been skipped while paging: nothing retired (run --full again)"
)
WORDING = RunWording(unstable=UNSTABLE, shifted=SHIFTED, not_retired=NOT_RETIRED)
COMMERCIAL_FIELDS = ("installation_status", "service_status", "service_type")


class VetroDisabled(VetroError):
    """USE_VETRO is off or VETRO_BASE_URL is empty."""


def vetro_enabled() -> bool:
    return bool(getattr(settings, "USE_VETRO", False) and getattr(settings, "VETRO_BASE_URL", ""))


def sync_vetro(
    *,
    full: bool = False,
    client: VetroClient | None = None,
    page_size: int | None = None,
    progress: Progress | None = None,
) -> SyncRun:
    """Run (or resume) a pull from VETRO and return its run record.

    Incremental (the default) asks only for service locations modified since the last
    successful run's high-water mark; without one it runs in full. A failure leaves the run
    `failed` with its error and offset; the next call in the same mode resumes it. One run
    at a time: another run of VETRO holding the sync lock raises `SyncAlreadyRunning`.
    A full run that read every plan retires the addresses whose service location is gone.
    """
    if not vetro_enabled():
        raise VetroDisabled("VETRO sync is off: set USE_VETRO and VETRO_BASE_URL")
    with sync_lock(SYSTEM):
        return _sync(full=full, client=client, page_size=page_size, progress=progress)


def _sync(
    *, full: bool, client: VetroClient | None, page_size: int | None, progress: Progress | None
) -> SyncRun:
    client = client or VetroClient.from_settings()
    page_size = page_size or int(getattr(settings, "VETRO_PAGE_SIZE", 500))
    extras = tuple(getattr(settings, "VETRO_EXTRA_PROPERTIES", ()) or ())

    def pages(run: SyncRun):
        return client.pages(
            start=run.next_offset, limit=page_size, modified_since=run.changed_since or None
        )

    def take_page(run: SyncRun, page) -> PageOutcome:
        rows, field_progress, rejected = map_features(page.features, extra_properties=extras)
        reasons = [[r.external_id, r.reason] for r in rejected]
        if run.mode == SyncRun.Mode.FULL:
            _seen(run, page.features)
        if rows:
            run.conflicts += pulled_conflicts(rows, system=SYSTEM, fields=ADDRESS_FIELDS, run=run)
            run.conflicts += _commercial_conflicts(run, rows, page.features)
            report = _upsert(rows)
            run.created += report.created
            run.updated += report.updated
            run.unchanged += report.unchanged
            reasons += [[r.external_id, r.reason] for r in report.rejected]
            refused = {r.external_id for r in report.rejected}
            pulled_remember(
                [
                    row["properties"]["external_id"]
                    for row in rows
                    if row["properties"]["external_id"] not in refused
                ],
                system=SYSTEM,
                fields=ADDRESS_FIELDS,
            )
        run.rejected += len(reasons)
        skipped = {external_id for external_id, _ in reasons}
        reasons += follow_the_field([p for p in field_progress if p.external_id not in skipped])
        push_drifted(page.features)
        return PageOutcome(
            rejections=reasons,
            high_water=[
                str(f["x-vetro"]["modified"])
                for f in page.features
                if isinstance(f.get("x-vetro"), dict) and f["x-vetro"].get("modified")
            ],
        )

    return sync_pages(
        system=SYSTEM,
        full=full,
        pages=pages,
        take_page=take_page,
        error=VetroError,
        wording=WORDING,
        retire=lambda run: _retire_missing(run, every_plan=not client.plan_ids),
        progress=progress,
    )


def _retire_missing(run: SyncRun, *, every_plan: bool) -> None:
    """After a full run: retire the addresses whose service location VETRO no longer has —
    unless the run read only some plans (the others' addresses were not looked at: with
    VETRO_PLAN_IDS, what is not seen may just be in a plan not read) or may have missed
    service locations (the set changed under the paging or while the run was stopped, fewer
    read than announced: the next full run retires them then) — and forget the ids seen."""
    retire_missing(
        run, system=SYSTEM, wording=WORDING, whole_set=every_plan, say_when_none_seen=False
    )


def _seen(run: SyncRun, features: list[dict]) -> None:
    """Remember the ids a full run read (kept across a resume; what is missing at the end
    is retired)."""
    seen_record(run, sorted({vetro_id(f) for f in features} - {""}))


def _commercial_conflicts(run: SyncRun, rows: list[dict], features: list[dict]) -> int:
    """Log the fields oanm owns (installation status, service status, service type) whose
    value in VETRO differs from the value last pushed: oanm wins, and the pull asks for a
    push again (`push_drifted`). Two reads for the page. (The address fields both sides
    changed are logged by `gis_sync.pulled_conflicts`, VETRO winning.)"""
    ids = [row["properties"]["external_id"] for row in rows]
    pushed = dict(
        SyncState.objects.filter(system=SYSTEM, external_id__in=ids)
        .exclude(pushed={})
        .values_list("external_id", "pushed")
    )
    if not pushed:
        return 0
    addresses = dict(
        ExternalReference.objects.filter(system=SYSTEM, external_id__in=list(pushed)).values_list(
            "external_id", "address_id"
        )
    )
    labels = fields()
    by_id = {vetro_id(f): f.get("properties") or {} for f in features}
    conflicts = [
        {
            "external_id": external_id,
            "address_id": addresses[external_id],
            "field": name,
            "oanm_value": last[labels[name]],
            "remote_value": by_id.get(external_id, {})[labels[name]],
            "winner": OANM,
        }
        for external_id, last in pushed.items()
        if external_id in addresses
        for name in COMMERCIAL_FIELDS
        if labels[name] in last
        and labels[name] in by_id.get(external_id, {})
        and by_id[external_id][labels[name]] != last[labels[name]]
    ]
    return conflicts_record(system=SYSTEM, rows=conflicts, run=run)


def _upsert(rows: list[dict]):
    # The mapped rows (GeoJSON features in EPSG:4326, properties named as oanm names them;
    # unmapped ones, the extra properties, become attributes) are staged with COPY and go
    # through the file import's checks and upsert: no file, no ogr2ogr process per page.
    return import_address_rows(rows, system=SYSTEM)


def push_drifted(features: list[dict]) -> list[int]:
    """Ask for a push of the addresses whose service location does not show oanm's
    commercial state as it stands now (never pushed yet, a push lost, or a value changed in
    VETRO): the pull is also the reconciliation of the push. A few reads per page; returns
    the address ids asked for."""
    from integrations.vetro.writeback import RECONCILIATION, commercial_states, vetro_push_request

    remote = {vetro_id(f): f.get("properties") or {} for f in features if vetro_id(f)}
    references = dict(
        ExternalReference.objects.filter(system=SYSTEM, external_id__in=list(remote)).values_list(
            "external_id", "address_id"
        )
    )
    if not references:
        return []
    states = commercial_states(list(references.values()))
    labels = fields()
    drifted = sorted(
        {
            address_id
            for external_id, address_id in references.items()
            if address_id in states
            and any(
                remote[external_id].get(label) != value
                for label, value in commercial_properties(states[address_id], labels=labels).items()
            )
        }
    )
    return vetro_push_request(address_ids=drifted, cause=RECONCILIATION)


def follow_the_field(progress: list[FieldProgress]) -> list[list[str]]:
    """Connect the addresses whose drop VETRO has as installed, where the lifecycle allows
    (in deployment → connected, through `address_connect`, so the orders waiting there become
    ready for activation and their ISPs are told). Returns [vetro id, reason] for each
    service location whose progress could not be taken over (its address is not in
    deployment yet); those already connected or activated need nothing."""
    done = {p.external_id: p for p in progress if p.physically_connected}
    if not done:
        return []
    references = dict(
        ExternalReference.objects.filter(system=SYSTEM, external_id__in=list(done)).values_list(
            "external_id", "address_id"
        )
    )
    addresses = Address.objects.in_bulk(list(references.values()))
    reasons = []
    for external_id in sorted(references, key=lambda key: references[key]):
        address = addresses[references[external_id]]
        what = "drop installed" if done[external_id].drop_installed else "ONT installed"
        if address.status in (AddressStatus.CONNECTED, AddressStatus.ACTIVATED):
            continue
        if address.status != AddressStatus.IN_DEPLOYMENT:
            reasons.append(
                [
                    external_id,
                    f"lifecycle: VETRO has the {what}, but address {address.pk} is "
                    f"{address.status} in oanm (only an address in deployment can be "
                    "connected): left as it is",
                ]
            )
            continue
        try:
            with transaction.atomic():
                address_connect(address=address, reason=f"VETRO: {what} ({external_id})")
        except DomainError as exc:
            reasons.append([external_id, f"lifecycle: {exc.message}"])
    return reasons
