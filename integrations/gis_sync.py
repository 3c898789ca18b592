"""What the GIS-of-record integrations (IQGeo, VETRO) share, parameterised by system.

- the pull's run bookkeeping (`sync_pages`): resume the unfinished run of the same mode or
  start one, the high-water cursor of incremental runs, page by page in one transaction each
  (counts, kept rejections, high-water mark, `next_offset`, the "set kept moving" notes),
  progress, a failure recorded on the run, and on success the full run's retirement of
  what was not seen (`retire_missing`);
- field ownership on the pull, set-based per page: the address fields both sides changed
  since the last pull (`pulled_conflicts`, the GIS wins) and what was pulled
  (`pulled_remember`), against `SyncState.pulled`;
- the clients' paging over a set that may move (`shifting_pages`: duplicates dropped,
  rescans from 0 when the total changed) and their bounded retries with back-off
  (`send_with_retries`, `retry_wait`);
- the write-back's subscriptions to the changes of an address's commercial state
  (`follow_commercial_changes`) and its pause after an outage (`OutagePause`);
- the mapping's common part (`Rejected`, `text`, `feature_point`);
- the demo step that adopts the demo town's addresses by their OSM id (`demo_adopt_and_sync`).

Each integration keeps its own names, wording and rules (what a feature's id is, how a page
is mapped and upserted, which conflicts it logs); only the mechanics live here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import requests
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from common.errors import DomainError
from common.events import IN_TRANSACTION, Event, subscribe
from gis_core.events import ADDRESS_STATUS_CHANGED, ADDRESSES_STATUS_CHANGED
from gis_core.geometry import point_lon_lat, srid_from_crs
from gis_core.models import Address, ExternalReference
from integrations.models import SyncRun, SyncSeen, SyncState
from integrations.safety import REMOTE, conflicts_record, features_retire_missing
from wholesale.events import (
    ORDER_STATUS_CHANGED,
    SERVICE_ACTIVATED,
    SERVICE_DEACTIVATED,
    SERVICE_PROFILE_CHANGED,
)

REJECTIONS_KEPT = 200  # per run: the first rejections' reasons are kept on the run record
MAX_RESCANS = 2  # a pager scans again from 0 at most this many times when the set moved
Progress = Callable[[int, int], None]  # (features fetched so far, features announced)


# --- the pull's run ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RunWording:
    """How a system's run notes tell the operator that the set moved (its own words)."""

    unstable: str  # the set kept changing while paging
    shifted: str  # the count changed while the run was stopped
    not_retired: str  # a full run that may have missed features retires nothing


class PageOutcome(NamedTuple):
    """What a system's page handler reports back to `sync_pages`."""

    rejections: list[list[str]]  # [external id, reason] to keep on the run (if room is left)
    high_water: list[str]  # the change times the page's features carry


def run_resumable(system: str, mode: str) -> SyncRun | None:
    """The latest run of the system, if it did not finish and had the same mode."""
    latest = SyncRun.objects.filter(system=system).order_by("-started_at", "-id").first()
    if latest and latest.status != SyncRun.Status.SUCCEEDED and latest.mode == mode:
        return latest
    return None


def run_cursor(system: str) -> str:
    """The change time the last successful run reached ('' when there is none)."""
    last = (
        SyncRun.objects.filter(system=system, status=SyncRun.Status.SUCCEEDED)
        .exclude(high_water="")
        .order_by("-started_at", "-id")
        .first()
    )
    return last.high_water if last else ""


def run_begin(system: str, *, full: bool) -> SyncRun:
    """Resume the unfinished run of the mode asked for, or start one: incremental from the
    last successful run's high-water mark, full when asked or when there is none."""
    cursor = "" if full else run_cursor(system)
    mode = SyncRun.Mode.INCREMENTAL if cursor else SyncRun.Mode.FULL
    run = run_resumable(system, mode)
    if run is not None:
        run.resumed += 1
        run.status = SyncRun.Status.RUNNING
        run.save(update_fields=["resumed", "status"])
        return run
    run = SyncRun.objects.create(
        system=system, mode=mode, started_at=timezone.now(), changed_since=cursor
    )
    # What abandoned runs had seen is of no use to anyone now.
    SyncSeen.objects.filter(run__system=system).exclude(run=run).delete()
    return run


