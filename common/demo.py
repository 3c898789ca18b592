"""The demo scenario: deterministic steps that each app contributes in its own `demo.py`.

`manage.py demo_load` imports every installed app's `demo` module (as the admin does with
`admin.py`) and runs the registered steps in order. Each step goes through the apps' own
services and is idempotent: running the whole scenario again changes nothing. Later
features extend the scenario by adding steps, never by writing a second loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import autodiscover_modules

DEMO_TOWN = Path(settings.BASE_DIR) / "data" / "berlin-wedding"


@dataclass
class DemoContext:
    """What steps share: where the demo town lives, what to print, and the logins made."""

    data_dir: Path = DEMO_TOWN
    say: Callable[[str], None] = print
    logins: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class DemoStep:
    order: int
    name: str
    func: Callable[[DemoContext], None]


_steps: dict[str, DemoStep] = {}


def demo_step(*, order: int, name: str) -> Callable:
    """Register a scenario step; lower `order` runs first (spine steps use 10–99)."""

    def register(func: Callable[[DemoContext], None]) -> Callable[[DemoContext], None]:
        _steps[name] = DemoStep(order, name, func)
        return func

    return register


def demo_steps() -> list[DemoStep]:
    """Every registered step, in the order they run."""
    autodiscover_modules("demo")
    return sorted(_steps.values(), key=lambda step: (step.order, step.name))
