from __future__ import annotations

from django import forms

from releases.limits import DESCRIPTION_MAX_CHARS, MODEL_CARD_MAX_CHARS
from releases.models import WEBHOOK_EVENTS, slug_validator


def _too_long(label: str) -> dict[str, str]:
    # The same sentence the service gives the API (releases.limits), beside the field.
    return {
        "max_length": f"Keep the {label} to %(limit_value)s characters or fewer "
        "(it has %(show_value)s)."
    }


def description_field() -> forms.CharField:
    return forms.CharField(
        max_length=DESCRIPTION_MAX_CHARS,
        required=False,
        error_messages=_too_long("description"),
        help_text=f"One line, up to {DESCRIPTION_MAX_CHARS} characters.",
    )


class RegisteredModelForm(forms.Form):
    name = forms.CharField(
        max_length=63,
        validators=[slug_validator],
        help_text="Lowercase letters, digits, '-' and '_': it appears in API URLs.",
    )
    team = forms.ChoiceField(choices=[])
    description = description_field()
    model_card = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        max_length=MODEL_CARD_MAX_CHARS,
        error_messages=_too_long("model card"),
        help_text="Markdown: intended use, training data, limitations.",
    )

    def __init__(self, *args: object, team_names: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["team"].choices = [(n, n) for n in team_names]


class RegisteredModelEditForm(forms.Form):
    description = description_field()
    model_card = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14}),
        required=False,
        strip=False,
        max_length=MODEL_CARD_MAX_CHARS,
        error_messages=_too_long("model card"),
        help_text="Markdown: intended use, training data, limitations. Shown sanitized.",
    )
    evaluation_data = forms.FileField(
        required=False,
        label="New evaluation CSV",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="Leave empty to keep the standing set. A new CSV is checked like one sent "
        "with an upload, and every later version is measured on it.",
    )
    target = forms.CharField(
        max_length=255,
        required=False,
        label="Target column",
        help_text="The CSV column holding the true outcome.",
    )

    def clean_model_card(self) -> str:
        # Browsers send textarea lines as CRLF; without this an untouched card counts as edited.
        return str(self.cleaned_data["model_card"]).replace("\r\n", "\n")


class ModelFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    team = forms.CharField(required=False)
    status = forms.CharField(required=False)
    tag = forms.CharField(required=False)


class TrustTypesForm(forms.Form):
    """The types a reviewer may trust for one version. Nothing is ticked in advance, and the
    view acts only once ``confirmed`` comes back from the confirmation naming every type."""

    types = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        label="Types to trust for this version",
        error_messages={
            "required": "Tick at least one type to trust.",
            "invalid_choice": "%(value)s is not waiting for a reviewer's trust on this version.",
        },
    )
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: object, types: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["types"].choices = [(t, t) for t in types]


class WebhookForm(forms.Form):
    url = forms.CharField(
        label="Payload URL",
        max_length=2000,
        help_text="http(s), reachable on a public address; ModelGate POSTs signed JSON to it.",
        widget=forms.TextInput(
            attrs={"inputmode": "url", "placeholder": "https://ci.example.com/hooks/modelgate"}
        ),
    )
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in WEBHOOK_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Which events to send.",
    )
