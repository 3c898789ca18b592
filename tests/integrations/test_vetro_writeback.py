"""oanm → VETRO through the outbox, over real HTTP to the simulator: the commercial state
follows the address from order to activation (with the field's progress coming from VETRO),
in order per address, retried while VETRO is down, never doubled; nothing when VETRO is off.
The outbox is drained with the real `common.outbox` functions."""

import pytest
from django.utils import timezone

from areas.services import area_deploy
from common.events import _schedule_drain
from common.models import OutboxMessage, OutboxStatus
from common.outbox import outbox_drain, outbox_prune
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from gis_core.services import address_await_deployment
from integrations.vetro.importer import sync_vetro
from integrations.vetro.writeback import VETRO_PUSH_REQUESTED
from tests.integrations.vetro_fixtures import vetro_server  # noqa: F401  (the fixture "vetro")
from wholesale.activation import service_activate
from wholesale.lifecycle import OrderStatus

pytestmark = pytest.mark.django_db

HANDLER = "integrations.vetro.push_address"
IN_THE_TOWN = {"type": "Point", "coordinates": [13.3515, 52.5415]}  # in field_town's area
LOCATION = {
    "ID": "SL-000001",
    "Street": "Seestraße",
    "House Number": "5",
    "Postal Code": "13353",
    "City": "Berlin",
    "Country": "DE",
    "Drop Installed": "No",
    "ONT Installed": "No",
}


def _pushes() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(handler=HANDLER).order_by("id"))


def _state(sim, vetro_id: str) -> tuple[str, str, str]:
    properties = sim.get(vetro_id)["properties"]
    return tuple(
        properties.get(name) for name in ("Installation Status", "Service Status", "Service Type")
    )


@pytest.fixture
def located(vetro, field_town):
    """One VETRO service location in the field town's area, imported into oanm, with oanm's
    first word on it delivered (the pull asks for it: VETRO did not show oanm's state yet)."""
    sim = vetro([{"geometry": IN_THE_TOWN, "properties": LOCATION, "plan_id": 1}])
    sync_vetro(full=True)
    vetro_id = sim.features[0]["vetro_id"]
    address = Address.objects.get(external_refs__system="vetro")
    assert address.area_id == field_town.area.pk
    assert outbox_drain().delivered == 1
    assert _state(sim, vetro_id) == ("Not Installed", "Inactive", "")
    sim.patches.clear()
    outbox_prune(older_than_days=0)  # the tests count their own pushes
    assert not _pushes()
    return sim, vetro_id, address


def test_the_commercial_state_follows_the_address_from_order_to_activation(located, field_town):
    sim, vetro_id, address = located

    order = field_town.order(address)  # the address joins the build queue; the order waits
    assert [m.ordering_key for m in _pushes()] == [f"address:{address.pk}"] * 2
    assert outbox_drain().delivered >= 2
    assert _state(sim, vetro_id) == ("Ordered", "Inactive", "")
    assert len(sim.patches) == 1  # the first push saw the second waiting: one request

    area_deploy(area=field_town.area)  # set-based: addresses.status_changed
    outbox_drain()
    assert _state(sim, vetro_id) == ("In Deployment", "Inactive", "")

    sim.update(vetro_id, Drop_Installed="Yes")  # the crew records the drop in VETRO
    run = sync_vetro()
    address.refresh_from_db()
    order.refresh_from_db()
    assert run.rejections == [] and address.status == AddressStatus.CONNECTED
    assert order.status == OrderStatus.READY_FOR_ACTIVATION  # serviceability follows the field
    outbox_drain()
    assert _state(sim, vetro_id) == ("Installed", "Awaiting activation", "")

    service_activate(order=order, ont_serial="ALCL00112233")  # the ISP activates
    outbox_drain()
    product = order.offering.product.name
    assert _state(sim, vetro_id) == ("Installed", "Active", product)
    assert sim.patches[-1] == {
        "vetro_id": vetro_id,
        "properties": {
            "Installation Status": "Installed",
            "Service Status": "Active",
            "Service Type": product,
        },
    }
    assert all(m.status == OutboxStatus.DELIVERED for m in _pushes())
    assert {m.ordering_key for m in _pushes()} == {f"address:{address.pk}"}
    pushes = len(_pushes())
    assert sync_vetro().updated == 0  # oanm's writes come back unchanged: no echo …
    assert len(_pushes()) == pushes  # … and VETRO shows oanm's state: nothing to push


def test_the_pull_reconciles_a_state_vetro_does_not_show(located):
    sim, vetro_id, address = located
    sim.update(vetro_id, fields={"Service Status": "Active"})  # edited in VETRO …
    sim.update(vetro_id, fields={"Service Type": ""})

    run = sync_vetro(full=True)  # … the daily reconciliation sees it

    assert run.status == "succeeded"
    assert [m.ordering_key for m in _pushes()] == [f"address:{address.pk}"]
    outbox_drain()
    assert _state(sim, vetro_id) == ("Not Installed", "Inactive", "")


def test_a_push_is_queued_for_a_drain_right_after_commit(
    located, django_capture_on_commit_callbacks
):
    _sim, _vetro_id, address = located

    with django_capture_on_commit_callbacks() as callbacks:
        address_await_deployment(address=address)

    assert _schedule_drain in callbacks  # the Celery drain goes out as the change commits
    assert len(_pushes()) == 1


