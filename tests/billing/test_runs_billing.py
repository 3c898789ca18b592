"""The month run (set-based) and the daily run: the amounts, promotions starting and stopping
on the activation instant, blocked subscriptions held back, and runs that create nothing twice,
run again, resumed after a failure or run by two workers at once."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from billing import runs
from billing.lifecycle import LineKind, PromotionKind, PromotionScope, RunKind, RunStatus
from billing.models import BillingRun, Invoice, Promotion, Subscription
from billing.runs import billing_run_daily, billing_run_monthly
from billing.subscriptions import subscriptions_bill_month
from tests.billing.test_subscriptions_support import activate, at, invoices_of, lines_of, part

START = at(2026, 3, 14, 9, 30)
MARCH, APRIL, MAY, JUNE = at(2026, 3, 1), at(2026, 4, 1), at(2026, 5, 1), at(2026, 6, 1)


def _promotion(town, **fields):
    values = {
        "name": "Half price",
        "scope": PromotionScope.RETAIL,
        "kind": PromotionKind.PERCENT,
        "value": Decimal("50"),
        "months": 1,
        "isp": town.isps[0],
        "valid_from": dt.date(2026, 1, 1),
    }
    return Promotion.objects.create(**{**values, **fields})


@pytest.mark.django_db
def test_the_daily_run_bills_the_month_in_advance_once(town, billing):
    subscription = Subscription.objects.get(service=activate(town, START))

    run = billing_run_daily(on=dt.date(2026, 4, 1))
    again = billing_run_daily(on=dt.date(2026, 4, 1))

    assert again.pk == run.pk and run.status == RunStatus.DONE
    assert run.counts["steps"]["subscriptions"]["invoices"] == 1
    _, april = invoices_of(subscription)
    assert lines_of(april) == [(LineKind.PERIOD, Decimal("39.90"))]
    assert april.lines.get().description == "Spree 500, April 2026"
    assert april.idempotency_key == f"sub:{subscription.pk}:2026-04"
    assert (april.period_start, april.period_end) == (APRIL, MAY)
    assert april.number == "ISP1-2026-000002" and april.issue_date == dt.date(2026, 4, 1)
    assert april.total == Decimal("39.90") and april.run_id == run.pk
    subscription.refresh_from_db()
    assert subscription.billed_until == MAY
    # later days of April find nothing left to bill; a missed first is caught up
    assert (
        billing_run_daily(on=dt.date(2026, 4, 2)).counts["steps"]["subscriptions"]["invoices"] == 0
    )
    assert (
        billing_run_daily(on=dt.date(2026, 5, 3)).counts["steps"]["subscriptions"]["invoices"] == 1
    )
    assert Invoice.objects.filter(subscription=subscription).count() == 3


@pytest.mark.django_db
def test_a_promotion_starts_and_stops_on_the_activation_instant(town, billing):
    promotion = _promotion(town)
    subscription = Subscription.objects.get(service=activate(town, START))
    assert subscription.promotion == promotion
    assert subscription.promotion_ends_at == at(2026, 4, 14, 9, 30)

    subscriptions_bill_month(month=dt.date(2026, 4, 1), run=None, on=dt.date(2026, 4, 1))
    subscriptions_bill_month(month=dt.date(2026, 5, 1), run=None, on=dt.date(2026, 5, 1))

    first, april, may = invoices_of(subscription)
    half = Decimal("19.95")
    assert lines_of(first) == [
        (LineKind.PRORATION, part("39.90", START, APRIL, MARCH, APRIL)),
        (LineKind.DISCOUNT, -part(half, START, APRIL, MARCH, APRIL)),
    ]
    ends = at(2026, 4, 14, 9, 30)
    assert lines_of(april) == [
        (LineKind.PERIOD, Decimal("39.90")),
        (LineKind.DISCOUNT, -part(half, APRIL, ends, APRIL, MAY)),
    ]
    assert april.total == Decimal("39.90") - part(half, APRIL, ends, APRIL, MAY)
    assert lines_of(may) == [(LineKind.PERIOD, Decimal("39.90"))]


@pytest.mark.django_db
def test_the_best_matching_promotion_is_attached(town, billing):
    _promotion(town, name="Other ISP", isp=town.isps[1], value=Decimal("90"))
    _promotion(town, name="Elsewhere", area=town.areas["planning"], value=Decimal("80"))
    _promotion(town, name="Expired", valid_to=dt.date(2026, 3, 13), value=Decimal("70"))
    _promotion(town, name="Ten off", kind=PromotionKind.AMOUNT, value=Decimal("10"), isp=None)
    best = _promotion(town, name="Here", area=town.areas["live"], value=Decimal("30"))

    subscription = Subscription.objects.get(service=activate(town, START))

    assert subscription.promotion == best  # 30% of 39.90 = 11.97 > 10.00


@pytest.mark.django_db
def test_the_standing_discount_and_blocked_subscriptions(town, billing):
    kept = Subscription.objects.get(service=activate(town, START, n=0))
    blocked = Subscription.objects.get(service=activate(town, START, n=1))
    Subscription.objects.filter(pk=kept.pk).update(discount=Decimal("5.00"))
    Subscription.objects.filter(pk=blocked.pk).update(billing_blocked=True)

    counts = subscriptions_bill_month(month=dt.date(2026, 4, 1), run=None, on=dt.date(2026, 4, 1))

    assert counts["invoices"] == 1
    april = invoices_of(kept)[-1]
    assert lines_of(april) == [
        (LineKind.PERIOD, Decimal("39.90")),
        (LineKind.DISCOUNT, Decimal("-5.00")),
    ]
    assert len(invoices_of(blocked)) == 1


@pytest.mark.django_db
def test_a_plan_change_in_an_unbilled_month_is_billed_by_segment(town, billing):
    from tests.wholesale.factories import OfferingFactory, ProductFactory
    from wholesale.activation import service_change_profile

    service = activate(town, START)
    faster = ProductFactory(name="Fibre 1000")
    OfferingFactory(isp=town.isps[0], product=faster, name="Spree 1000", monthly_price="59.90")
    change = at(2026, 4, 10, 12, 0)  # April not billed yet: nothing to credit now
    service_change_profile(service=service, product=faster, at=change)
    subscription = Subscription.objects.get(service=service)
    assert len(invoices_of(subscription)) == 1

    subscriptions_bill_month(month=dt.date(2026, 4, 1), run=None, on=dt.date(2026, 4, 12))

    april = invoices_of(subscription)[-1]
    assert lines_of(april) == [
        (LineKind.PRORATION, part("39.90", APRIL, change, APRIL, MAY)),
        (LineKind.PRORATION, part("59.90", change, MAY, APRIL, MAY)),
    ]


@pytest.mark.django_db
def test_a_failing_step_fails_the_run_and_a_rerun_resumes(town, billing, monkeypatch):
    activate(town, START)
    calls = []

    def broken(*, on, run):
        calls.append("broken")
        raise RuntimeError("the ledger is away")

    steps = [*runs.DAILY_STEPS, ("broken", broken)]
    monkeypatch.setattr(runs, "DAILY_STEPS", steps)
    with pytest.raises(RuntimeError):
        billing_run_daily(on=dt.date(2026, 4, 1))
    run = BillingRun.objects.get(kind=RunKind.DAILY, period=dt.date(2026, 4, 1))
    assert run.status == RunStatus.FAILED and "ledger is away" in run.error
    assert set(run.counts["steps"]) == {label for label, _ in steps[:-1]}  # jsonb: no order

    steps[-1] = ("broken", lambda *, on, run: {"fixed": 1})
    run = billing_run_daily(on=dt.date(2026, 4, 1))

    assert run.status == RunStatus.DONE and run.error == ""
    assert run.counts["steps"]["broken"]["fixed"] == 1
    assert Invoice.objects.filter(idempotency_key__endswith=":2026-04").count() == 1


@pytest.mark.django_db
def test_the_monthly_run_is_once_per_month(town, billing):
    activate(town, START)
    run = billing_run_monthly(month=dt.date(2026, 4, 1), on=dt.date(2026, 4, 1))
    again = billing_run_monthly(month=dt.date(2026, 4, 15), on=dt.date(2026, 4, 2))
    assert run.pk == again.pk and run.kind == RunKind.MONTHLY
    assert Invoice.objects.filter(idempotency_key__endswith=":2026-04").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_create_nothing_twice(town, billing):
    subscriptions = [Subscription.objects.get(service=activate(town, START, n=n)) for n in range(6)]
    barrier = threading.Barrier(2)
    errors, done = [], []

    def work():
        try:
            barrier.wait()
            done.append(billing_run_daily(on=dt.date(2026, 4, 1)).pk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(done)) == 1 and BillingRun.objects.count() == 1
    april = Invoice.objects.filter(idempotency_key__endswith=":2026-04")
    assert april.count() == 6
    provider = billing.isp_providers[town.isps[0].pk]
    numbers = sorted(Invoice.objects.filter(provider=provider).values_list("sequence", flat=True))
    assert numbers == list(range(1, 13))  # 6 first invoices, 6 April ones: no gap, no repeat
    for subscription in subscriptions:
        subscription.refresh_from_db()
        assert subscription.billed_until == MAY


@pytest.mark.django_db
def test_the_command_runs_a_day_or_a_month_and_prints_a_summary(town, billing):
    from io import StringIO

    from django.core.management import call_command

    activate(town, START)
    out = StringIO()
    call_command("billing_run", "--date", "2026-04-01", stdout=out, verbosity=0)
    assert "done" in out.getvalue() and "subscriptions" in out.getvalue()
    out = StringIO()
    call_command("billing_run", "--month", "2026-05", "--date", "2026-05-01", stdout=out)
    assert Invoice.objects.filter(idempotency_key__endswith=":2026-05").count() == 1
    assert BillingRun.objects.filter(kind=RunKind.MONTHLY).count() == 1
