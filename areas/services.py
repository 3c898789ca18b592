"""Writes of the areas app: creating and reshaping areas, and the phase lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from areas import assignment, splitting
from areas.events import (
    AREA_CREATED,
    AREA_DELETED,
    AREA_PHASE_CHANGED,
    AREA_RESHAPED,
    AREA_SPLIT,
    AreaCreated,
    AreaDeleted,
    AreaPhaseChanged,
    AreaReshaped,
    AreaWasSplit,
)
from areas.figures import refresh_figures
from areas.lifecycle import AREA_TRANSITIONS, AreaPhase
from areas.models import Area, AreaPhaseChange, AreaSplit, Interest, Signup
from common.errors import Conflict, DomainError, NotFound
from common.events import publish
from gis_core.geometry import parse_multipolygon
from gis_core.models import Address


def _take_rate(value: Any) -> Decimal:
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(
            f"target take rate {value!r} is not a number", field="target_take_rate"
        ) from exc
    if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):  # NaN cannot be compared
        raise DomainError(
            f"target take rate must be between 0 and 1 (e.g. 0.4 for 40%), not {value}",
            field="target_take_rate",
        )
    return rate.quantize(Decimal("0.0001"))


@transaction.atomic
def area_create(
    *,
    name: str,
    code: str,
    boundary: Any,
    target_take_rate: Any = Decimal("0.4"),
    attributes: dict | None = None,
    parent: Area | None = None,
    crs: Any = None,
) -> Area:
    """Create a planning area; the addresses inside it join it at once."""
    if not code or not code.strip():
        raise DomainError("an area needs a code", field="code")
    if Area.objects.filter(code=code).exists():
        raise Conflict(f"an area with code {code!r} already exists", field="code")
    area = Area.objects.create(
        name=(name or code).strip(),
        code=code.strip(),
        boundary=parse_multipolygon(boundary, crs=crs),
        target_take_rate=_take_rate(target_take_rate),
        attributes=attributes or {},
        parent=parent,
    )
    refresh_figures({area.pk} | assignment.assign_addresses_near_areas([area.pk]).areas)
    publish(AREA_CREATED, AreaCreated(area_id=area.pk, code=area.code))
    return area


@transaction.atomic
def area_reshape(*, area: Area, boundary: Any, crs: Any = None) -> Area:
    """Give an area a new boundary; addresses leave or join it accordingly."""
    area = Area.objects.select_for_update().get(pk=area.pk)
    area.boundary = parse_multipolygon(boundary, crs=crs)
    area.save(update_fields=["boundary", "updated_at"])
    relinked = assignment.assign_addresses_near_areas([area.pk])
    refresh_figures(relinked.areas | {area.pk})
    publish(
        AREA_RESHAPED,
        AreaReshaped(
            area_id=area.pk,
            addresses_reassigned=relinked.addresses,
            areas_touched=sorted(relinked.areas),
        ),
    )
    return area


@transaction.atomic
def area_delete(*, area: Area, actor: User | None = None, reason: str = "") -> Area:
    """Delete an area drawn by mistake: only while it is in planning and no signup stands in it.

    Nothing is erased: the row is retired (`is_active=False`, `deleted_at` set) with its
    history, its addresses go to the active area that contains them (or to none), and the
    map, the lists and the OGC API no longer show it. Its code stays taken.
    """
    area = Area.objects.select_for_update().get(pk=area.pk)
    if area.deleted_at is not None:
        raise NotFound(f"area {area.code} was deleted already", code="area_deleted")
    if not area.is_active:
        raise Conflict(f"area {area.code} was split; delete its parts instead", code="area_retired")
    if area.phase != AreaPhase.PLANNING:
        raise Conflict(
            f"area {area.code} is {area.get_phase_display()}: only an area still in planning"
            " can be deleted",
            code="area_not_in_planning",
        )
    standing = Signup.objects.filter(address__area=area, withdrawn_at__isnull=True).count()
    if standing:
        raise Conflict(
            f"area {area.code} has {standing} standing signup{'s' if standing != 1 else ''};"
            " it cannot be deleted while they stand",
            code="area_has_signups",
        )
    area.is_active = False
    area.deleted_at = timezone.now()
    area.save(update_fields=["is_active", "deleted_at", "updated_at"])
    relinked = assignment.assign_addresses_near_areas([area.pk])
    refresh_figures(relinked.areas | {area.pk})
    publish(
        AREA_DELETED,
        AreaDeleted(
            area_id=area.pk,
            code=area.code,
            addresses_reassigned=relinked.addresses,
            areas_touched=sorted(relinked.areas - {area.pk}),
            actor_id=actor.pk if actor else None,
            reason=(reason or "").strip()[:500],
        ),
    )
    return area


@transaction.atomic
def area_update(
    *,
    area: Area,
    name: str | None = None,
    target_take_rate: Any = None,
    deploys_at_target: bool | None = None,
    actor: User | None = None,
) -> Area:
    """Rename an area, change its target take rate or its opt-in to deploy at the target."""
    area = Area.objects.select_for_update().get(pk=area.pk)
    if name is not None:
        if not name.strip():
            raise DomainError("an area needs a name", field="name")
        area.name = name.strip()
    if target_take_rate is not None:
        area.target_take_rate = _take_rate(target_take_rate)
    if deploys_at_target is not None:
        area.deploys_at_target = deploys_at_target
    area.save(update_fields=["name", "target_take_rate", "deploys_at_target", "updated_at"])
    refresh_figures([area.pk])  # progress depends on the target
    deploy_areas_at_target([area.pk], actor=actor)
    area.refresh_from_db()
    return area


@transaction.atomic
def area_set_expected_connection(
    *, area: Area, first_day: date | None, last_day: date | None
) -> Area:
    """Say when homes in the area are expected to be connected (None, None: no promise)."""
    if (first_day is None) != (last_day is None):
        raise DomainError(
            "give both the first and the last day of the window, or neither",
            field="expected_connection_until" if last_day is None else "expected_connection_from",
        )
    if first_day is not None and last_day is not None and first_day > last_day:
        raise DomainError(
            f"the window must not end ({last_day}) before it starts ({first_day})",
            field="expected_connection_until",
        )
    area = Area.objects.select_for_update().get(pk=area.pk)
    area.expected_connection_from = first_day
    area.expected_connection_until = last_day
    area.save(update_fields=["expected_connection_from", "expected_connection_until", "updated_at"])
    return area


def _transition(*, area: Area, to: str, actor: User | None, reason: str) -> Area:
    """The one place an area's phase is assigned: lock, check, set, history, event."""
    area = Area.objects.select_for_update().get(pk=area.pk)
    if not area.is_active:
        raise Conflict(
            f"area {area.code} was split; change the phase of its parts", code="area_retired"
        )
    source = area.phase
    AREA_TRANSITIONS.check(source, to)
    now = timezone.now()
    area.phase = to
    area.phase_changed_at = now
    area.save(update_fields=["phase", "phase_changed_at", "updated_at"])
    AreaPhaseChange.objects.create(
        area=area, from_phase=source, to_phase=to, actor=actor, reason=reason, changed_at=now
    )
    publish(
        AREA_PHASE_CHANGED,
        AreaPhaseChanged(
            area_id=area.pk,
            from_phase=source,
            to_phase=to,
            actor_id=actor.pk if actor else None,
            reason=reason,
        ),
    )
    return area


