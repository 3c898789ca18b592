"""Writes of the areas app: creating and reshaping areas, and the phase lifecycle."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from areas import assignment
from areas.events import (
    AREA_CREATED,
    AREA_PHASE_CHANGED,
    AREA_RESHAPED,
    AreaCreated,
    AreaPhaseChanged,
    AreaReshaped,
)
from areas.lifecycle import AREA_TRANSITIONS, AreaPhase
from areas.models import Area, AreaPhaseChange
from common.errors import Conflict, DomainError
from common.events import publish
from gis_core.geometry import parse_multipolygon


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
    assignment.assign_addresses_near_areas([area.pk])
    publish(AREA_CREATED, AreaCreated(area_id=area.pk, code=area.code))
    return area


@transaction.atomic
def area_reshape(*, area: Area, boundary: Any, crs: Any = None) -> Area:
    """Give an area a new boundary; addresses leave or join it accordingly."""
    area = Area.objects.select_for_update().get(pk=area.pk)
    area.boundary = parse_multipolygon(boundary, crs=crs)
    area.save(update_fields=["boundary", "updated_at"])
    changed = assignment.assign_addresses_near_areas([area.pk])
    publish(AREA_RESHAPED, AreaReshaped(area_id=area.pk, addresses_reassigned=changed))
    return area


@transaction.atomic
def area_update(*, area: Area, name: str | None = None, target_take_rate: Any = None) -> Area:
    """Rename an area or change its target take rate."""
    area = Area.objects.select_for_update().get(pk=area.pk)
    if name is not None:
        if not name.strip():
            raise DomainError("an area needs a name", field="name")
        area.name = name.strip()
    if target_take_rate is not None:
        area.target_take_rate = _take_rate(target_take_rate)
    area.save(update_fields=["name", "target_take_rate", "updated_at"])
    return area


def _transition(*, area: Area, to: str, actor: User | None, reason: str) -> Area:
    """The one place an area's phase is assigned: lock, check, set, history, event."""
    area = Area.objects.select_for_update().get(pk=area.pk)
    if not area.is_active:
        raise DomainError(
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