def run_finish(run: SyncRun, started: float) -> None:
    run.finished_at = timezone.now()
    run.duration_seconds = time.monotonic() - started
    run.save()


def sync_pages(
    *,
    system: str,
    full: bool,
    pages: Callable[[SyncRun], Iterable[Any]],
    take_page: Callable[[SyncRun, Any], PageOutcome],
    error: type[Exception] | tuple[type[Exception], ...],
    wording: RunWording,
    retire: Callable[[SyncRun], None],
    progress: Progress | None = None,
) -> SyncRun:
    """Run (or resume) a pull of `system` and return its run record.

    `pages(run)` pages the remote from `run.next_offset` (since `run.changed_since` when
    set); each page has `total`, `features`, `next_offset` and `unstable`. `take_page(run,
    page)` upserts it and counts what it did on the run, inside the page's transaction, in
    which the run's bookkeeping commits too (so a killed run resumes after the last page
    committed, and a page is never counted twice). An `error` stops the run as failed (the
    next call in the same mode resumes it); a full run that ends calls `retire(run)` in the
    final transaction. The caller holds the system's sync lock.
    """
    run = run_begin(system, full=full)
    started = time.monotonic() - run.duration_seconds
    # A run resumed mid-paging: if the set changed meanwhile, offsets moved under it.
    total_when_stopped = run.total if run.resumed and run.next_offset else None
    try:
        for page in pages(run):
            if total_when_stopped is not None:
                if page.total != total_when_stopped and wording.shifted not in run.errors:
                    run.errors.append(wording.shifted)
                total_when_stopped = None
            run.total = page.total
            with transaction.atomic():
                outcome = take_page(run, page)
                run.fetched += len(page.features)
                room = REJECTIONS_KEPT - len(run.rejections)
                run.rejections += outcome.rejections[: max(room, 0)]
                run.high_water = max([run.high_water, *outcome.high_water])
                run.next_offset = page.next_offset or 0
                if page.unstable and wording.unstable not in run.errors:
                    run.errors.append(wording.unstable)
                run.duration_seconds = time.monotonic() - started
                run.save()
            if progress:
                progress(run.fetched, run.total)
    except error as exc:
        run.status = SyncRun.Status.FAILED
        run.errors.append(str(exc))
        run_finish(run, started)
        return run
    with transaction.atomic():
        if run.mode == SyncRun.Mode.FULL:
            retire(run)
        run.status = SyncRun.Status.SUCCEEDED
        run.next_offset = 0
        run_finish(run, started)
    return run


def seen_record(run: SyncRun, external_ids: Iterable[str]) -> None:
    """Record ids a full run read, with the run (in the page's transaction): what it has
    seen survives a kill and a resume; an id read twice is kept once, '' never."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {SyncSeen._meta.db_table} (run_id, external_id)
            SELECT %s, seen.external_id FROM unnest(%s::text[]) AS seen(external_id)
             WHERE seen.external_id <> ''
            ON CONFLICT (run_id, external_id) DO NOTHING
            """,
            [run.pk, list(external_ids)],
        )


def retire_missing(
    run: SyncRun,
    *,
    system: str,
    wording: RunWording,
    whole_set: bool = True,
    say_when_none_seen: bool = True,
) -> None:
    """After a full run: retire the addresses of `system` whose feature the run did not see,
    unless the run read only part of the remote (`whole_set` false: nothing is said) or may
    have missed features (the set changed under the paging or while the run was stopped,
    fewer read than announced, or none at all when `say_when_none_seen`: the next full run
    retires them then; the run says so) — and forget the ids seen."""
    seen = SyncSeen.objects.filter(run=run)
    if not whole_set:
        pass
    elif wording.unstable in run.errors or wording.shifted in run.errors or run.fetched < run.total:
        run.errors.append(wording.not_retired)
    elif not seen.exists():
        if say_when_none_seen:
            run.errors.append(wording.not_retired)
    else:
        run.retired += features_retire_missing(
            system=system, seen=seen.values_list("external_id", flat=True), run=run
        )
    seen.delete()


# --- field ownership on the pull ----------------------------------------------------------------
# A point as compared: 7 decimals (~1 cm), the same SQL for the stored and the pulled one.
POINT_TEXT = "round(ST_X({0})::numeric, 7) || ' ' || round(ST_Y({0})::numeric, 7)"


