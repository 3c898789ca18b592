"""The forms of the area pages: the list's filters, a phase move and an area's settings.

Rates are typed in percent on the pages (40 for 40 %); the services take fractions (0.4).
"""

from decimal import Decimal

from django import forms

from areas.lifecycle import AreaPhase

HUNDRED = Decimal(100)


class AreaFilterForm(forms.Form):
    """Which areas the list shows (GET parameters, shared by the page and its exports)."""

    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(
            attrs={"placeholder": "Code or name", "type": "search", "autocomplete": "off"}
        ),
    )
    phase = forms.MultipleChoiceField(
        required=False, choices=AreaPhase.choices, widget=forms.CheckboxSelectMultiple
    )
    take_rate_min = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=100,
        max_digits=6,
        decimal_places=2,
        label="Take rate from (%)",
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": "0"}),
    )
    take_rate_max = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=100,
        max_digits=6,
        decimal_places=2,
        label="Take rate to (%)",
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": "100"}),
    )
    ready = forms.BooleanField(required=False, label="Ready to build only")
    retired = forms.BooleanField(required=False, label="Include split and deleted areas")

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("take_rate_min"), cleaned.get("take_rate_max")
        if low is not None and high is not None and low > high:
            # a range that cannot hold anything is explained and left out, both ends of it
            self.add_error(
                "take_rate_max", f"the upper take rate ({high} %) is below the lower one ({low} %)"
            )
            cleaned.pop("take_rate_min", None)
        return cleaned


class AreaPhaseForm(forms.Form):
    """Move an area to another phase, optionally saying why."""

    to = forms.ChoiceField(choices=AreaPhase.choices)
    reason = forms.CharField(required=False, max_length=500)


class AreaSettingsForm(forms.Form):
    """An area's name, its target take rate (in percent) and its opt-in to deploy at target."""

    name = forms.CharField(max_length=200)
    target_percent = forms.DecimalField(
        label="Target take rate (%)",
        min_value=0,
        max_value=100,
        max_digits=6,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
        error_messages={
            "min_value": "must be between 0 %% and 100 %%",
            "max_value": "must be between 0 %% and 100 %%",
        },
    )
    deploys_at_target = forms.BooleanField(
        required=False, label="Move into deployment when the target is reached"
    )

    @property
    def target_take_rate(self) -> Decimal:
        """The target as the fraction the service takes (40 % → 0.4)."""
        return self.cleaned_data["target_percent"] / HUNDRED
