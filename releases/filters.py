"""Filters shared by a page and its API (django-filter): one set of rules, one set of messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from releases.models import AuditEvent


class DateOrDateTimeField(forms.Field):
    """An ISO date (``2026-11-24``: the whole day) or date-time (``2026-11-24T10:00:00Z``);
    a date-time without a zone is in the server's time zone."""

    default_error_messages = {
        "invalid": "Use an ISO date (2026-11-24) or date-time (2026-11-24T10:00:00Z).",
    }

    def to_python(self, value: Any) -> dt.date | dt.datetime | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            parsed = parse_datetime(text)
        except ValueError:
            parsed = None
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class DateOrDateTimeFilter(django_filters.Filter):
    field_class = DateOrDateTimeField


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class AuditFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until:
            lo = _start_of(since) if not isinstance(since, dt.datetime) else since
            hi = _start_of(until) if not isinstance(until, dt.datetime) else until
            if hi < lo:
                self.add_error("until", "'until' is before 'since'.")
        return data


class AuditEventFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(
        field_name="registered_model__name", help_text="Model name (exact)."
    )
    actor = django_filters.CharFilter(
        field_name="actor__username", help_text="Username of who acted (exact)."
    )
    action = django_filters.CharFilter(
        method="filter_action",
        help_text="An action (version.approve), or a prefix ending in '.' (version.).",
    )
    since = DateOrDateTimeFilter(
        method="filter_since",
        help_text="From this ISO date or date-time (inclusive).",
    )
    until = DateOrDateTimeFilter(
        method="filter_until",
        help_text="Up to this ISO date-time, or the end of this ISO date (inclusive).",
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []
        form = AuditFilterForm

    def filter_action(
        self, queryset: QuerySet[AuditEvent], name: str, value: str
    ) -> QuerySet[AuditEvent]:
        if value.endswith("."):
            return queryset.filter(action__startswith=value)
        return queryset.filter(action=value)

    def filter_since(
        self, queryset: QuerySet[AuditEvent], name: str, value: dt.date | dt.datetime
    ) -> QuerySet[AuditEvent]:
        start = value if isinstance(value, dt.datetime) else _start_of(value)
        return queryset.filter(created_at__gte=start)

    def filter_until(
        self, queryset: QuerySet[AuditEvent], name: str, value: dt.date | dt.datetime
    ) -> QuerySet[AuditEvent]:
        if isinstance(value, dt.datetime):
            return queryset.filter(created_at__lte=value)
        return queryset.filter(created_at__lt=_start_of(value + dt.timedelta(days=1)))
