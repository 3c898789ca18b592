"""oanm → IQGeo write-back through the outbox, over real HTTP to the simulator: an activation
arrives with the mapped fields, one address's changes go out in order, every failure of the
simulator is retried until delivered (nothing lost, nothing sent stale), nothing is sent for
addresses without an IQGeo reference or with IQGeo off; and circuits, both ways of reading
them: the recorded payloads and the import from the simulator."""

import logging
from datetime import timedelta
from io import StringIO

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone

from common.models import OutboxMessage, OutboxStatus
from common.outbox import outbox_drain
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from gis_core.services import (
    address_connect,
    address_start_deployment,
    addresses_move,
    addresses_retire,
)
from integrations.iqgeo.importer import sync_iqgeo
from integrations.iqgeo.mapping import circuit, map_features
from integrations.iqgeo.writeback import DEFAULT_PROPERTIES, HANDLER, iqgeo_address_push
from integrations.models import SyncState
from integrations.safety import OANM, owner
from tests.gis_core.factories import AddressFactory
from tests.integrations.iqgeo_fixtures import (
    iqgeo_server,  # noqa: F401  (the fixture "iqgeo")
    recorded,
    town_seed,
)
from tests.wholesale.factories import IspFactory, OfferingFactory, ProductFactory
from wholesale.activation import service_activate, service_change_profile, service_deactivate
from wholesale.services import order_cancel, order_place

pytestmark = pytest.mark.django_db


@pytest.fixture
def town(iqgeo, settings):
    """Six IQGeo address features imported into oanm (the feature ids are 1…6)."""
    simulator = iqgeo(town_seed(6))
    settings.IQGEO_OUTAGE_PAUSE_SECONDS = 0  # a rewound message may ask IQGeo again at once
    run = sync_iqgeo(full=True)
    assert run.created == 6
    return simulator


@pytest.fixture
def offering():
    return OfferingFactory(
        isp=IspFactory(name="Spree Net"), product=ProductFactory(name="FTTH 500")
    )


def _address(feature_id: int) -> Address:
    return Address.objects.get(external_refs__system="iqgeo", external_refs__external_id=feature_id)


def _messages():
    return OutboxMessage.objects.filter(handler=HANDLER).order_by("id")


def _rewind() -> None:
    """Time passes: every waiting write-back is due."""
    _messages().filter(status=OutboxStatus.PENDING).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def _updates(settings) -> list[dict]:
    """What the simulator received, read over HTTP like any client would."""
    answer = requests.get(f"{settings.IQGEO_BASE_URL}/_sim/updates", timeout=2)
    assert answer.status_code == 200
    return answer.json()["updates"]


def _activate(address: Address, offering, serial: str = "ALCL0000A001"):
    """Order, build, connect and activate: the whole way of an address, as oanm does it."""
    order = order_place(address=address, isp=offering.isp, offering=offering)
    address_start_deployment(address=address)
    address_connect(address=address)
    order.refresh_from_db()
    return service_activate(order=order, ont_serial=serial)


def _today() -> str:
    return timezone.localdate().isoformat()


# --- the way through -----------------------------------------------------------------------------


def test_an_activation_arrives_at_iqgeo_with_the_mapped_fields(town, offering, settings):
    _activate(_address(3), offering)
    # the order, the build, the connection and the activation: one request waits (the later
    # changes joined the untried one, which sends the state as it is when it runs)
    assert _messages().count() == 1
    assert _updates(settings) == []  # nothing leaves before the drain

    report = outbox_drain()

    assert report.delivered == 1
    updates = _updates(settings)
    assert [update["feature_id"] for update in updates] == [3]
    today = _today()
    assert updates[0]["properties"] == {
        "connectionStatus": "activated",
        "orderDate": today,
        "ispName": "Spree Net",
        "serviceName": "FTTH 500",
        "connectionDate": today,
        "activationDate": today,
    }
    feature = next(f for f in town.features if f["id"] == 3)
    assert feature["properties"]["connectionStatus"] == "activated"
    assert feature["properties"]["streetName"]  # the other properties are kept
    state = SyncState.objects.get(system="iqgeo", external_id="3")
    assert state.pushed["status"] == "activated" and state.pushed_at is not None

    # IQGeo's change time moved: an incremental import reads the feature again, and
    # finds nothing of oanm's to change
    run = sync_iqgeo()
    assert run.fetched >= 1 and (run.created, run.updated) == (0, 0)
    assert _address(3).status == AddressStatus.ACTIVATED

    assert outbox_drain().delivered == 0  # nothing more to send
    assert len(_updates(settings)) == 1


