"""The forms of the customers' pages: a signup, a registration of interest, a booking.

Labels are written for customers, each field has an autocomplete hint so a phone fills it in,
and the consent box links to the terms it stands for.
"""

from django import forms

from gis_core.models import Address

SEARCH_MIN_LENGTH = 2
SEARCH_MAX_LENGTH = 200


class SearchForm(forms.Form):
    """The address box of /lookup/ (GET): what the page renders without JavaScript."""

    q = forms.CharField(
        label="Your address",
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        strip=True,
    )

    def clean_q(self) -> str:
        query = self.cleaned_data["q"]
        if query and len("".join(query.split())) < SEARCH_MIN_LENGTH:
            raise forms.ValidationError(
                f"Type at least {SEARCH_MIN_LENGTH} letters or digits of your address."
            )
        return query


class _ContactFields(forms.Form):
    """Name, e-mail and the consent box: what every customer form asks."""

    name = forms.CharField(
        label="Full name",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        help_text="We send the confirmation and your link to manage the order here.",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
    consent = forms.BooleanField(
        label="I agree to the terms",
        required=True,
        error_messages={"required": "Please tick the box to agree to the terms."},
    )


class SignupForm(_ContactFields):
    """A binding signup at an address: the contact details, a flat in an MDU, consent."""

    phone = forms.CharField(
        label="Phone",
        max_length=40,
        help_text="For the installation appointment.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
    )
    unit = forms.CharField(
        label="Flat or unit",
        max_length=60,
        required=False,
        help_text="Which flat in the building, e.g. “3rd floor left” or “Flat 7”.",
        widget=forms.TextInput(attrs={"autocomplete": "address-line2"}),
    )
    field_order = ["name", "email", "phone", "unit", "consent"]

    def __init__(self, *args, address: Address, **kwargs):
        super().__init__(*args, **kwargs)
        if needs_unit(address):
            self.fields["unit"].required = True
            self.fields["unit"].error_messages["required"] = (
                "Please say which flat in the building the connection is for."
            )
        else:
            del self.fields["unit"]


class InterestForm(_ContactFields):
    """Interest without commitment: counts in the area's demand, costs nothing."""

    consent = forms.BooleanField(
        label="I agree that you keep my name and e-mail to tell me about fibre here",
        required=True,
        error_messages={"required": "Please tick the box so we may contact you."},
    )


class BookingForm(forms.Form):
    """Pick an installation slot (book or move the booking) or cancel the booking."""

    action = forms.ChoiceField(choices=[("book", "book"), ("cancel", "cancel")])
    slot = forms.IntegerField(required=False, min_value=1)

    def clean(self):
        data = super().clean()
        if data.get("action") == "book" and not data.get("slot"):
            self.add_error("slot", "Please pick a time slot.")
        return data


def needs_unit(address: Address) -> bool:
    """A building of several homes whose address does not already name the flat."""
    return address.units > 1 and not address.unit
