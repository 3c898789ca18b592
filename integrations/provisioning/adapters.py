"""The provisioning interface every vendor adapter speaks, and its typed errors.

An adapter knows one vendor's northbound API; the outbox handler (handlers.py) only knows
this interface. Errors say what to do next: a `TransientError` (the network, a 5xx, a
timeout) is worth another try later; a `RejectedError` (a 4xx: unknown ONT, bad profile,
refused credentials) will fail the same way until a person changes something.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


class ProvisioningError(Exception):
    """Something went wrong talking to the access network."""


class TransientError(ProvisioningError):
    """The request may succeed if tried again later: network error, timeout, 5xx, 429."""


class RejectedError(ProvisioningError):
    """The access network refused the request (4xx); repeating it will not help."""

    def __init__(self, message: str, *, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Verification:
    """What the access network says about a provisioned ONT: is it up with its service?"""

    is_verified: bool
    detail: str
    speed_profile: str = ""
    state: dict[str, Any] = field(default_factory=dict)


class ProvisioningAdapter(ABC):
    """Provision, verify and deprovision one ONT with a speed profile on one vendor's system.

    Every method is safe to repeat: provisioning an ONT that is there already updates it
    and returns the same external id (a retry after a timeout must never create a second
    record).
    """

    vendor: str = ""

    @abstractmethod
    def provision(
        self,
        *,
        ont_serial: str,
        address_ref: str,
        speed_profile: str,
        download_mbps: int,
        upload_mbps: int,
    ) -> str:
        """Create (or update) the ONT and its data service; returns the vendor's id for it."""

    @abstractmethod
    def verify(
        self, *, ont_serial: str, external_id: str = "", speed_profile: str = ""
    ) -> Verification:
        """Ask whether the ONT is up with its service (and, if given, with that profile)."""

    @abstractmethod
    def deprovision(self, *, ont_serial: str, external_id: str = "") -> bool:
        """Remove the ONT and its service; False when the vendor did not know it."""

    @abstractmethod
    def close(self) -> None:
        """Release the adapter's HTTP session."""

    def __enter__(self) -> ProvisioningAdapter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def profile_check(verification: Verification, speed_profile: str) -> Verification:
    """A verification that also insists on the expected profile, when one is given."""
    if not verification.is_verified or not speed_profile:
        return verification
    if verification.speed_profile != speed_profile:
        return Verification(
            is_verified=False,
            detail=(
                f"the ONT is up with profile {verification.speed_profile!r}, not {speed_profile!r}"
            ),
            speed_profile=verification.speed_profile,
            state=verification.state,
        )
    return verification
