"""The technicians' portal in a real headless Chromium on a phone-sized screen: a technician
signs in, opens today's first task, records the light level and ONT serial and completes it;
then the phone loses signal, the next task (speed test and the customer's signature) is
completed anyway and waits on the phone; back online, it reaches the server exactly once."""

import time
from pathlib import Path

import pytest
from django.utils import timezone

from areas.services import area_deploy
from tests.workorders.conftest import field_town  # noqa: F401  (the field fixture)
from workorders.lifecycle import TaskStatus, WorkOrderStatus
from workorders.models import Submission, Task, TaskEvent
from workorders.services import work_order_schedule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture
def phone(browser, live_server):
    """A phone-sized page that records JS errors and every request leaving the machine."""
    context = browser.new_context(base_url=live_server.url, **PHONE)
    page = context.new_page()
    page.js_errors = []
    page.outside_requests = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))

    def note_request(request):
        if not request.url.startswith(("http://localhost", "http://127.0.0.1", "data:", "blob:")):
            page.outside_requests.append(request.url)

    page.on("request", note_request)
    yield page
    context.close()


def _fits(page) -> None:
    """No sideways scrolling on the phone."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url}: {width}px wide on a 390px screen"


def _eventually(check, timeout=10.0):
    """Wait (bounded) until the server's database shows what the phone sent."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the queued submission did not reach the server")
        time.sleep(0.1)


def test_a_technician_completes_tasks_online_and_offline_on_a_phone(phone, field_town):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    homes = [field_town.home(n) for n in (0, 7)]
    for home in homes:
        field_town.order(home)
    area_deploy(area=field_town.area)
    for home in homes:
        work_order_schedule(
            work_order=home.work_orders.get(),
            day=timezone.localdate(),
            actor=field_town.users["dispatcher"],
        )
    job = homes[0].work_orders.get()
    _, ont, signoff = job.tasks.order_by("position")
    page = phone

    # sign in: the portal's door leads through the login page and back
    page.goto("/field/")
    page.wait_for_url("**/accounts/login/?next=/field/")
    page.fill("#id_username", "tech")
    page.fill("#id_password", "x-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/field/")

    # my day: two stops, numbered on the map, the queue counter at 0
    page.wait_for_selector("#day-map[data-ready=true] .stop-icon")
    assert page.locator(".stop-icon").all_text_contents() == ["1", "2"]
    assert page.locator("[data-stop]").count() == 2
    assert page.text_content(".queue-counter [data-queue-count]") == "0"
    _fits(page)
    page.screenshot(path=str(ARTIFACTS / "field-my-day.png"), full_page=True)

    # the first task: an out-of-range reading is refused by its field, then a good one passes
    page.click(f"a[data-task='{ont.pk}']")
    page.wait_for_url(f"**/field/tasks/{ont.pk}/")
    page.wait_for_selector("#task-map[data-ready=true]")
    assert "Accepted: -27.00 … -8.00 dBm" in page.text_content("[data-light-range]")
    page.fill("[name=light_level_dbm]", "-30.5")
    page.fill("[name=ont_serial]", "ALCL00C0FFEE")
    page.click("[data-complete]")
    error = page.locator("[data-error-for=light_level_dbm]")
    error.wait_for(state="visible")
    assert "outside the accepted range" in error.text_content()
    assert Task.objects.get(pk=ont.pk).status == TaskStatus.PENDING
    _fits(page)
    page.screenshot(path=str(ARTIFACTS / "field-task-refused.png"), full_page=True)
    page.fill("[name=light_level_dbm]", "-19.5")
    page.click("[data-complete]")
    page.wait_for_url("**/field/?day=*")
    assert "done and accepted" in page.text_content("[data-flash]")
    ont.refresh_from_db()
    assert ont.status == TaskStatus.ACCEPTED
    assert ont.result == {"light_level_dbm": "-19.50", "ont_serial": "ALCL00C0FFEE"}

    # the next task: opened with signal, then the phone loses it
    page.click(f"a[data-task='{signoff.pk}']")
    page.wait_for_url(f"**/field/tasks/{signoff.pk}/")
    page.context.set_offline(True)
    assert page.evaluate("() => navigator.onLine") is False
    page.fill("[name=download_mbps]", "612")
    page.fill("[name=upload_mbps]", "305")
    page.locator("[data-signature-pad]").scroll_into_view_if_needed()
    pad = page.locator("[data-signature-pad]").bounding_box()
    page.mouse.move(pad["x"] + 30, pad["y"] + 90)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(pad["x"] + 30 + step * 22, pad["y"] + 90 - (step % 3) * 25)
    page.mouse.up()
    page.fill("[name=signed_by]", "Frau Kundin")
    page.click("[data-complete]")
    page.wait_for_selector("[data-form-message].queued")
    assert "Saved on this phone, will be sent" in page.text_content("[data-form-message]")
    page.wait_for_function(
        "() => document.querySelector('[data-queue-bar] [data-queue-count]').textContent === '1'"
    )
    assert page.is_visible("[data-queue-bar]")
    _fits(page)
    page.screenshot(path=str(ARTIFACTS / "field-task-queued.png"), full_page=True)
    signoff.refresh_from_db()
    assert signoff.status == TaskStatus.PENDING
    assert not Submission.objects.filter(task=signoff).exists()

    # back online: the queue sends it, once
    page.context.set_offline(False)
    page.wait_for_function(
        "() => document.querySelector('[data-queue-bar] [data-queue-count]').textContent === '0'"
    )
    _eventually(lambda: Task.objects.get(pk=signoff.pk).status == TaskStatus.ACCEPTED)
    page.wait_for_selector("[data-task-status=accepted]")
    signoff.refresh_from_db()
    assert signoff.result["download_mbps"] == "612"
    assert signoff.result["signed_by"] == "Frau Kundin"
    assert signoff.result["signature"].startswith("data:image/png;base64,")
    assert TaskEvent.objects.filter(task=signoff, kind="done").count() == 1
    assert Submission.objects.filter(task=signoff).count() == 1
    job.refresh_from_db()
    assert job.status == WorkOrderStatus.IN_PROGRESS  # the contractor's drop is still to do

    # a reload sends nothing again; the day has the other stop left
    page.goto("/field/")
    page.wait_for_selector("#day-map[data-ready=true]")
    assert page.text_content(".queue-counter [data-queue-count]") == "0"
    assert page.locator("[data-stop]").count() == 1
    assert TaskEvent.objects.filter(task=signoff, kind="done").count() == 1
    assert page.js_errors == []
    assert page.outside_requests == []


