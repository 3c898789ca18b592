"""The GIS systems oanm syncs with, by key: how each is run, switched on and described.

A system's importer is named by its dotted path and imported only when a run asks for it,
so a system whose package is not installed (or not written yet) is shown as unavailable
instead of breaking the others. Each importer takes `full=` and `progress=` keywords and
returns the `SyncRun` it recorded.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class SyncSystem:
    """One GIS of record that oanm pulls addresses from (and writes service status back to)."""

    key: str  # SyncRun.system
    label: str
    importer: str  # "module.path.function"
    enabled_setting: str  # the USE_… switch
    base_url_setting: str
    docs: str  # the page of docs/ that explains it
    schedule: str  # how the beat runs it, for the page ({SETTING} is filled in)

    @property
    def outbox_prefix(self) -> str:
        """The outbox handlers of this system's write-back are named under this prefix."""
        return f"integrations.{self.key}."

    @property
    def base_url(self) -> str:
        return str(getattr(settings, self.base_url_setting, "") or "")

    @property
    def schedule_text(self) -> str:
        """The schedule with the settings it names filled in."""
        return re.sub(
            r"\{([A-Z_]+)\}", lambda m: str(getattr(settings, m.group(1), "?")), self.schedule
        )

    @property
    def switched_on(self) -> bool:
        return bool(getattr(settings, self.enabled_setting, False))

    def load(self) -> Callable | None:
        """The importer function, or None when its module is not installed."""
        module_name, _, function = self.importer.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return None  # the system's package itself is missing, not a bug inside it
            raise
        return getattr(module, function, None)

    def unavailable_reason(self) -> str:
        """Why a run of this system cannot start now ('' when it can)."""
        if self.load() is None:
            return f"the {self.label} integration is not installed in this version of oanm"
        if not self.switched_on:
            return f"{self.enabled_setting} is off"
        if not self.base_url:
            return f"{self.base_url_setting} is not set"
        return ""


SYSTEMS: dict[str, SyncSystem] = {
    system.key: system
    for system in (
        SyncSystem(
            key="iqgeo",
            label="IQGeo",
            importer="integrations.iqgeo.importer.sync_iqgeo",
            enabled_setting="USE_IQGEO",
            base_url_setting="IQGEO_BASE_URL",
            docs="docs/iqgeo.md",
            schedule="an incremental pull every {IQGEO_SYNC_MINUTES} minutes and a full"
            " reconciliation daily at {IQGEO_FULL_SYNC_HOUR}:10 (beat)",
        ),
        SyncSystem(
            key="vetro",
            label="VETRO FiberMap",
            importer="integrations.vetro.importer.sync_vetro",
            enabled_setting="USE_VETRO",
            base_url_setting="VETRO_BASE_URL",
            docs="docs/vetro.md",
            schedule="an incremental pull every {VETRO_PULL_MINUTES} minutes and a full"
            " reconciliation daily at {VETRO_FULL_HOUR}:40 (beat)",
        ),
    )
}


def sync_system(key: str) -> SyncSystem | None:
    """The system registered under `key`, if any."""
    return SYSTEMS.get(key)