def _stored_fields_sql(alias: str, fields: tuple[str, ...]) -> str:
    """The tracked fields of a stored address, and its location, as one JSON object."""
    pairs = ", ".join(f"'{name}', {alias}.{name}" for name in fields)
    return f"jsonb_build_object({pairs}, 'location', {POINT_TEXT.format(f'{alias}.location')})"


def pulled_conflicts(
    rows: list[dict], *, system: str, fields: tuple[str, ...], run: SyncRun
) -> int:
    """Log the tracked address fields (and the location) of a page's mapped rows that the GIS
    changed (its value differs from the last pulled one) while oanm changed them too (the
    stored value differs from the last pulled one, and from the GIS's): one query for the
    page, one bulk insert. The GIS wins (the upsert that follows writes its value); returns
    how many conflicts were logged. A page none of whose features was pulled before (a first
    import) cannot conflict: one cheap look at SyncState skips the rest."""
    external_ids = [row["properties"]["external_id"] for row in rows]
    if not SyncState.objects.filter(system=system, external_id__in=external_ids).exists():
        return 0
    remote = [
        {
            "external_id": row["properties"]["external_id"],
            "fields": {name: value for name, value in row["properties"].items() if name in fields},
            "lon": row["geometry"]["coordinates"][0],
            "lat": row["geometry"]["coordinates"][1],
        }
        for row in rows
    ]
    point = POINT_TEXT.format("ST_MakePoint(r.lon, r.lat)")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH remote AS (
                SELECT r.external_id, field.key AS field, field.value AS remote_value
                  FROM jsonb_to_recordset(%(rows)s::jsonb)
                       AS r(external_id text, fields jsonb, lon float8, lat float8)
                 CROSS JOIN LATERAL jsonb_each_text(
                       r.fields || jsonb_build_object('location', {point})) AS field
            )
            SELECT remote.external_id, reference.address_id, remote.field,
                   stored.fields ->> remote.field, remote.remote_value
              FROM remote
              JOIN {SyncState._meta.db_table} AS state
                ON state.system = %(system)s AND state.external_id = remote.external_id
              JOIN {ExternalReference._meta.db_table} AS reference
                ON reference.system = %(system)s AND reference.external_id = remote.external_id
              JOIN {Address._meta.db_table} AS address ON address.id = reference.address_id
             CROSS JOIN LATERAL (SELECT {_stored_fields_sql("address", fields)} AS fields)
                   AS stored
             WHERE state.pulled ? remote.field
               AND remote.remote_value IS DISTINCT FROM state.pulled ->> remote.field
               AND stored.fields ->> remote.field IS DISTINCT FROM state.pulled ->> remote.field
               AND stored.fields ->> remote.field IS DISTINCT FROM remote.remote_value
             ORDER BY remote.external_id, remote.field
            """,
            {"rows": json.dumps(remote), "system": system},
        )
        found = cursor.fetchall()
    return conflicts_record(
        system=system,
        run=run,
        rows=[
            {
                "external_id": external_id,
                "address_id": address_id,
                "field": field,
                "oanm_value": oanm_value,
                "remote_value": remote_value,
                "winner": REMOTE,
            }
            for external_id, address_id, field, oanm_value, remote_value in found
        ],
    )


def pulled_remember(external_ids: list[str], *, system: str, fields: tuple[str, ...]) -> None:
    """Record, for the features just upserted, their tracked fields as now stored (what was
    pulled, as oanm keeps it): one INSERT … ON CONFLICT for the page, which rewrites only the
    states that changed (a re-run writes nothing; `pulled_at` is when they last did)."""
    if not external_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {SyncState._meta.db_table} AS state
                   (system, external_id, pulled, pulled_at, pushed)
            SELECT reference.system, reference.external_id,
                   {_stored_fields_sql("address", fields)}, %(now)s, '{{}}'::jsonb
              FROM {ExternalReference._meta.db_table} AS reference
              JOIN {Address._meta.db_table} AS address ON address.id = reference.address_id
             WHERE reference.system = %(system)s AND reference.external_id = ANY(%(ids)s)
            ON CONFLICT (system, external_id)
               DO UPDATE SET pulled = EXCLUDED.pulled, pulled_at = EXCLUDED.pulled_at
               WHERE state.pulled IS DISTINCT FROM EXCLUDED.pulled
            """,
            {"ids": external_ids, "system": system, "now": timezone.now()},
        )


