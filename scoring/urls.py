from django.urls import path

from scoring import views

urlpatterns = [
    path(
        "models/<str:name>/corrected-dataset/use/",
        views.corrected_dataset_use,
        name="corrected-dataset-use",
    ),
    path("models/<str:name>/app-tokens/", views.app_tokens, name="app-tokens"),
    path(
        "models/<str:name>/app-tokens/<int:token_id>/revoke/",
        views.app_token_revoke,
        name="app-token-revoke",
    ),
]
