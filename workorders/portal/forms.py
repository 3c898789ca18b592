"""The field portal's forms: a task's evidence (only the fields its template asks for),
a problem report and a photo upload. Each carries the device-made `client_uid` that makes
sending it again harmless; the checks of substance are the services' (validate_evidence)."""

from __future__ import annotations

from django import forms

from workorders.lifecycle import Evidence
from workorders.models import Task

# The form fields each kind of evidence brings, in the order the page shows them.
EVIDENCE_FIELDS: dict[str, tuple[str, ...]] = {
    Evidence.LIGHT_LEVEL: ("light_level_dbm",),
    Evidence.SPEED_TEST: ("download_mbps", "upload_mbps"),
    Evidence.ONT_SERIAL: ("ont_serial",),
    Evidence.SIGNATURE: ("signature", "signed_by"),
}


def _number_input(**attrs) -> forms.NumberInput:
    """A number box that opens the phone's number keyboard (with a minus sign for dBm)."""
    return forms.NumberInput(attrs={"step": "any", "inputmode": "decimal", **attrs})


class EvidenceForm(forms.Form):
    """What a technician records to sign a task off, shaped by the task's evidence list."""

    client_uid = forms.UUIDField(widget=forms.HiddenInput(attrs={"data-client-uid": ""}))
    light_level_dbm = forms.CharField(
        label="Light level (dBm)",
        required=False,
        max_length=20,
        widget=_number_input(placeholder="e.g. -19.5"),
    )
    download_mbps = forms.CharField(
        label="Download (Mbit/s)", required=False, max_length=20, widget=_number_input(min="0")
    )
    upload_mbps = forms.CharField(
        label="Upload (Mbit/s)", required=False, max_length=20, widget=_number_input(min="0")
    )
    ont_serial = forms.CharField(
        label="ONT serial",
        required=False,
        max_length=64,
        widget=forms.TextInput(
            attrs={"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    signature = forms.CharField(
        required=False, widget=forms.HiddenInput(attrs={"data-signature": ""})
    )
    signed_by = forms.CharField(
        label="Customer's name",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    notes = forms.CharField(
        label="Notes",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, task: Task, **kwargs):
        super().__init__(*args, **kwargs)
        self.task = task
        wanted = {"client_uid", "notes"}
        for kind in task.evidence:
            wanted.update(EVIDENCE_FIELDS.get(kind, ()))
        for name in list(self.fields):
            if name not in wanted:
                del self.fields[name]
        self.fields["notes"].label = (
            "Notes (required)" if Evidence.NOTES in task.evidence else "Notes (optional)"
        )

    def evidence(self) -> dict[str, str]:
        """The submitted values, as given, for the service to check."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name != "client_uid" and value not in (None, "")
        }


class ProblemForm(forms.Form):
    """Why the technician cannot finish the task."""

    client_uid = forms.UUIDField(widget=forms.HiddenInput(attrs={"data-client-uid": ""}))
    reason = forms.CharField(
        label="What is the problem?",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "e.g. nobody home, duct blocked"}),
    )


class PhotoForm(forms.Form):
    """One or more photos; the page's script sends each on its own with its own id."""

    client_uid = forms.UUIDField(widget=forms.HiddenInput(attrs={"data-client-uid": ""}))
