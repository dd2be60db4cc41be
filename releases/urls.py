from django.urls import path

from releases import review_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("me/token/", views.my_token, name="my-token"),
    path("models/", views.model_list, name="model-list"),
    path("models/new/", views.model_create, name="model-create"),
    path("models/<str:name>/", views.model_detail, name="model-detail"),
    path("models/<str:name>/edit/", views.model_edit, name="model-edit"),
    path("models/<str:name>/upload/", views.version_upload, name="version-upload"),
    path("models/<str:name>/versions/<int:version>/", views.version_detail, name="version-detail"),
    path(
        "models/<str:name>/versions/<int:version>/live/",
        views.version_live,
        name="version-live",
    ),
    path(
        "models/<str:name>/versions/<int:version>/trust/",
        views.version_trust,
        name="version-trust",
    ),
    path("audit/", views.audit_list, name="audit-list"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("models/<str:name>/webhooks/new/", views.webhook_create, name="webhook-create"),
    path(
        "models/<str:name>/webhooks/<int:webhook_id>/delete/",
        views.webhook_delete,
        name="webhook-delete",
    ),
    path(
        "models/<str:name>/versions/<int:version>/review/",
        review_views.version_review,
        name="version-review",
    ),
    path(
        "models/<str:name>/versions/<int:version>/promote/",
        review_views.version_promote,
        name="version-promote",
    ),
    path(
        "models/<str:name>/versions/<int:version>/archive/",
        review_views.version_archive,
        name="version-archive",
    ),
    path("models/<str:name>/rollback/", review_views.model_rollback, name="model-rollback"),
    path(
        "models/<str:name>/approvals/",
        review_views.model_approval_policy,
        name="model-approval-policy",
    ),
    path(
        "models/<str:name>/versions/<int:version>/report/",
        views.version_report,
        name="version-report",
    ),
    path(
        "models/<str:name>/versions/<int:version>/report/live/",
        views.version_report_live,
        name="version-report-live",
    ),
    path(
        "models/<str:name>/versions/<int:version>/report/rerun/",
        views.version_report_rerun,
        name="version-report-rerun",
    ),
]
