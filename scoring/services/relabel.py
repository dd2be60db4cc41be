"""Working a relabel queue: lease the next item, label it, skip it, settle a dispute.

Leasing is the hot write: one ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1`` over the partial
index of open items on PostgreSQL, so concurrent labelers each take a different row without
waiting for each other. SQLite has no row locks; its transactions start with ``BEGIN
IMMEDIATE`` (webapp.settings), which serialises the same code. An item is leased to one labeler
at a time, also when it needs several labels (they come one after another), so two labelers
never hold the same item.

App feedback wins over the queue (scoring.services.feedback): it answers a prediction's open or
disputed item, which leaves the queue. A label or settlement that still reaches an item whose
prediction has feedback is kept as the labeler's answer, the item is answered, and the
feedback stays the ground truth; the audit row names both labels. Every write here first
takes the prediction's row lock, as feedback does, so the two take turns.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections, router, transaction
from django.utils import timezone

from releases.errors import Conflict, Forbidden, InvalidTransition
from releases.models import RegisteredModel
from releases.services.audit import audit_record
from scoring.models import (
    RELABEL_TRANSITIONS,
    GroundTruth,
    Prediction,
    RelabelItem,
    RelabelLabel,
    RelabelReason,
    RelabelStatus,
)
from scoring.selectors.relabel import (
    VERSION_BULK,
    team_labeler_ids,
    user_can_label,
    user_can_settle,
)
from scoring.services.labels import ground_truth_write, label_check, prediction_lock


def _rules(registered_model_id: int) -> Any:
    from scoring.relabel_routing import rules_for

    return rules_for([registered_model_id])[registered_model_id]


def _lease_seconds(registered_model_id: int) -> int:
    return _rules(registered_model_id).lease_seconds or settings.MODELGATE_RELABEL_LEASE_SECONDS


def _require_labeler(actor: User, model: RegisteredModel) -> None:
    if not user_can_label(user=actor, team_id=model.team_id):
        raise Forbidden(f"Only labelers, reviewers and admins of team {model.team.name!r} label.")


_ITEM_STATE = ["status", "label_count", "lease_holder", "lease_expires_at", "completed_at"]


def _move(item: RelabelItem, to: str) -> None:
    if to not in RELABEL_TRANSITIONS[item.status]:
        raise InvalidTransition(f"Relabel item {item.pk} cannot go from {item.status} to {to}.")
    item.status = to
    item.lease_holder = None
    item.lease_expires_at = None
    if to in RelabelStatus.done():
        item.completed_at = timezone.now()


# One statement, so a lease is one round trip in autocommit: the inner SELECT picks the oldest
# open item that is free (never leased, lease expired, or already the caller's) and that the
# caller has not answered, and locks it, skipping rows other labelers are locking right now; the
# UPDATE leases it. The ORM cannot say UPDATE ... RETURNING over a locking subquery, and each
# extra round trip (BEGIN, SELECT, UPDATE, COMMIT) is what a busy queue waits on. The ORDER BY
# matches the partial index relabel_open_queue. SQLite (3.35+ for RETURNING) has no row locks;
# it runs the statement alone, as it runs every write.
#
# On PostgreSQL the lease's own commit does not wait for the WAL flush ({commit}: a
# transaction-local synchronous_commit=off; measured, the flush was most of a lease's p99). A
# lease lost in a crash costs nothing: the item is offered again, and a late label from the
# first holder is refused as leased to someone else. Labels keep synchronous commits.
_LEASE_SQL = """
UPDATE {item} SET lease_holder_id = %s, lease_expires_at = %s{commit}
WHERE id = (
    SELECT i.id FROM {item} i
    WHERE i.registered_model_id = %s AND i.status = %s
      AND (i.lease_expires_at IS NULL OR i.lease_expires_at <= %s OR i.lease_holder_id = %s)
      AND i.id NOT IN (
          SELECT l.item_id FROM {label} l JOIN {item} j ON j.id = l.item_id
          WHERE l.labeler_id = %s AND j.registered_model_id = %s AND j.status = %s
      )
    ORDER BY i.created_at, i.id
    LIMIT 1{lock}
)
RETURNING {columns}
"""


@functools.cache
def _lease_sql(vendor: str, *, async_commit: bool) -> str:
    table = RelabelItem._meta.db_table
    postgres = vendor == "postgresql"
    return _LEASE_SQL.format(
        item=table,
        label=RelabelLabel._meta.db_table,
        lock=" FOR UPDATE SKIP LOCKED" if postgres else "",
        columns=", ".join(f"{table}.{f.column}" for f in RelabelItem._meta.concrete_fields),
        commit="\nFROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"
        if postgres and async_commit
        else "",
    )


def relabel_item_lease_next(
    *, actor: User, registered_model: RegisteredModel
) -> RelabelItem | None:
    """Lease the oldest open item of the model's queue to ``actor`` (None when nothing is left
    for them): one free, or already theirs (a reloaded page gets its item back with a fresh
    expiry). Items they labeled or skipped never come back."""
    _require_labeler(actor, registered_model)
    now = timezone.now()
    expires = now + timedelta(seconds=_lease_seconds(registered_model.pk))
    connection = connections[router.db_for_write(RelabelItem)]
    # Inside a caller's transaction the setting would cover the caller's writes too.
    sql = _lease_sql(connection.vendor, async_commit=not connection.in_atomic_block)
    at = connection.ops.adapt_datetimefield_value
    model_id, status = registered_model.pk, RelabelStatus.OPEN.value
    params = [
        actor.pk,
        at(expires),
        model_id,
        status,
        at(now),
        actor.pk,
        actor.pk,
        model_id,
        status,
    ]
    # No transaction block: in autocommit the statement is its own transaction.
    leased = list(RelabelItem.objects.using(connection.alias).raw(sql, params))
    return leased[0] if leased else None


def _lock(item: RelabelItem) -> RelabelItem:
    # The prediction first, then the item: the order feedback takes them in, so no deadlock.
    prediction_lock(prediction_id=item.prediction_id)
    return (
        RelabelItem.objects.select_for_update(of=("self",))
        .select_related("registered_model__team", "model_version", "prediction")
        .defer(*VERSION_BULK, "prediction__inputs", "prediction__probabilities")
        .get(pk=item.pk)
    )


def _check_workable(item: RelabelItem, actor: User) -> None:
    """409 unless the item is open and not leased to somebody else right now."""
    if item.status != RelabelStatus.OPEN:
        raise Conflict(
            f"Relabel item {item.pk} is already {item.get_status_display()}; take the next one.",
            code="already_complete",
        )
    leased = item.lease_expires_at is not None and item.lease_expires_at > timezone.now()
    if leased and item.lease_holder_id != actor.pk:
        raise Conflict(
            f"Relabel item {item.pk} is leased to another labeler until "
            f"{item.lease_expires_at:%H:%M:%S} UTC; take the next one.",
            code="leased_to_someone_else",
        )


def _settle_truth(item: RelabelItem, signature: dict[str, Any], label: Any, actor: User) -> None:
    """The settled label becomes the prediction's ground truth; the queue's random sample is
    what live accuracy may use without bias."""
    ground_truth_write(
        prediction=item.prediction,
        signature=signature,
        label=label,
        source="queue",
        sampled=item.reason == RelabelReason.SAMPLE,
        labeled_by=f"user:{actor.pk}",
        user=actor,
    )


def _feedback_of(item: RelabelItem) -> GroundTruth | None:
    """The prediction's ground truth when app feedback wrote it (it then wins over the queue)."""
    return GroundTruth.objects.filter(
        prediction_id=item.prediction_id, source=GroundTruth.Source.FEEDBACK
    ).first()


