from django.urls import path

from scoring import apis, views

urlpatterns = [
    path(
        "models/<str:name>/corrected-dataset/use/",
        views.corrected_dataset_use,
        name="corrected-dataset-use",
    ),
    path("metrics", apis.prometheus_metrics, name="metrics"),
    path("models/<str:name>/shadow/", views.shadow_mode, name="model-shadow"),
    path("models/<str:name>/app-tokens/", views.app_tokens, name="app-tokens"),
    path(
        "models/<str:name>/app-tokens/<int:token_id>/revoke/",
        views.app_token_revoke,
        name="app-token-revoke",
    ),
]