def test_pushes_wait_while_vetro_is_down_then_arrive_once_with_the_latest_state(
    located, field_town
):
    sim, _vetro_id, address = located
    sim.fail("error", 100)  # VETRO is down

    order = field_town.order(address)  # two pushes: the address's status and the order's
    report = outbox_drain()

    assert (report.delivered, report.failed) == (1, 1)  # the first left it to the second
    first, push = _pushes()
    assert first.status == OutboxStatus.DELIVERED
    assert push.status == OutboxStatus.PENDING and push.attempts == 1
    assert "VETRO /v2/features failed 4 times, last: HTTP 500" in push.last_error
    assert sim.patches == []

    area_deploy(area=field_town.area)  # a third push waits behind the failed one
    sim.clear_failures()
    OutboxMessage.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())  # time passes
    outbox_drain()

    assert [m.status for m in _pushes()] == [OutboxStatus.DELIVERED] * 3
    # the late pushes collapse into one request, with the state at its delivery
    assert [p["properties"]["Installation Status"] for p in sim.patches] == ["In Deployment"]
    assert order.address_id == address.pk


def test_an_expired_token_keeps_the_push_until_a_new_one_is_set(located, settings):
    sim, vetro_id, address = located
    sim.fail("expire")

    address_await_deployment(address=address)
    outbox_drain()
    (push,) = _pushes()
    assert push.status == OutboxStatus.PENDING and "VETRO refused the token" in push.last_error

    settings.VETRO_TOKEN = sim.renew_token()
    OutboxMessage.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
    outbox_drain()

    push.refresh_from_db()
    assert push.status == OutboxStatus.DELIVERED
    assert _state(sim, vetro_id) == ("Ordered", "Inactive", "")


def test_nothing_is_pushed_when_vetro_is_off_or_the_address_is_not_in_vetro(
    located, field_town, settings
):
    _sim, _vetro_id, address = located
    elsewhere = field_town.home(1)  # no VETRO reference

    field_town.order(elsewhere)
    assert _pushes() == []

    settings.USE_VETRO = False
    field_town.order(address)
    assert _pushes() == []
    assert not OutboxMessage.objects.filter(event__topic=VETRO_PUSH_REQUESTED).exists()


@pytest.mark.parametrize(
    ("mode", "count"),
    [("error", 2), ("throttle", 1), ("timeout", 1), ("malformed", 1), ("unsuccessful", 1)],
)
def test_each_failure_of_a_push_is_retried_until_the_state_arrives(located, mode, count):
    sim, vetro_id, address = located
    sim.fail(mode, count)

    address_await_deployment(address=address)
    outbox_drain()
    (push,) = _pushes()
    if mode == "unsuccessful":  # not retried by the client: the outbox tries again later
        assert push.status == OutboxStatus.PENDING
        assert "success=false to PATCH /v2/features: simulated refusal" in push.last_error
        OutboxMessage.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
        outbox_drain()
        push.refresh_from_db()
    assert push.status == OutboxStatus.DELIVERED
    assert _state(sim, vetro_id) == ("Ordered", "Inactive", "")
    # a repeated PATCH (the answer was late or broken) sets the same values: nothing doubled
    assert {tuple(p["properties"].items()) for p in sim.patches} == {
        (
            ("Installation Status", "Ordered"),
            ("Service Status", "Inactive"),
            ("Service Type", ""),
        )
    }


def test_asking_for_many_pushes_is_set_based(vetro):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from integrations.vetro.writeback import vetro_push_request
    from tests.gis_core.factories import AddressFactory

    vetro([])
    ids = [AddressFactory(external_refs={"vetro": f"v-{n}"}).pk for n in range(20)]
    unlinked = AddressFactory().pk
    counts = []
    for some in (ids[:2], ids[2:]):
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            assert vetro_push_request(address_ids=[*some, unlinked], cause="test") == some
        counts.append(len(queries))
    assert counts[0] == counts[1]  # 2 or 18 addresses: the same few statements
    assert sorted(m.ordering_key for m in _pushes()) == sorted(f"address:{i}" for i in ids)


def test_while_vetro_is_down_other_pushes_fail_at_once_and_go_out_after_the_pause(
    located, field_town, settings
):
    sim, vetro_id, address = located
    other = field_town.home(5, external_refs={"vetro": "not-yet-in-vetro"})
    settings.VETRO_OUTAGE_PAUSE_SECONDS = 30
    sim.fail("error", 100)

    address_await_deployment(address=address)
    address_await_deployment(address=other)
    sim.log.clear()
    report = outbox_drain()

    assert report.failed == 2
    first, second = _pushes()
    assert "failed 4 times" in first.last_error
    assert "not asked again before 30 s" in second.last_error  # no request for it at all
    assert len(sim.log) == 4  # the first push's attempts only

    sim.clear_failures()
    settings.VETRO_OUTAGE_PAUSE_SECONDS = 0  # the pause is over
    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    outbox_drain()
    first.refresh_from_db()
    assert first.status == OutboxStatus.DELIVERED
    assert _state(sim, vetro_id) == ("Ordered", "Inactive", "")


def test_a_refused_push_is_logged_and_not_retried_and_retired_or_unchanged_ones_send_nothing(
    located, field_town, caplog
):
    from gis_core.services import addresses_retire
    from integrations.vetro.writeback import vetro_push_address

    sim, _vetro_id, address = located
    gone = field_town.home(6, external_refs={"vetro": "deleted-in-vetro"})

    address_await_deployment(address=gone)
    outbox_drain()

    (push,) = _pushes()
    assert push.status == OutboxStatus.DELIVERED  # nothing to retry: VETRO said 404
    assert "VETRO refused the push of address" in caplog.text
    assert "no feature with vetro_id deleted-in-vetro" in caplog.text

    assert vetro_push_address(address_id=address.pk) == "unchanged"  # VETRO has it already
    assert vetro_push_address(address_id=address.pk, cause="reconciliation") == "sent"
    addresses_retire(address_ids=[address.pk], reason="gone from vetro")
    assert vetro_push_address(address_id=address.pk) == "retired"
    assert len(sim.patches) == 1
