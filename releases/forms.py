from __future__ import annotations

import json

from django import forms

from releases.limits import COMMENT_MAX_CHARS, DESCRIPTION_MAX_CHARS, MODEL_CARD_MAX_CHARS
from releases.models import MAX_REQUIRED_APPROVALS, WEBHOOK_EVENTS, ReviewDecision, slug_validator


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

    gates = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 7, "class": "mono", "spellcheck": "false"}),
        required=False,
        label="Release gates (JSON)",
        help_text='Checked on every validation and enforced at promotion. Example: {"min_metrics": '
        '{"accuracy": 0.9}, "max_regression": {"roc_auc": 0.01}, "max_latency_ms": 50, '
        '"block_breaking_signature_change": true}. Leave empty for no gates.',
    )

    def clean_model_card(self) -> str:
        # Browsers send textarea lines as CRLF; without this an untouched card counts as edited.
        return str(self.cleaned_data["model_card"]).replace("\r\n", "\n")

    def clean_gates(self) -> dict[str, object]:
        from releases.gates import GatePolicyError, clean_policy

        text = str(self.cleaned_data["gates"]).strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(
                f"The gates are not valid JSON ({exc.msg} at line {exc.lineno}, column "
                f"{exc.colno}). Fix the text or leave it empty."
            ) from None
        try:
            return clean_policy(value)
        except GatePolicyError as exc:
            raise forms.ValidationError(exc.message) from None


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


def comment_field(
    label: str = "Comment", *, required: bool = False, **kwargs: object
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=COMMENT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={**_too_long(label.lower()), "required": "Say why: a comment is required."},
        **kwargs,  # type: ignore[arg-type]
    )


class ReviewForm(forms.Form):
    """Approve or reject: one comment box and two buttons that send ``decision``."""

    decision = forms.ChoiceField(
        choices=ReviewDecision.choices,
        error_messages={
            "required": "Choose approve or reject.",
            "invalid_choice": "Choose approve or reject.",
        },
    )
    comment = comment_field(help_text="What you checked. Required to reject: say what to fix.")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("decision") == ReviewDecision.REJECT and not data.get("comment"):
            self.add_error("comment", "Say why you reject it: a comment is required.")
        return data


class PromoteForm(forms.Form):
    comment = comment_field(help_text="Why now: shown in the stage history.")
    override_reason = comment_field(
        "Override reason",
        help_text="Admins only: why this version may serve production although its release "
        "gates failed. Recorded in the history and the audit trail.",
    )


class StageChangeForm(forms.Form):
    """Rollback and archive: a comment for the history."""

    comment = comment_field(help_text="Why: shown in the stage history.")


class ApprovalPolicyForm(forms.Form):
    required_approvals = forms.TypedChoiceField(
        label="Approvals required",
        coerce=int,
        choices=[(n, str(n)) for n in range(1, MAX_REQUIRED_APPROVALS + 1)],
        help_text="From different reviewers, never the uploader.",
    )
