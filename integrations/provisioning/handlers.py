"""Provisioning a finished installation's ONT when the work order asks for it.

An outbox handler (it talks to the access network, so it runs after commit, retried with
back-off): provision through the configured adapter, then verify, recording each outcome on
the ProvisioningJob through workorders' own service. A transient failure or an ONT that is
not up yet is recorded as `failed` and retried by the outbox; a refusal (4xx) is recorded as
`dead` with the vendor's reason, for the dispatcher, who re-queues it with
`workorders.services.provisioning_retry` once the cause is fixed.
"""

from __future__ import annotations

import logging

from django.conf import settings

from common.events import OUTBOX, Event, subscribe
from common.outbox import RetryLater
from integrations.provisioning.adapters import (
    ProvisioningAdapter,
    RejectedError,
    TransientError,
)
from integrations.provisioning.vendors import provisioning_adapter
from workorders.events import PROVISIONING_REQUESTED
from workorders.lifecycle import ProvisioningStatus
from workorders.models import ProvisioningJob
from workorders.services import provisioning_record

logger = logging.getLogger(__name__)


@subscribe(PROVISIONING_REQUESTED, kind=OUTBOX, name="integrations.provisioning.provision_ont")
def provision_ont(event: Event) -> None:
    """Provision and verify the job's ONT (one attempt; the outbox retries)."""
    provisioning_job_run(job_id=event.payload["job_id"], attempts_before=event.payload["attempt"])


def _vendor() -> str:
    return settings.PROVISIONING_VENDOR.strip().lower()


def address_ref(job: ProvisioningJob) -> str:
    """How the access network's records point back at the premises."""
    return f"oanm-address-{job.address_id}"


def provisioning_job_run(*, job_id: int, attempts_before: int = 0) -> ProvisioningJob:
    """One attempt at bringing the job's ONT up: provision, then verify.

    `attempts_before` is the job's attempt count when this round was requested: after
    PROVISIONING_MAX_ATTEMPTS failures in a round the job is given up (dead) rather than
    left failing until the outbox itself gives up.
    """
    # Locked for the attempt: a dispatcher's "retry now" may run while an older request
    # for the same job is due too; the second waits, then finds the job verified.
    job = ProvisioningJob.objects.select_for_update().get(pk=job_id)
    if job.status == ProvisioningStatus.VERIFIED:
        return job  # done already (a repeated request): the network is not asked again
    try:
        with provisioning_adapter() as adapter:
            return _provision_and_verify(job, adapter)
    except RejectedError as refused:
        logger.warning("provisioning of %s refused: %s", job.ont_serial, refused)
        return provisioning_record(
            job=job,
            status=ProvisioningStatus.DEAD,
            vendor=_vendor(),
            error=f"refused: {refused}",
        )
    except TransientError as failure:
        return _failed(job, attempts_before=attempts_before, error=str(failure))


def _provision_and_verify(job: ProvisioningJob, adapter: ProvisioningAdapter) -> ProvisioningJob:
    external_id = adapter.provision(
        ont_serial=job.ont_serial,
        address_ref=address_ref(job),
        speed_profile=job.speed_profile,
        download_mbps=job.download_mbps,
        upload_mbps=job.upload_mbps,
    )
    if job.provisioned_at is None or job.external_id != external_id:
        job = provisioning_record(
            job=job,
            status=ProvisioningStatus.PROVISIONED,
            vendor=adapter.vendor,
            external_id=external_id,
        )
    verification = adapter.verify(
        ont_serial=job.ont_serial, external_id=external_id, speed_profile=job.speed_profile
    )
    if not verification.is_verified:
        raise TransientError(f"provisioned, but not verified: {verification.detail}")
    return provisioning_record(
        job=job,
        status=ProvisioningStatus.VERIFIED,
        vendor=adapter.vendor,
        external_id=external_id,
    )


def _failed(job: ProvisioningJob, *, attempts_before: int, error: str) -> ProvisioningJob:
    """Record a failed attempt and ask the outbox to try again later — or, when this round
    has used up its attempts, record the job as dead (the outbox stops here too)."""
    limit = min(settings.PROVISIONING_MAX_ATTEMPTS, settings.OUTBOX_MAX_ATTEMPTS)
    job.refresh_from_db(fields=["attempts"])
    attempts_in_round = job.attempts + 1 - attempts_before
    if attempts_in_round >= limit:
        logger.error("provisioning of %s gave up: %s", job.ont_serial, error)
        return provisioning_record(
            job=job,
            status=ProvisioningStatus.DEAD,
            vendor=_vendor(),
            error=f"gave up after {attempts_in_round} attempts: {error}",
        )
    provisioning_record(job=job, status=ProvisioningStatus.FAILED, vendor=_vendor(), error=error)
    raise RetryLater(f"provisioning of {job.ont_serial} failed: {error}")
