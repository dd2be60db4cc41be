"""The relabel pages: labelers find their queues from the navigation and home page, the
labeling screen says how many are left, reviewers settle disputes, the queue settings save."""

from __future__ import annotations

import pytest
from django.test import Client

from releases.models import AuditEvent, Role
from scoring.models import GroundTruth, RelabelPolicy
from scoring.services import relabel_item_label, relabel_item_lease_next
from tests.factories import PASSWORD, member
from tests.scoring.relabeling import labelers, queue, version_of

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def version(risk_model):
    return version_of(risk_model)


def test_labelers_find_their_queues_from_the_navigation_and_the_home_page(version, labeler, owner):
    queue(version, 3)
    home = client_for(labeler).get("/").content.decode()
    assert '<a href="/queues/">Queues</a>' in home
    assert "Your relabel queues" in home and "3 waiting" in home
    page = client_for(labeler).get("/queues/").content.decode()
    assert 'href="/queues/credit-risk/"' in page
    owner_home = client_for(owner).get("/").content.decode()
    assert (
        '<a href="/queues/">Queues</a>' not in owner_home
        and "Your relabel queues" not in owner_home
    )


def test_the_labeling_screen_says_how_many_are_left(version, labeler):
    queue(version, 2)
    response = client_for(labeler).get("/queues/credit-risk/")
    assert response.status_code == 200
    assert "<title>Queue: credit-risk (2 left) · ModelGate</title>" in response.content.decode()
    assert 'id="relabel-config"' in response.content.decode()


def test_another_teams_labeler_gets_404_and_a_data_scientist_403(version, owner):
    stranger = member("stan", Role.LABELER, "growth")
    assert client_for(stranger).get("/queues/credit-risk/").status_code == 404
    assert client_for(stranger).get("/queues/credit-risk/disputes/").status_code == 404
    assert client_for(stranger).get("/models/credit-risk/queue-settings/").status_code == 404
    assert "credit-risk" not in client_for(stranger).get("/queues/").content.decode()
    assert client_for(owner).get("/queues/credit-risk/").status_code == 403


def test_a_reviewer_settles_a_dispute_on_its_page(version, reviewer):
    (item,) = queue(version, 1, labels_needed=2)
    for person, label in zip(labelers(2), ["churn", "stay"], strict=True):
        relabel_item_lease_next(actor=person, registered_model=version.registered_model)
        relabel_item_label(actor=person, item=item, label=label)
    client = client_for(reviewer)
    page = client.get("/queues/credit-risk/disputes/").content.decode()
    assert "labels to settle (1)" in page and "labeler0" in page and "Settle as churn" in page

    response = client.post("/queues/credit-risk/disputes/", {"item": item.pk, "label": "churn"})

    assert response.status_code == 302
    assert GroundTruth.objects.get().label == "churn"
    assert "Nothing to settle" in client.get("/queues/credit-risk/disputes/").content.decode()


def test_queue_settings_save_with_an_audit_row_and_refuse_bad_values(risk_model, owner, labeler):
    url = "/models/credit-risk/queue-settings/"
    form = {
        "enabled": "on", "strategy": "margin", "threshold": "0.3", "sample_rate": "0.05",
        "regression_rule": "sample", "labels_per_item": "2", "skips_to_close": "4",
        "lease_seconds": "",
    }  # fmt: skip
    assert client_for(owner).post(url, form).status_code == 302
    policy = RelabelPolicy.objects.get()
    assert (policy.strategy, policy.labels_per_item, policy.lease_seconds) == ("margin", 2, None)
    assert policy.skips_to_close == 4
    assert AuditEvent.objects.filter(action="relabel.policy_update").count() == 1

    refused = client_for(owner).post(url, {**form, "threshold": "7"})
    assert refused.status_code == 400 and "less than or equal to 1" in refused.content.decode()
    range_missing = client_for(owner).post(url, {**form, "regression_rule": "outside_range"})
    assert range_missing.status_code == 400
    assert "needs regression_min or regression_max" in range_missing.content.decode()

    read_only = client_for(labeler).get(url).content.decode()
    assert "Save queue settings" not in read_only and "change these settings" in read_only
    model_page = client_for(owner).get("/models/credit-risk/").content.decode()
    assert 'href="/models/credit-risk/queue-settings/"' in model_page
