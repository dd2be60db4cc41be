from __future__ import annotations

from django import forms

from releases.models import slug_validator


class RegisteredModelForm(forms.Form):
    name = forms.CharField(
        max_length=63,
        validators=[slug_validator],
        help_text="Lowercase letters, digits, '-' and '_': it appears in API URLs.",
    )
    team = forms.ChoiceField(choices=[])
    description = forms.CharField(max_length=500, required=False)
    model_card = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        help_text="Markdown: intended use, training data, limitations.",
    )

    def __init__(self, *args: object, team_names: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["team"].choices = [(n, n) for n in team_names]


class ModelFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    team = forms.CharField(required=False)
    status = forms.CharField(required=False)
    tag = forms.CharField(required=False)


class TrustTypesForm(forms.Form):
    types = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        label="Types to trust for this version",
        error_messages={"required": "Tick at least one type to trust."},
    )

    def __init__(self, *args: object, types: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["types"].choices = [(t, t) for t in types]
        self.fields["types"].initial = list(types)
