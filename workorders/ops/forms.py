"""The forms of the operations view: filters, and the inputs of each dispatcher action."""

from __future__ import annotations

from django import forms

from workorders.lifecycle import WorkOrderStatus


class WorkOrderFilterForm(forms.Form):
    """Which work orders the overview's map and list show."""

    status = forms.ChoiceField(
        required=False, choices=[("", "any status"), *WorkOrderStatus.choices]
    )
    area = forms.IntegerField(required=False, min_value=1)
    crew = forms.IntegerField(required=False, min_value=1)
    day = forms.DateField(required=False)


class DayForm(forms.Form):
    """A day to plan (the work order's visit, auto-assignment, a route)."""

    day = forms.DateField()


class AssignForm(forms.Form):
    """A crew for a task; empty takes the task off its crew."""

    crew = forms.IntegerField(required=False, min_value=1)


class TransferForm(forms.Form):
    """The organisation (the owner or a contractor) a task goes to."""

    organisation = forms.IntegerField(min_value=1)
    reason = forms.CharField(required=False, max_length=500)


class ReasonForm(forms.Form):
    """Why: sending work back, clearing a problem."""

    reason = forms.CharField(required=False, max_length=1000)


class BookingMoveForm(forms.Form):
    """The window an appointment moves to."""

    slot = forms.IntegerField(min_value=1)


class BookingFilterForm(forms.Form):
    """Which day's appointments in which area the bookings page shows."""

    day = forms.DateField(required=False)
    area = forms.IntegerField(required=False, min_value=1)
