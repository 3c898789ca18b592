"""The integrations app's models, defined by its parts."""

from integrations.sync.models import Change

__all__ = ["Change"]