def test_one_address_changes_go_out_in_order(town, offering, settings):
    address = _address(2)
    order = order_place(address=address, isp=offering.isp, offering=offering)
    outbox_drain()
    address_start_deployment(address=address)
    outbox_drain()
    address_connect(address=address)
    outbox_drain()
    order.refresh_from_db()
    service = service_activate(order=order, ont_serial="ALCL0000A002")
    outbox_drain()
    other = ProductFactory(name="FTTH 1000")
    service_change_profile(service=service, product=other)
    outbox_drain()
    service_deactivate(service=service, reason="moved out")
    outbox_drain()

    sent = [update["properties"] for update in _updates(settings)]
    assert [(p["connectionStatus"], p["serviceName"]) for p in sent] == [
        ("awaiting_deployment", "FTTH 500"),
        ("in_deployment", "FTTH 500"),
        ("connected", "FTTH 500"),
        ("activated", "FTTH 500"),
        ("activated", "FTTH 1000"),
        ("connected", None),  # the service ended, its order terminated: nothing is sold
    ]
    assert sent[-1]["connectionDate"] == _today() and sent[-1]["activationDate"] is None
    assert set(_messages().values_list("status", flat=True)) == {OutboxStatus.DELIVERED}


def test_order_holds_when_iqgeo_fails_in_the_middle_and_other_addresses_go_on(
    town, offering, settings
):
    first, second = _address(1), _address(2)
    order_place(address=first, isp=offering.isp, offering=offering)
    outbox_drain()
    town.fail("error", 100)  # IQGeo goes down
    address_start_deployment(address=first)
    assert outbox_drain().failed == 1
    address_connect(address=first)  # a second request, queued behind the failed one
    town.clear_failures()
    order_place(address=second, isp=offering.isp, offering=offering)

    report = outbox_drain()  # the first address waits for its back-off; the second goes

    assert report.delivered == 1
    assert [u["feature_id"] for u in _updates(settings)] == [1, 2]
    waiting = list(
        _messages().filter(status=OutboxStatus.PENDING).values_list("attempts", flat=True)
    )
    assert waiting == [1, 0]  # the failed one, then the one behind it, untried

    _rewind()
    assert outbox_drain().delivered == 2

    sent = [u["properties"]["connectionStatus"] for u in _updates(settings) if u["feature_id"] == 1]
    # the retry sent the state as it is now (connected), never the stale in_deployment,
    # and the request behind it found nothing new to send
    assert sent == ["awaiting_deployment", "connected"]


@pytest.mark.parametrize(
    ("mode", "count"), [("error", 2), ("timeout", 1), ("malformed", 1), ("expire", 1)]
)
def test_each_failure_of_iqgeo_is_retried_and_delivered_once(town, offering, settings, mode, count):
    _activate(_address(4), offering)
    outbox_drain()  # logs in, sends: the session is kept for the next one
    town.log.clear()
    service = _address(4).services.get()
    town.fail(mode, count)
    service_deactivate(service=service)

    report = outbox_drain()

    assert report.delivered == 1, _messages().last().last_error
    feature = next(f for f in town.features if f["id"] == 4)
    assert feature["properties"]["connectionStatus"] == "connected"
    assert feature["properties"]["ispName"] is None
    received = [u["properties"] for u in _updates(settings) if u["feature_id"] == 4]
    # a timeout's update was applied, its answer lost, so it was sent again: the same values
    assert received[0]["connectionStatus"] == "activated"
    assert all(p == received[1] for p in received[1:])
    assert len(received) == (3 if mode == "timeout" else 2)
    if mode == "expire":
        calls = [(method, status) for method, path, status in town.log if path != "/_sim/updates"]
        assert calls == [("PUT", 401), ("POST", 200), ("PUT", 200)]  # logged in again, resent