@transaction.atomic
def area_start_demand_aggregation(
    *, area: Area, actor: User | None = None, reason: str = ""
) -> Area:
    """Open the area for interest and signups (the target take rate is fixed by now)."""
    return _transition(area=area, to=AreaPhase.DEMAND_AGGREGATION, actor=actor, reason=reason)


@transaction.atomic
def area_return_to_planning(*, area: Area, actor: User | None = None, reason: str = "") -> Area:
    """Stop gathering demand and take the area back to planning."""
    return _transition(area=area, to=AreaPhase.PLANNING, actor=actor, reason=reason)


@transaction.atomic
def area_deploy(*, area: Area, actor: User | None = None, reason: str = "") -> Area:
    """Decide to build: the area goes into deployment (work orders follow via the event)."""
    return _transition(area=area, to=AreaPhase.IN_DEPLOYMENT, actor=actor, reason=reason)


@transaction.atomic
def area_go_live(*, area: Area, actor: User | None = None, reason: str = "") -> Area:
    """The build is finished: the area is live."""
    return _transition(area=area, to=AreaPhase.LIVE, actor=actor, reason=reason)


def deploy_areas_at_target(area_ids, *, actor: User | None = None) -> list[Area]:
    """Move into deployment the opted-in areas gathering demand whose target is now reached."""
    ready = Area.objects.filter(
        pk__in=list(area_ids),
        is_active=True,
        deploys_at_target=True,
        phase=AreaPhase.DEMAND_AGGREGATION,
        figures__homes__gt=0,
        figures__progress__gte=1,
    ).order_by("pk")
    return [
        _transition(area=area, to=AreaPhase.IN_DEPLOYMENT, actor=actor, reason=AUTO_DEPLOY_REASON)
        for area in ready
    ]