def test_a_queued_submission_the_server_refuses_needs_attention_and_is_not_resent(
    phone,
    field_town,  # noqa: F811
):
    home = field_town.home(0)
    field_town.order(home)
    area_deploy(area=field_town.area)
    job = home.work_orders.get()
    work_order_schedule(
        work_order=job, day=timezone.localdate(), actor=field_town.users["dispatcher"]
    )
    ont = job.tasks.get(position=2)
    page = phone
    page.goto(f"/field/tasks/{ont.pk}/")
    page.fill("#id_username", "tech")
    page.fill("#id_password", "x-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"**/field/tasks/{ont.pk}/")

    # offline, a reading out of range cannot be checked: it waits on the phone
    page.context.set_offline(True)
    page.fill("[name=light_level_dbm]", "-35")
    page.fill("[name=ont_serial]", "ALCL00000001")
    page.click("[data-complete]")
    page.wait_for_selector("[data-form-message].queued")

    # back online the server refuses it: shown as needing attention, no longer queued
    page.context.set_offline(False)
    page.wait_for_selector("[data-attention-list] li")
    assert "outside the accepted range" in page.text_content("[data-attention-list] li")
    assert page.text_content("[data-queue-bar] [data-queue-count]") == "0"
    page.reload()
    page.wait_for_selector("[data-attention-list] li")
    assert page.locator("[data-attention-list] li").count() == 1
    ont.refresh_from_db()
    assert ont.status == TaskStatus.PENDING
    assert not Submission.objects.exists()
    assert not TaskEvent.objects.filter(task=ont).exclude(kind="assigned").exists()

    # discarding it clears the bar
    page.click("[data-attention-list] button")
    page.wait_for_selector("[data-queue-bar]", state="hidden")
    assert page.js_errors == []
    assert page.outside_requests == []