def test_iqgeo_down_past_the_client_retries_is_retried_by_the_outbox(town, offering, settings):
    town.fail("error", 4)  # the client tries 4 times (IQGEO_RETRIES = 3): all fail
    order_place(address=_address(5), isp=offering.isp, offering=offering)

    report = outbox_drain()

    assert (report.delivered, report.failed) == (0, 1)
    message = _messages().get()
    assert message.attempts == 1 and "failed 4 times" in message.last_error
    assert _updates(settings) == []
    assert not SyncState.objects.filter(external_id="5", pushed_at__isnull=False).exists()

    _rewind()
    assert outbox_drain().delivered == 1
    assert [u["feature_id"] for u in _updates(settings)] == [5]  # once, nothing lost
    assert SyncState.objects.get(external_id="5").pushed["status"] == "awaiting_deployment"


def test_while_iqgeo_is_down_other_addresses_do_not_wait_for_its_timeouts(town, offering, settings):
    settings.IQGEO_OUTAGE_PAUSE_SECONDS = 600
    town.fail("timeout", 100)
    for n in (1, 2, 3):
        order_place(address=_address(n), isp=offering.isp, offering=offering)
    town.log.clear()

    report = outbox_drain()

    assert report.failed == 3
    errors = list(_messages().values_list("last_error", flat=True))
    assert "failed 4 times" in errors[0]  # the first one found IQGeo down …
    assert all("not asked again before 600 s" in error for error in errors[1:])  # … at once
    assert len(town.log) == 4  # the first push's four tries; the others asked nothing

    town.clear_failures()
    settings.IQGEO_OUTAGE_PAUSE_SECONDS = 0  # the pause is over
    _rewind()
    assert outbox_drain().delivered == 3
    assert sorted(u["feature_id"] for u in _updates(settings)) == [1, 2, 3]


def test_a_late_retry_sends_the_current_state_not_the_one_it_was_queued_for(
    town, offering, settings
):
    service = _activate(_address(6), offering)
    town.fail("error", 4)
    assert outbox_drain().failed == 1  # the activation did not get through
    service_change_profile(service=service, product=ProductFactory(name="FTTH 1000"))
    _rewind()

    assert outbox_drain().delivered == 2

    sent = _updates(settings)
    assert len(sent) == 1  # the second request found it sent already
    assert (sent[0]["properties"]["connectionStatus"], sent[0]["properties"]["serviceName"]) == (
        "activated",
        "FTTH 1000",
    )


def test_a_refusal_is_logged_and_not_retried(town, offering, caplog):
    town.features = [f for f in town.features if f["id"] != 2]  # deleted in IQGeo meanwhile
    order_place(address=_address(2), isp=offering.isp, offering=offering)

    with caplog.at_level(logging.ERROR, logger="integrations.iqgeo.writeback"):
        report = outbox_drain()

    assert report.delivered == 1  # nothing to retry: IQGeo will not change its mind
    assert "IQGeo refused the write-back of address" in caplog.text
    assert "HTTP 404" in caplog.text and "feature 2" in caplog.text
    assert not SyncState.objects.filter(external_id="2", pushed_at__isnull=False).exists()