AUTO_DEPLOY_REASON = "take rate reached the target (the area deploys at its target)"


def _demand_changed(address_area_id: int | None, actor: User | None) -> None:
    if address_area_id is not None:
        refresh_figures([address_area_id])
        deploy_areas_at_target([address_area_id], actor=actor)


@transaction.atomic
def interest_register(
    *, address: Address, source: str = "", at: datetime | None = None, actor: User | None = None
) -> Interest:
    """A resident registers interest at an address (non-binding; counts once per address)."""
    interest = Interest.objects.create(
        address=address, source=source[:30], registered_at=at or timezone.now()
    )
    _demand_changed(address.area_id, actor)
    return interest


@transaction.atomic
def interest_withdraw(*, interest: Interest, actor: User | None = None) -> Interest:
    """The resident takes their interest back; it stays in the book as withdrawn."""
    interest = Interest.objects.select_for_update().select_related("address").get(pk=interest.pk)
    if interest.withdrawn_at is not None:
        raise Conflict("this interest was already withdrawn", code="already_withdrawn")
    interest.withdrawn_at = timezone.now()
    interest.save(update_fields=["withdrawn_at"])
    _demand_changed(interest.address.area_id, actor)
    return interest


@transaction.atomic
def signup_record(
    *, address: Address, order_key: str, at: datetime | None = None, actor: User | None = None
) -> Signup:
    """Record that an order now exists at an address (called by the layer owning orders)."""
    if Signup.objects.filter(order_key=order_key).exists():
        raise Conflict(f"a signup for {order_key} is already recorded", code="duplicate_signup")
    signup = Signup.objects.create(
        address=address, order_key=order_key, signed_up_at=at or timezone.now()
    )
    _demand_changed(address.area_id, actor)
    return signup


@transaction.atomic
def signup_withdraw(*, order_key: str, actor: User | None = None) -> Signup:
    """The order behind a signup was cancelled: the signup stays in the book as withdrawn."""
    signup = (
        Signup.objects.select_for_update()
        .select_related("address")
        .filter(order_key=order_key)
        .first()
    )
    if signup is None:
        raise NotFound(f"no signup is recorded for {order_key}")
    if signup.withdrawn_at is None:
        signup.withdrawn_at = timezone.now()
        signup.save(update_fields=["withdrawn_at"])
        _demand_changed(signup.address.area_id, actor)
    return signup


# --- splitting an area -------------------------------------------------------------------


@dataclass(frozen=True)
class SplitPreview:
    """A split worked out but not applied, with what each part would hold."""

    plan: splitting.SplitPlan
    figures: tuple[splitting.PartFigures, splitting.PartFigures]