def relabel_items_answer(
    *, actor: User | None, prediction: Prediction, caller: str, label: Any
) -> int:
    """App feedback gave ``prediction`` its truth: its open, disputed or unresolved queue item is
    answered and leaves the queue (the caller holds the prediction's lock). The number of items
    answered (0 or 1)."""
    items = RelabelItem.objects.select_for_update(of=("self",)).filter(
        prediction=prediction, status__in=[RelabelStatus.OPEN, *RelabelStatus.to_settle()]
    )
    answered = 0
    for item in items.select_related("registered_model"):
        _move(item, RelabelStatus.ANSWERED)
        item.save(update_fields=_ITEM_STATE)
        audit_record(
            actor=actor,
            action="relabel.answered_by_feedback",
            registered_model=item.registered_model,
            model_version=prediction.model_version,
            payload={"item": item.pk, "label": label, "caller": caller},
        )
        answered += 1
    return answered


def _answers(item: RelabelItem) -> dict[int, RelabelLabel]:
    """labeler id -> their answer, for every answer the item has (a handful at most)."""
    return {given.labeler_id: given for given in RelabelLabel.objects.filter(item=item)}


def _already(given: RelabelLabel | None, item: RelabelItem, kind: str, label: Any) -> bool:
    """True when the labeler already gave this very answer (a retried request: nothing to do);
    a 409 when they gave another one."""
    if given is None:
        return False
    if given.kind == kind and given.label == label:
        return True
    raise Conflict(
        f"You already answered relabel item {item.pk} ({given.get_kind_display()}); an answer "
        "cannot be changed.",
        code="already_labeled",
    )