def test_a_bulk_status_change_queues_one_request_per_address(town, offering, settings):
    ids = [_address(n).pk for n in (1, 2, 3)]
    for address_id in ids:
        order_place(address=Address.objects.get(pk=address_id), isp=offering.isp, offering=offering)
    outbox_drain()

    moved = addresses_move(
        address_ids=ids,
        from_status=AddressStatus.AWAITING_DEPLOYMENT,
        to_status=AddressStatus.IN_DEPLOYMENT,
    )

    assert sorted(moved) == sorted(ids)  # RETURNING has no order
    queued = _messages().filter(status=OutboxStatus.PENDING)
    assert sorted(queued.values_list("ordering_key", flat=True)) == sorted(
        f"address:{i}" for i in ids
    )
    assert outbox_drain().delivered == 3
    latest = {u["feature_id"]: u["properties"]["connectionStatus"] for u in _updates(settings)}
    assert latest == {1: "in_deployment", 2: "in_deployment", 3: "in_deployment"}


# --- nothing to send -----------------------------------------------------------------------------


def test_no_write_back_without_an_iqgeo_reference(town, offering, settings):
    order_place(address=AddressFactory(), isp=offering.isp, offering=offering)
    assert not _messages().exists()
    assert outbox_drain().delivered == 0 and _updates(settings) == []


def test_no_write_back_with_iqgeo_off(town, offering, settings):
    settings.USE_IQGEO = False
    order_place(address=_address(1), isp=offering.isp, offering=offering)
    assert not _messages().exists()

    settings.USE_IQGEO = True
    order_place(address=_address(2), isp=offering.isp, offering=offering)
    settings.IQGEO_WRITEBACK = False  # turned off before the request was delivered
    assert outbox_drain().delivered == 1
    assert _updates(settings) == []
    assert iqgeo_address_push(address_id=_address(2).pk) == "off"


def test_no_write_back_for_a_retired_address(town, offering, settings):
    service = _activate(_address(3), offering)
    outbox_drain()
    addresses_retire(address_ids=[_address(3).pk], reason="gone from IQGeo")
    service_deactivate(service=service)

    assert outbox_drain().delivered == 1
    assert len(_updates(settings)) == 1  # the activation only
    assert iqgeo_address_push(address_id=_address(3).pk) == "retired"


def test_the_command_reconciles_what_happened_while_write_back_was_off(town, offering, settings):
    order_place(address=_address(1), isp=offering.isp, offering=offering)
    outbox_drain()
    settings.IQGEO_WRITEBACK = False  # paused: these changes are not queued
    _activate(_address(2), offering)
    order_cancel(order=_address(1).orders.get())
    assert outbox_drain().delivered == 0
    settings.IQGEO_WRITEBACK = True

    out = StringIO()
    call_command("iqgeo_writeback", stdout=out)

    assert "Queued 2 write-backs" in out.getvalue()  # the planned ones never pushed: not asked
    assert outbox_drain().delivered == 2
    latest = {u["feature_id"]: u["properties"]["connectionStatus"] for u in _updates(settings)}
    assert latest == {1: "planned", 2: "activated"}
    call_command("iqgeo_writeback", stdout=StringIO())
    outbox_drain()
    assert len(_updates(settings)) == 3  # again: nothing new to send

    settings.USE_IQGEO = False
    with pytest.raises(CommandError, match="write-back is off"):
        call_command("iqgeo_writeback", stdout=StringIO())


def test_only_oanm_owned_fields_are_written_back():
    assert {name: owner(name) for name in DEFAULT_PROPERTIES} == dict.fromkeys(
        DEFAULT_PROPERTIES, OANM
    )


def test_the_property_names_are_configurable(town, offering, settings):
    settings.IQGEO_WRITEBACK_PROPERTIES = {"status": "oanm_status", "connected_at": ""}
    order = order_place(address=_address(1), isp=offering.isp, offering=offering)
    outbox_drain()
    assert _updates(settings)[-1]["properties"] == {
        "oanm_status": "awaiting_deployment",
        "orderDate": _today(),
        "ispName": "Spree Net",
        "serviceName": "FTTH 500",
        "activationDate": None,
    }
    order_cancel(order=order)
    outbox_drain()
    nothing = {name: None for name in ("orderDate", "ispName", "serviceName", "activationDate")}
    assert _updates(settings)[-1]["properties"] == {"oanm_status": "planned", **nothing}

    settings.IQGEO_WRITEBACK_PROPERTIES = {"colour": "x"}
    with pytest.raises(ImproperlyConfigured, match="unknown fields colour"):
        iqgeo_address_push(address_id=_address(1).pk)