@dataclass(frozen=True)
class SplitResult:
    """A split applied: its record, the retired parent and its two children (first part first)."""

    split: AreaSplit
    parent: Area
    children: tuple[Area, Area]
    note: str


def area_split_preview(
    *,
    area: Area,
    line: Any = None,
    mode: str | None = splitting.LINE,
    axis: str | None = splitting.NORTH_SOUTH,
    share: Any = None,
    crs: Any = None,
) -> SplitPreview:
    """Show how `area_split` would cut the area, and what each part would hold; writes nothing."""
    area = Area.objects.get(pk=area.pk)
    plan = splitting.plan_split(area=area, mode=mode, axis=axis, share=share, line=line, crs=crs)
    return SplitPreview(plan=plan, figures=splitting.part_figures(plan))


def _split_reason(parent: Area, reason: str) -> str:
    inherited = f"split from {parent.code}: inherits its phase"
    return f"{inherited} ({reason})"[:500] if reason else inherited


@transaction.atomic
def area_split(
    *,
    area: Area,
    line: Any = None,
    mode: str | None = splitting.LINE,
    axis: str | None = splitting.NORTH_SOUTH,
    share: Any = None,
    crs: Any = None,
    actor: User | None = None,
    reason: str = "",
) -> SplitResult:
    """Split an area in two (by a drawn line, in half, or by a share of its orders).

    The two children inherit the parent's phase (set at creation, not a transition; their
    history says so), target take rate, opt-in to deploy at the target and attributes. The
    parent is retired (`is_active=False`) and stays in history with an `AreaSplit` record;
    every address of it goes to the child that contains it (one on the line to the first,
    lower-id child); figures follow: the parent's go to zero (its daily series keeps the
    days before), so lists of active areas never count an address twice.
    """
    area = Area.objects.select_for_update().get(pk=area.pk)
    plan = splitting.plan_split(area=area, mode=mode, axis=axis, share=share, line=line, crs=crs)
    reason = (reason or "").strip()
    now = timezone.now()
    children = tuple(
        Area.objects.create(
            name=part.name[: Area._meta.get_field("name").max_length],
            code=part.code,
            boundary=part.boundary,
            phase=area.phase,
            phase_changed_at=area.phase_changed_at or now,
            parent=area,
            target_take_rate=area.target_take_rate,
            deploys_at_target=area.deploys_at_target,
            attributes=dict(area.attributes),
            expected_connection_from=area.expected_connection_from,
            expected_connection_until=area.expected_connection_until,
        )
        for part in plan.parts
    )
    area.is_active = False
    area.save(update_fields=["is_active", "updated_at"])
    AreaPhaseChange.objects.bulk_create(
        AreaPhaseChange(
            area=child,
            from_phase=area.phase,
            to_phase=area.phase,
            actor=actor,
            reason=_split_reason(area, reason),
            changed_at=now,
        )
        for child in children
    )
    record = AreaSplit.objects.create(
        parent=area,
        first_child=children[0],
        second_child=children[1],
        line=plan.line,
        mode=plan.mode,
        actor=actor,
        reason=reason[:500],
        split_at=now,
    )
    gained = splitting.relink_split_addresses(area)
    refresh_figures({area.pk, *(child.pk for child in children)} | gained)
    for child in children:
        publish(AREA_CREATED, AreaCreated(area_id=child.pk, code=child.code))
    publish(
        AREA_SPLIT,
        AreaWasSplit(
            parent_id=area.pk,
            child_ids=[child.pk for child in children],
            mode=plan.mode,
            parent_code=area.code,
            child_codes=[child.code for child in children],
            split_id=record.pk,
            actor_id=actor.pk if actor else None,
        ),
    )
    # a child whose part of the demand already reaches the target deploys, if opted in
    deploy_areas_at_target([child.pk for child in children], actor=actor)
    for child in children:
        child.refresh_from_db()
    return SplitResult(split=record, parent=area, children=children, note=plan.note)
