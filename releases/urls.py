from django.urls import path

from releases import views

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
]
