from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from releases.models import AuditEvent
from releases.services import audit_record

DB_REFUSALS = DatabaseError  # SQLite and PostgreSQL raise different subclasses


@pytest.mark.django_db
def test_audit_events_cannot_be_updated_in_the_database(owner):
    event = audit_record(actor=owner, action="model.register", payload={"name": "x"})
    with pytest.raises(DB_REFUSALS, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing.happened")
    event.refresh_from_db()
    assert event.action == "model.register"


@pytest.mark.django_db
def test_audit_events_cannot_be_deleted_in_the_database(owner):
    event = audit_record(actor=owner, action="model.register")
    with pytest.raises(DB_REFUSALS, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()