# --- the mapping ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rejected:
    """A remote feature the mapping cannot take, and why."""

    external_id: str
    reason: str


def text(properties: dict[str, Any], name: str) -> str:
    """A property as trimmed text ('' when absent or null)."""
    value = properties.get(name)
    return "" if value is None else str(value).strip()


def feature_point(
    external_id: str, geometry: Any, *, crs: Any = None
) -> tuple[float, float] | Rejected:
    """A feature's (lon, lat) in EPSG:4326 (`crs`: the coordinates' reference system, None
    for 4326), or why it is rejected: no geometry, not a point, invalid coordinates."""
    if not isinstance(geometry, dict) or not geometry.get("coordinates"):
        return Rejected(external_id, "no geometry")
    if geometry.get("type") != "Point":
        return Rejected(external_id, f"not a point: expected a Point, got a {geometry.get('type')}")
    try:
        return point_lon_lat(geometry, crs=srid_from_crs(crs))
    except DomainError as exc:
        return Rejected(external_id, str(exc))


# --- the clients ---------------------------------------------------------------------------------
class Slice(NamedTuple):
    """One page as `shifting_pages` read it, before a client makes its own `Page` of it."""

    offset: int  # the offset this page was asked for
    next_offset: int | None  # 0 after a page that starts a rescan
    features: list[dict[str, Any]]  # de-duplicated
    total: int  # the set's size as this page reported it
    unstable: bool  # the last page, when the set kept changing
    data: Any  # the page's body as the client returned it


def shifting_pages(
    fetch: Callable[[int], tuple[Any, list[dict[str, Any]], int, int | None]],
    *,
    start: int,
    key: Callable[[dict[str, Any]], Any],
    max_rescans: int = MAX_RESCANS,
) -> Iterator[Slice]:
    """Every page from `start` to the end of a limit/offset paging that shifts when the set
    changes mid-run. `fetch(offset)` → (body, features, total, next offset). Features are
    de-duplicated by `key`; when the total changed between pages, the set is scanned again
    from offset 0 once the end is reached (at most `max_rescans` times; the features seen are
    skipped), so an inserted feature is not missed; if it still moves, the last page is
    `unstable`."""
    seen: set[Any] = set()
    offset: int | None = start
    first_total: int | None = None
    moved, rescans = False, 0
    while offset is not None:
        data, raw, total, next_offset = fetch(offset)
        if first_total is None:
            first_total = total
        elif total != first_total:
            moved = True
        features = []
        for feature in raw:
            feature_key = key(feature)
            if feature_key not in seen:
                seen.add(feature_key)
                features.append(feature)
        told_next, unstable = next_offset, False
        if next_offset is None and moved:
            if rescans < max_rescans:  # the set moved under us: scan it again
                rescans += 1
                moved, first_total, next_offset = False, None, 0
                told_next = 0  # a caller resuming scans again from 0
            else:
                unstable = True
        yield Slice(offset, told_next, features, total, unstable, data)
        offset = next_offset


def retry_wait(
    *,
    label: str,
    path: str,
    problem: str,
    failures: int,
    retries: int,
    backoff: float,
    unavailable: type[Exception],
    logger: logging.Logger,
) -> None:
    """Back off before the next attempt (exponentially), or give up once the retries are
    spent (`unavailable`)."""
    if failures > retries:
        raise unavailable(f"{label} {path} failed {failures} times, last: {problem}")
    logger.info("%s %s: %s; retry %d", label, path, problem, failures)
    time.sleep(backoff * 2 ** (failures - 1))


def send_with_retries(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: float,
    retry_status: Callable[[int], bool],
    wait: Callable[[str, int], None],
    **kwargs: Any,
) -> requests.Response:
    """One request, retried on the statuses `retry_status` names, timeouts and connection
    errors; `wait(problem, failures)` backs off or gives up."""
    failures = 0
    while True:
        try:
            response = session.request(method, url, timeout=timeout, **kwargs)
            if not retry_status(response.status_code):
                return response
            problem = f"HTTP {response.status_code}"
        except requests.Timeout:
            problem = f"no answer within {timeout:g} s"
        except requests.ConnectionError as exc:
            problem = f"connection failed ({exc.__class__.__name__})"
        failures += 1
        wait(problem, failures)


