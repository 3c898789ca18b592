"""Provisioning a finished installation's ONT: through the outbox, over real HTTP to the
simulator, with each vendor's API shape, retries with back-off, refusals for the dispatcher
and verification that waits for the ONT to come up."""

import json
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from common.models import OutboxMessage, OutboxStatus
from common.outbox import outbox_drain
from integrations.provisioning.adapters import RejectedError, TransientError
from integrations.provisioning.client import http_session
from integrations.provisioning.handlers import address_ref, provisioning_job_run
from integrations.provisioning.simulator import ProvisioningSimulator, SimulatorServer
from integrations.provisioning.vendors import provisioning_adapter
from tests.conftest import REPO
from tests.integrations.conftest import SERIAL, finish_installation
from workorders.lifecycle import ProvisioningStatus
from workorders.models import ProvisioningJob
from workorders.services import provisioning_retry

HANDLER = "integrations.provisioning.provision_ont"


@pytest.fixture
def installed(field_town, settings, tmp_path):
    """A finished installation whose provisioning has been requested (not yet delivered)."""
    settings.MEDIA_ROOT = tmp_path
    return finish_installation(field_town)


def _message() -> OutboxMessage:
    return OutboxMessage.objects.get(handler=HANDLER)


def _rewind() -> None:
    """Time passes: the provisioning message's next attempt is due."""
    OutboxMessage.objects.filter(handler=HANDLER).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def _requests(simulator) -> list[tuple[str, int]]:
    return [(entry["method"], entry["status"]) for entry in simulator.snapshot()["log"]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the whole way: a completed work order ends with a verified ONT --------------------------


def test_a_completed_work_order_gets_its_ont_provisioned_and_verified(
    field_town, installed, simulator
):
    product = field_town.offering.product
    assert (installed.status, _message().status) == (
        ProvisioningStatus.PENDING,
        OutboxStatus.PENDING,
    )
    assert simulator.snapshot()["onts"] == {}  # nothing leaves before the drain

    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    onts = simulator.snapshot()["onts"]
    assert list(onts) == [SERIAL]
    ont = onts[SERIAL]
    assert (ont["speed_profile"], ont["download_mbps"], ont["upload_mbps"]) == (
        product.code,
        product.download_mbps,
        product.upload_mbps,
    )
    assert ont["address_ref"] == f"oanm-address-{job.address_id}" == address_ref(job)
    assert (job.status, job.vendor, job.external_id, job.attempts, job.last_error) == (
        ProvisioningStatus.VERIFIED,
        "simulator",
        f"ont-{ont['ont_id']}",
        0,
        "",
    )
    assert job.provisioned_at is not None
    assert job.verified_at is not None
    assert job.provisioned_at <= job.verified_at
    assert _message().status == OutboxStatus.DELIVERED
    assert _requests(simulator) == [("PUT", 201), ("GET", 200)]


@pytest.mark.parametrize(
    ("vendor", "external_id", "requests"),
    [
        ("calix", "1001", [("GET", 200), ("POST", 201), ("PUT", 200), ("GET", 200)]),
        ("nokia", f"{SERIAL},ont", [("PUT", 201), ("GET", 200)]),
        ("adtran", f"hsi-{SERIAL}", [("POST", 201), ("PUT", 202), ("GET", 200)]),
    ],
)
def test_each_vendor_adapter_provisions_through_its_own_api_shape(
    installed, simulator, settings, vendor, external_id, requests
):
    # given a simulator that insists on credentials, and the vendor's adapter configured
    simulator.username, simulator.password, simulator.token = "oanm", "s3cret", "tok-123"
    settings.PROVISIONING_VENDOR = vendor
    settings.PROVISIONING_USERNAME, settings.PROVISIONING_PASSWORD = "oanm", "s3cret"
    settings.PROVISIONING_TOKEN = "tok-123" if vendor == "nokia" else ""

    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert (job.status, job.vendor, job.external_id) == (
        ProvisioningStatus.VERIFIED,
        vendor,
        external_id,
    )
    assert simulator.snapshot()["onts"][SERIAL]["speed_profile"] == installed.speed_profile
    assert _requests(simulator) == requests


@pytest.mark.parametrize("vendor", ["simulator", "calix", "nokia", "adtran"])
def test_each_adapter_provisions_once_verifies_and_deprovisions(simulator_url, vendor):
    simulator_server = SimulatorServer(ProvisioningSimulator()).start()
    try:
        sim = simulator_server.simulator
        with provisioning_adapter(vendor, base_url=simulator_server.url) as adapter:
            fields = {
                "ont_serial": "CXNK00AA0001",
                "address_ref": "oanm-address-7",
                "speed_profile": "fibre-500",
                "download_mbps": 500,
                "upload_mbps": 100,
            }
            first = adapter.provision(**fields)
            again = adapter.provision(**{**fields, "speed_profile": "fibre-1000"})
            verified = adapter.verify(
                ont_serial="CXNK00AA0001", external_id=first, speed_profile="fibre-1000"
            )
            wrong_profile = adapter.verify(
                ont_serial="CXNK00AA0001", external_id=first, speed_profile="fibre-500"
            )
            assert first == again
            assert list(sim.snapshot()["onts"]) == ["CXNK00AA0001"]
            assert (verified.is_verified, verified.speed_profile) == (True, "fibre-1000")
            assert wrong_profile.is_verified is False
            assert wrong_profile.detail == (
                "the ONT is up with profile 'fibre-1000', not 'fibre-500'"
            )

            assert adapter.deprovision(ont_serial="CXNK00AA0001", external_id=first) is True
            assert sim.snapshot()["onts"] == {}
            assert adapter.deprovision(ont_serial="CXNK00AA0001", external_id=first) is False
            gone = adapter.verify(ont_serial="CXNK00AA0001", external_id=first)
            assert gone.is_verified is False
    finally:
        simulator_server.stop()


def test_wrong_credentials_are_a_refusal_for_the_dispatcher(installed, simulator, settings):
    simulator.username, simulator.password = "oanm", "s3cret"
    settings.PROVISIONING_VENDOR = "calix"
    settings.PROVISIONING_USERNAME, settings.PROVISIONING_PASSWORD = "oanm", "wrong"

    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert (job.status, job.last_error, job.attempts) == (
        ProvisioningStatus.DEAD,
        "refused: HTTP 401: authentication failed",
        1,
    )
    assert simulator.snapshot()["onts"] == {}


# --- failures: retried with back-off, or given to the dispatcher ------------------------------


def test_two_server_errors_are_retried_and_the_ont_is_made_once(installed, simulator):
    simulator.fail_next(2, status=503)

    first = outbox_drain()
    job = ProvisioningJob.objects.get(pk=installed.pk)
    message = _message()
    assert (first.failed, job.status, job.attempts) == (1, ProvisioningStatus.FAILED, 1)
    assert job.last_error == f"PUT /sim/v1/onts/{SERIAL}: HTTP 503: simulated failure"
    assert message.status == OutboxStatus.PENDING
    assert message.next_attempt_at > timezone.now()
    assert message.last_error == f"RetryLater: provisioning of {SERIAL} failed: {job.last_error}"
    assert outbox_drain().handled == 0  # not due yet: back-off

    _rewind()
    outbox_drain()
    assert ProvisioningJob.objects.get(pk=installed.pk).attempts == 2

    _rewind()
    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert (job.status, job.attempts, job.last_error) == (ProvisioningStatus.VERIFIED, 2, "")
    assert (_message().status, _message().attempts) == (OutboxStatus.DELIVERED, 3)
    assert list(simulator.snapshot()["onts"]) == [SERIAL]
    assert _requests(simulator) == [("PUT", 503), ("PUT", 503), ("PUT", 201), ("GET", 200)]


def test_a_timeout_is_retried_and_the_late_change_is_not_made_twice(installed, simulator, settings):
    # the simulator makes the ONT but answers after the client has given up
    settings.PROVISIONING_TIMEOUT_SECONDS = 0.3
    simulator.delay_next(1, seconds=1.0)

    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert (job.status, job.attempts, job.provisioned_at) == (ProvisioningStatus.FAILED, 1, None)
    assert job.last_error == f"PUT /sim/v1/onts/{SERIAL}: no answer within 0.3s"
    assert list(simulator.snapshot()["onts"]) == [SERIAL]

    _rewind()
    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert (job.status, job.attempts) == (ProvisioningStatus.VERIFIED, 1)
    assert list(simulator.snapshot()["onts"]) == [SERIAL]
    assert _requests(simulator) == [("PUT", 201), ("PUT", 200), ("GET", 200)]


def test_a_calix_create_answered_too_late_is_found_on_the_retry(installed, simulator, settings):
    settings.PROVISIONING_VENDOR = "calix"
    settings.PROVISIONING_TIMEOUT_SECONDS = 0.3
    simulator.delay_next(1, seconds=1.0, method="POST")

    outbox_drain()
    assert ProvisioningJob.objects.get(pk=installed.pk).status == ProvisioningStatus.FAILED
    _rewind()
    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    ont = simulator.snapshot()["onts"][SERIAL]
    assert (job.status, job.external_id) == (ProvisioningStatus.VERIFIED, str(ont["ont_id"]))
    assert len(simulator.snapshot()["onts"]) == 1
    assert _requests(simulator) == [
        ("GET", 200),
        ("POST", 201),  # made, but answered after the client gave up
        ("GET", 200),  # the retry finds it
        ("PUT", 200),
        ("GET", 200),
    ]


def test_a_refused_serial_is_dead_with_the_reason_until_the_dispatcher_retries(
    field_town, installed, simulator
):
    simulator.reject(SERIAL, "ONT serial not registered on any OLT")

    report = outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert (job.status, job.attempts, job.external_id, job.provisioned_at) == (
        ProvisioningStatus.DEAD,
        1,
        "",
        None,
    )
    assert (
        job.last_error == f"refused: HTTP 422: ONT {SERIAL}: ONT serial not registered on any OLT"
    )
    assert _message().status == OutboxStatus.DELIVERED  # not retried: it would fail again
    assert report.failed == 0
    assert simulator.snapshot()["onts"] == {}

    # the cause is fixed on the network side; the dispatcher tries again
    simulator.accept(SERIAL)
    provisioning_retry(job=job, actor=field_town.users["dispatcher"])
    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert (job.status, job.attempts, job.last_error) == (ProvisioningStatus.VERIFIED, 1, "")
    assert list(simulator.snapshot()["onts"]) == [SERIAL]
    assert OutboxMessage.objects.filter(handler=HANDLER).count() == 2


def test_the_dispatchers_retry_runs_now_and_the_older_request_finds_it_done(
    field_town, installed, simulator
):
    simulator.fail_next(1)
    outbox_drain()
    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert job.status == ProvisioningStatus.FAILED

    provisioning_retry(job=job, actor=field_town.users["dispatcher"])
    outbox_drain()  # only the new request is due; the first one is backing off

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert (job.status, job.attempts) == (ProvisioningStatus.VERIFIED, 1)
    _rewind()
    outbox_drain()
    assert list(OutboxMessage.objects.filter(handler=HANDLER).values_list("status", flat=True)) == [
        OutboxStatus.DELIVERED,
        OutboxStatus.DELIVERED,
    ]
    assert _requests(simulator) == [("PUT", 503), ("PUT", 201), ("GET", 200)]


def test_an_unknown_speed_profile_is_refused(installed, simulator):
    simulator.load({"profiles": ["gold-1000"]})

    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert job.status == ProvisioningStatus.DEAD
    assert job.last_error == (
        f"refused: HTTP 422: unknown speed profile {installed.speed_profile!r}"
    )
    assert simulator.snapshot()["onts"] == {}


def test_an_ont_not_up_yet_is_verified_again_until_it_is(installed, simulator):
    simulator.not_up(2)

    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    provisioned_at = job.provisioned_at
    assert (job.status, job.attempts, job.verified_at) == (ProvisioningStatus.FAILED, 1, None)
    assert provisioned_at is not None
    assert job.last_error == "provisioned, but not verified: operational state down"

    _rewind()
    outbox_drain()
    assert ProvisioningJob.objects.get(pk=installed.pk).status == ProvisioningStatus.FAILED
    _rewind()
    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert (job.status, job.attempts) == (ProvisioningStatus.VERIFIED, 2)
    assert job.provisioned_at == provisioned_at  # provisioned once, verified on the third look
    assert job.verified_at is not None
    assert list(simulator.snapshot()["onts"]) == [SERIAL]
    assert _requests(simulator) == [
        ("PUT", 201),
        ("GET", 200),
        ("PUT", 200),
        ("GET", 200),
        ("PUT", 200),
        ("GET", 200),
    ]


def test_a_round_gives_up_after_the_configured_attempts(installed, simulator, settings):
    settings.PROVISIONING_MAX_ATTEMPTS = 2
    simulator.fail_next(10, status=500)

    outbox_drain()
    _rewind()
    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert (job.status, job.attempts) == (ProvisioningStatus.DEAD, 2)
    assert job.last_error == (
        f"gave up after 2 attempts: PUT /sim/v1/onts/{SERIAL}: HTTP 500: simulated failure"
    )
    assert _message().status == OutboxStatus.DELIVERED
    _rewind()
    assert outbox_drain().handled == 0


def test_an_unreachable_system_is_a_transient_failure(installed, simulator, settings):
    settings.PROVISIONING_BASE_URL = f"http://127.0.0.1:{_free_port()}"

    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert (job.status, job.attempts) == (ProvisioningStatus.FAILED, 1)
    assert job.last_error.startswith(f"PUT /sim/v1/onts/{SERIAL}: ConnectionError: ")
    assert _message().status == OutboxStatus.PENDING


def test_an_unknown_vendor_is_a_refusal_naming_the_setting(installed, simulator, settings):
    settings.PROVISIONING_VENDOR = "huawei"

    outbox_drain()

    job = ProvisioningJob.objects.get(pk=installed.pk)
    assert job.status == ProvisioningStatus.DEAD
    assert job.last_error == (
        "refused: PROVISIONING_VENDOR='huawei' is not a known vendor "
        "(one of adtran, calix, nokia, simulator)"
    )
    assert simulator.snapshot()["log"] == []


def test_a_verified_job_is_not_provisioned_again(installed, simulator):
    outbox_drain()
    before = ProvisioningJob.objects.get(pk=installed.pk)

    again = provisioning_job_run(job_id=installed.pk)

    assert (again.status, again.verified_at) == (ProvisioningStatus.VERIFIED, before.verified_at)
    assert len(simulator.snapshot()["log"]) == 2


def test_adapter_errors_are_typed(simulator_url, simulator):
    with provisioning_adapter("simulator") as adapter:
        simulator.fail_next(1, status=502)
        with pytest.raises(TransientError, match="HTTP 502"):
            adapter.verify(ont_serial=SERIAL)
        with pytest.raises(RejectedError, match="a speed profile is required") as refused:
            adapter.provision(
                ont_serial=SERIAL,
                address_ref="x",
                speed_profile="",
                download_mbps=0,
                upload_mbps=0,
            )
    assert refused.value.status_code == 422
    assert simulator.snapshot()["onts"] == {}


# --- the simulator as the demo runs it ---------------------------------------------------------


def test_the_simulator_is_told_to_misbehave_over_http(simulator_url, simulator):
    session = http_session()
    try:
        told = session.post(
            f"{simulator_url}/_simulator/reject",
            json={"serial": "abc1", "reason": "stolen"},
            timeout=2,
        )
        bad = session.post(f"{simulator_url}/_simulator/delay", json={"count": 1}, timeout=2)
        unknown = session.post(f"{simulator_url}/_simulator/explode", timeout=2)
        state = session.get(f"{simulator_url}/_simulator/state", timeout=2).json()
    finally:
        session.close()

    assert (told.status_code, told.json()) == (200, {"ok": True})
    assert (bad.status_code, bad.json()) == (400, {"message": "bad control request: 'seconds'"})
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"message": "no control action 'explode'"},
    )
    assert state["rejected"] == {"ABC1": "stolen"}
    assert state["log"] == []  # control requests are not logged


def test_the_management_command_serves_the_simulator_with_a_seed(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"onts": [{"serial": "seed0001", "speed_profile": "fibre-100"}]}))
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "provisioning_simulator",
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--quiet",
        ],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        line = process.stdout.readline().decode()
        assert line.strip() == f"provisioning simulator listening on http://127.0.0.1:{port}"
        with provisioning_adapter("simulator", base_url=f"http://127.0.0.1:{port}") as adapter:
            verification = adapter.verify(ont_serial="SEED0001")
        assert (verification.is_verified, verification.speed_profile) == (True, "fibre-100")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        process.stdout.close()


def test_the_management_command_says_when_the_port_is_taken():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "provisioning_simulator", "--port", str(port)],
            cwd=REPO,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
