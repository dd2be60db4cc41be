"""One rule for who tunes how a served model is watched and relabeled (the "operate" action):
data scientists, reviewers and admins change monitoring thresholds and the relabel policy;
labelers and other teams do not."""

from __future__ import annotations

import pytest

from releases.errors import Forbidden
from releases.selectors import user_can
from scoring import services
from scoring.services.relabel_policy import user_can_set_relabel_policy

pytestmark = pytest.mark.django_db


def test_data_scientists_reviewers_and_admins_operate_and_labelers_do_not(
    risk_model, owner, reviewer, labeler, outsider, admin_user
):
    for person, allowed in [
        (owner, True), (reviewer, True), (admin_user, True), (labeler, False), (outsider, False),
    ]:  # fmt: skip
        assert user_can(user=person, team_id=risk_model.team_id, action="operate") is allowed
        assert user_can_set_relabel_policy(user=person, registered_model=risk_model) is allowed


def test_a_labeler_changes_neither_thresholds_nor_the_relabel_policy(risk_model, labeler, reviewer):
    with pytest.raises(Forbidden):
        services.monitoring_settings_update(
            actor=labeler, registered_model=risk_model, changes={"min_rows": 5}
        )
    with pytest.raises(Forbidden):
        services.relabel_policy_update(
            actor=labeler, registered_model=risk_model, changes={"threshold": 0.5}
        )
    chosen = services.monitoring_settings_update(
        actor=reviewer, registered_model=risk_model, changes={"min_rows": 5}
    )
    assert chosen.min_rows == 5