# --- the write-back -----------------------------------------------------------------------------
# The changes that touch an address's commercial state, which a write-back follows: an
# address's status (one, or many in bulk), an order's status, a service activated, changed or
# ended.
WHOLESALE_CHANGES = (
    ORDER_STATUS_CHANGED,
    SERVICE_ACTIVATED,
    SERVICE_PROFILE_CHANGED,
    SERVICE_DEACTIVATED,
)
COMMERCIAL_CHANGES = (ADDRESS_STATUS_CHANGED, ADDRESSES_STATUS_CHANGED, *WHOLESALE_CHANGES)


def follow_commercial_changes(request: Callable[..., Any], *, names: dict[str, str]) -> None:
    """Subscribe `request(address_ids=[…], cause=topic)` in the transaction of each change
    of `COMMERCIAL_CHANGES`, under the handler name `names[topic]`."""
    for topic in COMMERCIAL_CHANGES:
        many = topic == ADDRESSES_STATUS_CHANGED

        def react(event: Event, *, many: bool = many) -> None:
            payload = event.payload
            address_ids = payload["address_ids"] if many else [payload["address_id"]]
            request(address_ids=address_ids, cause=event.topic)

        subscribe(topic, kind=IN_TRANSACTION, name=names[topic])(react)


class OutagePause:
    """While a system was found unavailable less than `setting` seconds ago (default 30),
    pushes fail at once without asking it: a push to a server that is down spends every retry
    of the client, and the outbox drain (webhooks and provisioning too) would wait that long
    per waiting address. The outbox retries the message all the same; the first push after
    the pause asks again. Keyed per client (or server)."""

    def __init__(self, *, label: str, setting: str, unavailable: type[Exception]):
        self.label, self.setting, self.unavailable = label, setting, unavailable
        self._since: dict[Any, float] = {}

    def check(self, key: Any) -> None:
        since = self._since.get(key)
        if since is None:
            return
        pause = float(getattr(settings, self.setting, 30))
        waited = time.monotonic() - since
        if waited < pause:
            raise self.unavailable(
                f"{self.label} was unavailable {waited:.0f} s ago: not asked again before"
                f" {pause:g} s"
            )

    def began(self, key: Any) -> None:
        self._since[key] = time.monotonic()

    def ended(self, key: Any) -> None:
        self._since.pop(key, None)


# --- the demo -----------------------------------------------------------------------------------
DEMO_SHARED_SYSTEM = "osm"  # the demo town's addresses and the simulators' seeds share OSM ids


def demo_adopt_and_sync(
    context: Any,
    *,
    system: str,
    label: str,
    enabled: bool,
    switches: str,
    linked_to: str,
    base_url: str,
    make_client: Callable[[], Any],
    page_size: int,
    pair: Callable[[dict[str, Any]], tuple[str, str] | None],
    error: type[Exception],
    sync: Callable[..., SyncRun],
) -> None:
    """The demo step of a GIS of record: give every demo address its `system` id through the
    OSM id the simulator's seed keeps on each feature (`pair(feature)` → (its id, the OSM id),
    None without one; `external_references_adopt`, as an operator does once when connecting
    the GIS to an oanm that already holds the addresses), then run a full sync. A GIS that
    cannot be read is said and skipped; one that is off (not `enabled`: the settings
    `switches`) is said and changes nothing."""
    from gis_core.services import external_references_adopt

    if not enabled:
        context.say(f"{label} is off ({switches}): the addresses stay as loaded")
        return
    client = make_client()
    try:
        pairs = [
            found
            for page in client.pages(limit=page_size)
            for feature in page.features
            if (found := pair(feature)) is not None
        ]
    except error as exc:
        context.say(f"{label} at {base_url} cannot be read ({exc}): skipped")
        return
    adopted = external_references_adopt(system=system, by_system=DEMO_SHARED_SYSTEM, pairs=pairs)
    run = sync(full=True, client=client)
    context.say(
        f"{adopted} addresses linked to their {linked_to}; full sync {run.status}: "
        f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, "
        f"{run.rejected} rejected"
    )
