"""Automatic creation: deploying an area gives every ordered address exactly one work order
from its template, once, however often or concurrently it is asked."""

import threading

import pytest
from django.db import connection

from areas.services import area_deploy
from common.errors import DomainError
from common.models import DomainEvent
from gis_core.lifecycle import AddressStatus, PremisesType
from wholesale.services import order_cancel
from workorders.creation import template_for, work_orders_create_for_area
from workorders.lifecycle import TaskStatus, WorkOrderStatus
from workorders.models import Task, WorkOrder


def test_deploying_an_area_creates_one_work_order_per_ordered_address(field_town):
    ordered = [field_town.home(n) for n in range(5)]
    for address in ordered:
        field_town.order(address)
    unordered = field_town.home(9)

    area_deploy(area=field_town.area)

    jobs = WorkOrder.objects.order_by("address_id")
    assert [job.address_id for job in jobs] == [a.pk for a in ordered]
    assert {job.template.code for job in jobs} == {"sfu"}
    assert Task.objects.count() == 5 * 3
    assert set(Task.objects.values_list("status", flat=True)) == {TaskStatus.PENDING}
    for address in ordered:
        address.refresh_from_db()
        assert address.status == AddressStatus.IN_DEPLOYMENT
        assert address.status_history.last().to_status == AddressStatus.IN_DEPLOYMENT
    unordered.refresh_from_db()
    assert unordered.status == AddressStatus.PLANNED
    assert DomainEvent.objects.filter(topic="work_orders.created").count() == 1


def test_contractor_tasks_wait_for_acceptance_and_belong_to_the_contractor(field_town):
    field_town.order(field_town.home(0))

    area_deploy(area=field_town.area)

    drop, ont, _signoff = Task.objects.order_by("position")
    assert (drop.contractor, drop.needs_acceptance) == (field_town.contractor, True)
    assert (ont.contractor, ont.needs_acceptance) == (None, False)
    assert str(ont.light_min_dbm) == "-27.00"


def test_running_the_batch_again_creates_nothing_twice(field_town):
    for n in range(3):
        field_town.order(field_town.home(n))
    area_deploy(area=field_town.area)

    again = work_orders_create_for_area(area_id=field_town.area.pk)

    assert again.created == 0
    assert WorkOrder.objects.count() == 3
    assert Task.objects.count() == 9


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_batches_create_each_work_order_once(owner, field_town):
    for n in range(20):
        field_town.order(field_town.home(n))
    area_deploy(area=field_town.area)
    WorkOrder.objects.all().delete()  # as if the batch had not run yet
    barrier = threading.Barrier(2)
    created, errors = [], []

    def run():
        try:
            barrier.wait()
            created.append(work_orders_create_for_area(area_id=field_town.area.pk).created)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(created) == [0, 20]
    assert WorkOrder.objects.count() == 20
    assert Task.objects.count() == 60


def test_the_template_rule_prefers_area_then_premises_then_priority(field_town):
    from workorders.services import work_template_create

    home = field_town.home(0)
    flat = field_town.home(1, premises_type=PremisesType.MDU_FLAT, units=4)
    shop = field_town.home(2, premises_type=PremisesType.BUSINESS)

    assert template_for(home).code == "sfu"
    assert template_for(flat).code == "mdu"
    assert template_for(shop).code == "generic"

    local = work_template_create(
        code="feld-special",
        name="Feld, any premises",
        tasks=[{"name": "Special", "category": "physical", "skill": "ont"}],
        areas=[field_town.area],
    )
    assert template_for(home) == local
    assert template_for(shop) == local


def test_deploying_is_refused_when_no_template_fits_an_ordered_address(field_town):
    from workorders.creation import standard_template
    from workorders.models import WorkTemplate

    standard_template()
    WorkTemplate.objects.exclude(code="sfu").update(is_active=False)
    field_town.order(field_town.home(0))
    shop = field_town.home(1, premises_type=PremisesType.BUSINESS)
    field_town.order(shop)

    with pytest.raises(DomainError, match="no active work template fits 1 address"):
        area_deploy(area=field_town.area)

    field_town.area.refresh_from_db()
    assert field_town.area.phase == "demand_aggregation"
    assert not WorkOrder.objects.exists()


def test_an_order_placed_after_deployment_gets_its_work_order_at_once(field_town):
    field_town.order(field_town.home(0))
    area_deploy(area=field_town.area)
    late = field_town.home(1)

    field_town.order(late)

    late.refresh_from_db()
    assert late.status == AddressStatus.IN_DEPLOYMENT
    assert WorkOrder.objects.filter(address=late).count() == 1


def test_a_second_order_at_an_address_adds_no_second_work_order(field_town):
    from tests.wholesale.factories import IspFactory, OfferingFactory, serve
    from wholesale.services import order_place

    home = field_town.home(0)
    field_town.order(home)
    area_deploy(area=field_town.area)
    other = OfferingFactory(isp=IspFactory(name="Kiez"))
    serve(other.isp, field_town.area)

    order_place(address=home, isp=other.isp, offering=other, unit="2nd floor")

    assert WorkOrder.objects.filter(address=home).count() == 1


def test_cancelling_the_order_cancels_the_open_work_order(field_town):
    home = field_town.home(0)
    order = field_town.order(home)
    area_deploy(area=field_town.area)

    order_cancel(order=order, reason="moved away")

    job = WorkOrder.objects.get(address=home)
    home.refresh_from_db()
    assert job.status == WorkOrderStatus.CANCELLED
    assert set(job.tasks.values_list("status", flat=True)) == {TaskStatus.CANCELLED}
    assert home.status == AddressStatus.PLANNED
