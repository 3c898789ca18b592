"""The shape every lifecycle shares: a map of allowed moves that explains refusals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from common.errors import InvalidTransition


class TransitionMap:
    """Allowed moves of one lifecycle: {from_status: {to_status, …}}."""

    def __init__(self, name: str, moves: Mapping[str, Iterable[str]]):
        self.name = name
        self.moves = {source: frozenset(targets) for source, targets in moves.items()}

    def allowed_from(self, source: str) -> frozenset[str]:
        return self.moves.get(source, frozenset())

    def can(self, source: str, target: str) -> bool:
        return target in self.allowed_from(source)

    def check(self, source: str, target: str) -> None:
        """Raise `InvalidTransition` naming the allowed moves when source → target is not one."""
        if self.can(source, target):
            return
        allowed = sorted(self.allowed_from(source))
        hint = f"allowed from {source}: {', '.join(allowed)}" if allowed else f"{source} is final"
        raise InvalidTransition(f"{self.name} cannot move from {source} to {target} ({hint})")
