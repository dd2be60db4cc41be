from django.urls import path

from releases import apis

urlpatterns = [
    path("me/", apis.MeApi.as_view(), name="api-me"),
    path("models/", apis.ModelListApi.as_view(), name="api-model-list"),
    path("models/<str:name>/", apis.ModelDetailApi.as_view(), name="api-model-detail"),
    path("models/<str:name>/versions/", apis.VersionListApi.as_view(), name="api-version-list"),
    path(
        "models/<str:name>/versions/<int:version>/",
        apis.VersionDetailApi.as_view(),
        name="api-version-detail",
    ),
    path(
        "models/<str:name>/versions/<int:version>/artifact",
        apis.VersionArtifactApi.as_view(),
        name="api-version-artifact",
    ),
    path(
        "models/<str:name>/versions/<int:version>/trust",
        apis.VersionTrustApi.as_view(),
        name="api-version-trust",
    ),
    path(
        "models/<str:name>/versions/<int:version>/validation/",
        apis.VersionValidationApi.as_view(),
        name="api-version-validation",
    ),
    path(
        "models/<str:name>/versions/<int:version>/validation/rerun/",
        apis.VersionValidationRerunApi.as_view(),
        name="api-version-validation-rerun",
    ),
    path(
        "models/<str:name>/versions/<int:version>/validation/disagreements.csv",
        apis.VersionDisagreementsApi.as_view(),
        name="api-version-disagreements",
    ),
    path("audit/", apis.AuditListApi.as_view(), name="api-audit-list"),
    path("models/<str:name>/webhooks/", apis.WebhookListApi.as_view(), name="api-webhook-list"),
    path(
        "models/<str:name>/webhooks/<int:webhook_id>/",
        apis.WebhookDetailApi.as_view(),
        name="api-webhook-detail",
    ),
    path(
        "models/<str:name>/webhooks/<int:webhook_id>/deliveries/",
        apis.WebhookDeliveryListApi.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "models/<str:name>/versions/<int:version>/reviews/",
        apis.VersionReviewApi.as_view(),
        name="api-version-reviews",
    ),
    path(
        "models/<str:name>/versions/<int:version>/promote/",
        apis.VersionPromoteApi.as_view(),
        name="api-version-promote",
    ),
    path(
        "models/<str:name>/versions/<int:version>/archive/",
        apis.VersionArchiveApi.as_view(),
        name="api-version-archive",
    ),
    path("models/<str:name>/rollback/", apis.ModelRollbackApi.as_view(), name="api-model-rollback"),
    path("models/<str:name>/stages/", apis.ModelStagesApi.as_view(), name="api-model-stages"),
]