@transaction.atomic
def relabel_item_label(*, actor: User, item: RelabelItem, label: Any) -> RelabelItem:
    """Record ``actor``'s label. With enough labels the item is done: all agreeing, it is
    labeled and becomes the prediction's ground truth; otherwise it is disputed and waits for a
    reviewer. A label outside the classes is a 400 naming them; an item leased to somebody
    else or already done is a 409."""
    locked = _lock(item)
    _require_labeler(actor, locked.registered_model)
    signature = locked.model_version.signature or {}
    value = label_check(signature=signature, label=label)
    answers = _answers(locked)
    if _already(answers.get(actor.pk), locked, RelabelLabel.Kind.LABEL, value):
        return locked
    _check_workable(locked, actor)
    RelabelLabel.objects.create(
        item=locked, labeler=actor, kind=RelabelLabel.Kind.LABEL, label=value
    )
    locked.label_count += 1
    feedback = _feedback_of(locked)
    if feedback is not None:
        _move(locked, RelabelStatus.ANSWERED)
    elif locked.label_count >= locked.labels_needed:
        given = [a.label for a in answers.values() if a.kind == RelabelLabel.Kind.LABEL]
        if all(g == value for g in given):
            _move(locked, RelabelStatus.LABELED)
            _settle_truth(locked, signature, value, actor)
        else:
            _move(locked, RelabelStatus.DISPUTED)
    elif _nobody_left(locked, answered={*answers, actor.pk}):
        _move(locked, RelabelStatus.UNRESOLVED)
    else:
        # The next label must come from somebody else: free the item for them now.
        locked.lease_holder = None
        locked.lease_expires_at = None
    locked.save(update_fields=_ITEM_STATE)
    audit_record(
        actor=actor,
        action="relabel.label",
        registered_model=locked.registered_model,
        model_version=locked.model_version,
        payload={"item": locked.pk, "label": value, "status": locked.status,
                 **_kept(feedback)},
    )  # fmt: skip
    return locked


def _kept(feedback: GroundTruth | None) -> dict[str, Any]:
    """For the audit row of a queue label that did not replace app feedback."""
    if feedback is None:
        return {}
    return {"kept_feedback": {"label": feedback.label, "labeled_by": feedback.labeled_by}}


@transaction.atomic
def relabel_item_skip(*, actor: User, item: RelabelItem, unsure: bool = False) -> RelabelItem:
    """``actor`` passes on the item (``unsure``: they looked and could not tell). It returns to
    the queue for others and is never offered to them again; once the policy's
    ``skips_to_close`` labelers passed on it, or nobody left on the team may still label it, it
    leaves the queue as unresolved and waits for a reviewer (the disputes screen)."""
    locked = _lock(item)
    _require_labeler(actor, locked.registered_model)
    kind = RelabelLabel.Kind.UNSURE if unsure else RelabelLabel.Kind.SKIP
    answers = _answers(locked)
    if _already(answers.get(actor.pk), locked, kind, None):
        return locked
    _check_workable(locked, actor)
    RelabelLabel.objects.create(item=locked, labeler=actor, kind=kind)
    passes = 1 + sum(a.kind != RelabelLabel.Kind.LABEL for a in answers.values())
    if passes >= _rules(locked.registered_model_id).skips_to_close or _nobody_left(
        locked, answered={*answers, actor.pk}
    ):
        _move(locked, RelabelStatus.UNRESOLVED)
    else:
        locked.lease_holder = None
        locked.lease_expires_at = None
    locked.save(update_fields=_ITEM_STATE)
    audit_record(
        actor=actor,
        action=f"relabel.{kind}",
        registered_model=locked.registered_model,
        model_version=locked.model_version,
        payload={"item": locked.pk, "status": locked.status, "passes": passes},
    )
    return locked


def _nobody_left(item: RelabelItem, *, answered: set[int]) -> bool:
    """Every labeler and reviewer of the model's team has answered the item, so the queue would
    never offer it to anyone again. Admins outside the team are not counted: they may label
    anywhere, but an item waiting for one would sit in the queue forever."""
    return not (team_labeler_ids(team_id=item.registered_model.team_id) - answered)


@transaction.atomic
def relabel_item_settle(*, actor: User, item: RelabelItem, label: Any) -> RelabelItem:
    """A reviewer decides a disputed or unresolved item: their label becomes the ground truth."""
    locked = _lock(item)
    model = locked.registered_model
    if not user_can_settle(user=actor, team_id=model.team_id):
        raise Forbidden(f"Only reviewers and admins of team {model.team.name!r} settle disputes.")
    signature = locked.model_version.signature or {}
    value = label_check(signature=signature, label=label)
    if locked.status == RelabelStatus.SETTLED:
        truth = getattr(locked.prediction, "ground_truth", None)
        if truth is not None and truth.label == value:
            return locked
    if locked.status not in RelabelStatus.to_settle():
        raise Conflict(
            f"Relabel item {locked.pk} is {locked.get_status_display()}; only disputed and "
            "unresolved items are settled by a reviewer.",
            code="not_disputed",
        )
    given = list(
        RelabelLabel.objects.filter(item=locked, kind=RelabelLabel.Kind.LABEL).values_list(
            "labeler__username", "label"
        )
    )
    feedback = _feedback_of(locked)
    _move(locked, RelabelStatus.SETTLED if feedback is None else RelabelStatus.ANSWERED)
    locked.save(update_fields=_ITEM_STATE)
    if feedback is None:
        _settle_truth(locked, signature, value, actor)
    audit_record(
        actor=actor,
        action="relabel.settle",
        registered_model=model,
        model_version=locked.model_version,
        payload={"item": locked.pk, "label": value, "labels": [[u, v] for u, v in given],
                 "status": locked.status, **_kept(feedback)},
    )  # fmt: skip
    return locked