# --- the simulator's update route ----------------------------------------------------------------


def test_the_simulator_update_route(town, settings):
    base = settings.IQGEO_BASE_URL
    feature = {"type": "Feature", "properties": {"ispName": "X"}}
    assert requests.put(f"{base}/feature/address/1", json=feature, timeout=2).status_code == 401
    session = requests.Session()
    assert session.post(f"{base}/auth", data={"user": "oanm", "pass": "secret"}, timeout=2).ok
    assert session.put(f"{base}/feature/address/99", json=feature, timeout=2).status_code == 404
    assert session.put(f"{base}/feature/pole/1", json=feature, timeout=2).status_code == 404
    broken = session.put(f"{base}/feature/address/1", data=b"{nope", timeout=2)
    assert broken.status_code == 400 and "not JSON" in broken.json()["error"]
    assert session.put(f"{base}/feature/address/1", json=[1], timeout=2).status_code == 400
    before = next(f for f in town.features if f["id"] == 1)["properties"]["myw_change_time"]

    answer = session.patch(f"{base}/feature/address/1", json=feature, timeout=2)

    assert answer.status_code == 200 and answer.json()["properties"]["ispName"] == "X"
    assert answer.json()["properties"]["myw_change_time"] > before
    assert [u["properties"] for u in _updates(settings)] == [{"ispName": "X"}]
    no_csrf = requests.Session()
    no_csrf.cookies.set("myworldapp", session.cookies["myworldapp"])
    assert no_csrf.put(f"{base}/feature/address/1", json=feature, timeout=2).status_code == 403
    requests.post(f"{base}/_sim/fail", json={"mode": "error"}, timeout=2)
    assert (
        requests.Session().put(f"{base}/feature/address/1", json=feature, timeout=2).status_code
        == 500
    )


# --- circuits ------------------------------------------------------------------------------------


def test_circuits_on_a_recorded_page():
    page = recorded("iqgeo_address_circuits.json")
    rows, rejected = map_features(page["features"], circuit_names=("circuit", "circuitName"))
    assert rejected == []
    assert [(r["properties"]["circuit_ref"], r["properties"]["circuit_name"]) for r in rows] == [
        ("circuit/17", "WED-FTTH-0017"),
        ("circuit/21", "WED-FTTH-0021"),  # a reference set: its first circuit
        ("88", ""),  # a bare id, no name
        ("", ""),  # no circuit: the link is cleared
        ("", ""),
    ]
    fifth = page["features"][4]["properties"]
    assert circuit(fifth, ("cct", "cctName")) == ("circuit/5", "WED-FTTH-0005")  # expanded


def test_circuits_are_imported_and_follow_iqgeo(iqgeo):
    seed = town_seed(50)
    sim = iqgeo(seed)
    sync_iqgeo(full=True)

    linked = Address.objects.exclude(circuit_ref="").order_by("circuit_ref")
    assert [(a.circuit_ref, a.circuit_name) for a in linked] == [
        ("circuit/1", "WED-FTTH-0001"),
        ("circuit/2", "WED-FTTH-0002"),
    ]
    assert _address(25).circuit_ref == "circuit/1"
    assert "circuit" not in _address(25).attributes  # a field, not an extra attribute

    sim.update(25, circuit=None, circuitName=None)  # unlinked in IQGeo
    sim.update(7, circuit="circuit/9", circuitName="WED-FTTH-0009")
    run = sync_iqgeo()

    assert run.updated == 2
    assert (_address(25).circuit_ref, _address(25).circuit_name) == ("", "")
    assert (_address(7).circuit_ref, _address(7).circuit_name) == ("circuit/9", "WED-FTTH-0009")
    assert sync_iqgeo().updated == 0
