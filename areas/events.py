"""Events the areas app publishes. Topics are never renamed or reused."""

from dataclasses import dataclass

AREA_CREATED = "area.created"
AREA_RESHAPED = "area.reshaped"
AREA_PHASE_CHANGED = "area.phase_changed"


@dataclass(frozen=True)
class AreaCreated:
    area_id: int
    code: str


@dataclass(frozen=True)
class AreaReshaped:
    area_id: int
    areas_touched: list[int]


@dataclass(frozen=True)
class AreaPhaseChanged:
    area_id: int
    from_phase: str
    to_phase: str
    actor_id: int | None
    reason: str
