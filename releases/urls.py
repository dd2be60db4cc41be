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
