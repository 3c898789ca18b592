"""Events the areas app publishes. Topics are never renamed or reused."""

from dataclasses import dataclass

AREA_CREATED = "area.created"
AREA_RESHAPED = "area.reshaped"
AREA_PHASE_CHANGED = "area.phase_changed"
AREA_SPLIT = "area.split"
AREA_DELETED = "area.deleted"


@dataclass(frozen=True)
class AreaCreated:
    area_id: int
    code: str


@dataclass(frozen=True)
class AreaReshaped:
    area_id: int
    addresses_reassigned: int
    areas_touched: list[int]


@dataclass(frozen=True)
class AreaPhaseChanged:
    area_id: int
    from_phase: str
    to_phase: str
    actor_id: int | None
    reason: str


@dataclass(frozen=True)
class AreaWasSplit:
    """`area.split`: the parent is retired, its two children replace it (first part first).

    Apps above react by copying what they keep per area (e.g. wholesale pricing) from the
    parent to the children.
    """

    parent_id: int
    child_ids: list[int]
    mode: str
    parent_code: str
    child_codes: list[str]
    split_id: int
    actor_id: int | None


@dataclass(frozen=True)
class AreaDeleted:
    """`area.deleted`: a planning area was deleted; its addresses went to the areas around
    them (or to none). The row stays, inactive, for history."""

    area_id: int
    code: str
    addresses_reassigned: int
    areas_touched: list[int]
    actor_id: int | None
    reason: str
