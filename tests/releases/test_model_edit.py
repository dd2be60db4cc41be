"""Editing a registered model: description, model card and the standing evaluation set, through
the API (PATCH) and the edit page; who may, what the audit trail keeps, what a refusal leaves."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from releases.models import AuditEvent, EvaluationDataset, RegisteredModel
from tests.factories import EvaluationDatasetFactory
from tests.releases import model_files as mf

pytestmark = pytest.mark.django_db

URL = "/api/v1/models/credit-risk/"
SCRIPT = "<script>alert(1)</script>"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def csv_file(content: bytes, name: str = "eval.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def patch_csv(client: Any, content: bytes, **fields: Any) -> Any:
    return client.patch(URL, {"evaluation_data": csv_file(content), **fields}, format="multipart")


def edit_url(model: RegisteredModel) -> str:
    return reverse("model-edit", args=[model.name])


def model_url(model: RegisteredModel) -> str:
    return reverse("model-detail", args=[model.name])


def unchanged(model: RegisteredModel) -> bool:
    fresh = RegisteredModel.objects.get(pk=model.pk)
    return (fresh.description, fresh.model_card, fresh.evaluation_dataset_id) == (
        model.description,
        model.model_card,
        model.evaluation_dataset_id,
    )


# --- API: the happy paths ---------------------------------------------------------------------


def test_data_scientist_edits_description_and_model_card_and_one_audit_row_lists_them(
    api: Any, owner: Any, risk_model: Any
) -> None:
    card = "# Credit risk\n\nScores loan applications."

    response = api(owner).patch(
        URL, {"description": "Loan default risk", "model_card": card}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["name"], body["team"]) == ("credit-risk", "risk")
    assert body["description"] == "Loan default risk"
    assert body["model_card"] == card
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.registered_model) == (
        "model.update",
        owner,
        risk_model,
    )
    assert event.payload == {
        "fields": ["description", "model_card"],
        "description": {"old": "A test model", "new": "Loan default risk"},
        "model_card": {"old_sha256": sha(""), "new_sha256": sha(card)},
    }
    assert "Scores loan" not in str(event.payload)  # the card itself stays out of the trail


def test_only_the_fields_sent_change_and_are_audited(api: Any, owner: Any, risk_model: Any) -> None:
    risk_model.model_card = "kept"
    risk_model.save()

    response = api(owner).patch(URL, {"description": "new words"}, format="json")

    assert response.status_code == 200
    assert response.json()["model_card"] == "kept"
    assert AuditEvent.objects.get().payload["fields"] == ["description"]


def test_data_scientist_replaces_the_evaluation_set_with_multipart(
    api: Any, owner: Any, risk_model: Any, media_root: Path
) -> None:
    csv = mf.evaluation_csv_bytes(target="defaulted", rows=30)

    response = patch_csv(api(owner), csv, target="defaulted")

    assert response.status_code == 200, response.json()
    digest = hashlib.sha256(csv).hexdigest()
    assert response.json()["evaluation_dataset"] == {
        "sha256": digest,
        "target": "defaulted",
        "rows": 30,
        "columns": [*mf.FEATURES, "defaulted"],
    }
    dataset = EvaluationDataset.objects.get()
    assert RegisteredModel.objects.get().evaluation_dataset == dataset
    assert (dataset.original_name, dataset.created_by) == ("eval.csv", owner)
    assert mf.files_under(media_root) == [f"datasets/{digest[:2]}/{digest}.csv"]
    event = AuditEvent.objects.get()
    assert event.action == "model.evaluation_set"
    assert event.payload == {
        "sha256": digest,
        "target": "defaulted",
        "rows": 30,
        "previous_sha256": None,
    }


def test_replacing_the_set_keeps_the_old_one_for_versions_measured_on_it(
    api: Any, owner: Any, risk_model: Any, media_root: Path
) -> None:
    client = api(owner)
    first = patch_csv(client, mf.evaluation_csv_bytes(rows=20), target=mf.TARGET).json()
    second = patch_csv(client, mf.evaluation_csv_bytes(rows=40), target=mf.TARGET).json()

    assert second["evaluation_dataset"]["rows"] == 40
    assert EvaluationDataset.objects.count() == 2
    latest = AuditEvent.objects.filter(action="model.evaluation_set").first()
    assert latest is not None
    assert latest.payload["previous_sha256"] == first["evaluation_dataset"]["sha256"]


def test_admin_of_another_team_may_edit(api: Any, admin_user: Any, risk_model: Any) -> None:
    response = api(admin_user).patch(URL, {"description": "by the admin"}, format="json")

    assert response.status_code == 200
    assert AuditEvent.objects.get().actor == admin_user


def test_a_no_op_update_writes_nothing_and_no_audit_row(
    api: Any, owner: Any, risk_model: Any, media_root: Path
) -> None:
    client = api(owner)
    csv = mf.evaluation_csv_bytes()
    patch_csv(client, csv, target=mf.TARGET)
    before = AuditEvent.objects.count()
    updated_at = RegisteredModel.objects.get().updated_at

    responses = [
        client.patch(URL, {}, format="json"),
        client.patch(URL, {"description": "A test model", "model_card": ""}, format="json"),
        client.patch(URL, {"target": mf.TARGET}, format="json"),  # the standing target again
        patch_csv(client, csv, target=mf.TARGET),  # the same bytes and target again
    ]

    assert [r.status_code for r in responses] == [200] * 4
    assert AuditEvent.objects.count() == before
    assert EvaluationDataset.objects.count() == 1
    assert RegisteredModel.objects.get().updated_at == updated_at


# --- API: refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [("outsider", 404), ("labeler", 403), ("reviewer", 403), (None, 401)],
)
def test_wrong_users_cannot_edit_a_model(
    api: Any, request: pytest.FixtureRequest, risk_model: Any, persona: str | None, status: int
) -> None:
    user = request.getfixturevalue(persona) if persona else None

    response = api(user).patch(URL, {"description": "mine now"}, format="json")

    assert response.status_code == status
    assert unchanged(risk_model)
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (mf.evaluation_csv_without_target_bytes(), "churn"),
        (b"", "empty"),
        (b"\x00\x01binary\x00", "not"),
    ],
    ids=["no-target-column", "empty", "binary"],
)
def test_bad_csv_is_400_naming_the_field_and_leaves_no_row_and_no_file(
    api: Any, owner: Any, risk_model: Any, media_root: Path, content: bytes, words: str
) -> None:
    response = patch_csv(api(owner), content, target=mf.TARGET, description="also refused")

    assert response.status_code == 400
    body = response.json()
    # Our CSV checks name the field; DRF's own (an empty file) list it under "fields".
    message = body["detail"] if "field" in body else " ".join(body["fields"]["evaluation_data"])
    assert body.get("field", "evaluation_data") == "evaluation_data"
    assert words in message
    assert not EvaluationDataset.objects.exists()
    assert mf.files_under(media_root) == []
    assert unchanged(risk_model)
    assert not AuditEvent.objects.exists()


def test_csv_without_a_target_is_400_on_target(
    api: Any, owner: Any, risk_model: Any, media_root: Path
) -> None:
    response = patch_csv(api(owner), mf.evaluation_csv_bytes())

    assert response.status_code == 400
    assert response.json()["field"] == "target"
    assert mf.files_under(media_root) == []


def test_a_new_target_without_a_csv_is_400(api: Any, owner: Any, risk_model: Any) -> None:
    response = api(owner).patch(URL, {"target": "defaulted"}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "evaluation_data"


@pytest.mark.parametrize("body", [{"name": "renamed"}, {"team": "growth"}, {"name": "credit-risk"}])
def test_name_and_team_cannot_be_changed(
    api: Any, owner: Any, outsider: Any, risk_model: Any, body: dict[str, str]
) -> None:
    response = api(owner).patch(URL, {**body, "description": "with a rename"}, format="json")

    assert response.status_code == 400
    (field,) = body
    assert response.json()["fields"][field] == [
        f"A model's {field} cannot be changed; register a new model instead."
    ]
    assert RegisteredModel.objects.get().team.name == "risk"
    assert unchanged(risk_model)


def test_name_in_a_multipart_body_is_refused_too(
    api: Any, owner: Any, risk_model: Any, media_root: Path
) -> None:
    response = patch_csv(api(owner), mf.evaluation_csv_bytes(), target=mf.TARGET, name="other")

    assert response.status_code == 400
    assert "name" in response.json()["fields"]
    assert mf.files_under(media_root) == []


def test_patch_is_in_the_openapi_schema(api: Any, owner: Any) -> None:
    schema = api(owner).get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/models/{name}/"]["patch"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"200", "400", "403", "404"} <= set(operation["responses"])


# --- The edit page ----------------------------------------------------------------------------


def test_model_page_offers_edit_to_those_who_may_edit(
    client: Any, owner: Any, reviewer: Any, labeler: Any, risk_model: Any
) -> None:
    client.force_login(owner)
    assert (
        f'href="{edit_url(risk_model)}">Edit model</a>'
        in client.get(model_url(risk_model)).content.decode()
    )
    for user in (reviewer, labeler):
        client.force_login(user)
        assert "Edit model" not in client.get(model_url(risk_model)).content.decode()


def test_edit_page_is_prefilled_with_the_model(client: Any, owner: Any, risk_model: Any) -> None:
    risk_model.evaluation_dataset = EvaluationDatasetFactory(
        registered_model=risk_model, target="defaulted", n_rows=12
    )
    risk_model.model_card = "# Card"
    risk_model.save()
    client.force_login(owner)

    html = client.get(edit_url(risk_model)).content.decode()

    assert (
        "<title>Edit credit-risk: description, model card, evaluation set · ModelGate</title>"
        in html
    )
    assert 'name="description" value="A test model"' in html
    assert "# Card</textarea>" in html
    assert 'name="target" value="defaulted"' in html
    assert 'enctype="multipart/form-data"' in html
    assert '<label for="id_evaluation_data">New evaluation CSV</label>' in html
    assert "12 rows, target" in html
    assert "cannot be changed" in html


def test_data_scientist_saves_the_edit_page_and_sees_the_model(
    client: Any, owner: Any, risk_model: Any, media_root: Path
) -> None:
    client.force_login(owner)

    response = client.post(
        edit_url(risk_model),
        {
            "description": "Loan default risk",
            "model_card": "# Card\r\n\r\nFor loans.",
            "evaluation_data": csv_file(mf.evaluation_csv_bytes(target="defaulted")),
            "target": "defaulted",
        },
        follow=True,
    )

    assert response.redirect_chain == [(model_url(risk_model), 302)]
    html = response.content.decode()
    assert "Saved your changes to credit-risk." in html
    assert "Loan default risk" in html
    assert "<h1>Card</h1>" in html
    assert '<dd class="mono">defaulted</dd>' in html
    model = RegisteredModel.objects.get()
    assert model.model_card == "# Card\n\nFor loans."
    assert sorted(AuditEvent.objects.values_list("action", flat=True)) == [
        "model.evaluation_set",
        "model.update",
    ]


def test_saving_the_page_untouched_changes_nothing(
    client: Any, owner: Any, risk_model: Any
) -> None:
    risk_model.model_card = "# Card\n\nTwo lines."
    risk_model.save()
    client.force_login(owner)

    # As a browser sends it back: CRLF line endings, the empty file input, the prefilled target.
    response = client.post(
        edit_url(risk_model),
        {"description": "A test model", "model_card": "# Card\r\n\r\nTwo lines.", "target": ""},
        follow=True,
    )

    assert "Nothing changed: credit-risk is as it was." in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_script_in_an_edited_model_card_is_not_rendered_as_a_tag(
    client: Any, owner: Any, risk_model: Any
) -> None:
    client.force_login(owner)
    client.post(
        edit_url(risk_model),
        {"description": SCRIPT, "model_card": f"# Card\n\n{SCRIPT}\n\n[x](javascript:alert(1))"},
    )

    html = client.get(model_url(risk_model)).content.decode()

    assert RegisteredModel.objects.get().model_card.endswith("(javascript:alert(1))")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html


def test_bad_csv_on_the_page_is_shown_beside_the_field_and_keeps_the_typing(
    client: Any, owner: Any, risk_model: Any, media_root: Path
) -> None:
    client.force_login(owner)

    response = client.post(
        edit_url(risk_model),
        {
            "description": "Typed with care",
            "model_card": "A long card I do not want to type again",
            "evaluation_data": csv_file(mf.evaluation_csv_without_target_bytes(), "mine.csv"),
            "target": mf.TARGET,
        },
    )

    assert response.status_code == 400
    html = response.content.decode()
    error = html.index('<div class="errorlist" role="alert">')
    assert html.index('id="id_evaluation_data"') < error < html.index('id="id_target"')
    assert "churn" in html[error : error + 400]
    assert 'value="Typed with care"' in html
    assert "A long card I do not want to type again</textarea>" in html
    assert "mine.csv was not saved; choose the file again." in html
    assert not EvaluationDataset.objects.exists()
    assert mf.files_under(media_root) == []
    assert unchanged(risk_model)
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("persona", "status"), [("outsider", 404), ("labeler", 403), ("reviewer", 403)]
)
def test_wrong_users_get_no_edit_page_and_cannot_post_it(
    client: Any, request: pytest.FixtureRequest, risk_model: Any, persona: str, status: int
) -> None:
    client.force_login(request.getfixturevalue(persona))

    assert client.get(edit_url(risk_model)).status_code == status
    assert client.post(edit_url(risk_model), {"description": "mine"}).status_code == status
    assert unchanged(risk_model)


def test_anonymous_visitor_is_sent_to_sign_in(client: Any, risk_model: Any) -> None:
    response = client.get(edit_url(risk_model))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("size", [100 * 1024, 300 * 1024], ids=["streamed", "declared"])
def test_csv_over_the_upload_limit_is_413_and_changes_nothing(
    api: Any, owner: Any, risk_model: Any, media_root: Path, settings: Any, size: int
) -> None:
    settings.MODELGATE_MAX_UPLOAD_BYTES = 64 * 1024
    header, *rows = mf.evaluation_csv_bytes().splitlines(keepends=True)
    big = header + b"".join(rows) * (size // len(b"".join(rows)) + 1)
    assert len(big) > size

    response = patch_csv(api(owner), big, target=mf.TARGET, description="too big to take")

    assert response.status_code == 413, response.json()
    assert "64.0 KB limit" in response.json()["detail"]
    assert mf.files_under(media_root) == []
    assert unchanged(risk_model)
    assert not AuditEvent.objects.exists()
