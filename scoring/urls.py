from django.urls import path

from scoring import views

urlpatterns = [
    path("models/<str:name>/batch/", views.batch_upload, name="batch-upload"),
    path("models/<str:name>/batch/panel/", views.batch_panel, name="batch-panel"),
    path("models/<str:name>/app-tokens/", views.app_tokens, name="app-tokens"),
    path(
        "models/<str:name>/app-tokens/<int:token_id>/revoke/",
        views.app_token_revoke,
        name="app-token-revoke",
    ),
]
