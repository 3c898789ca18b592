"""The integrations app's models, defined by its parts."""

from integrations.iqgeo.models import SyncRun
from integrations.sync.models import Change

__all__ = ["Change", "SyncRun"]
