from django.urls import path

from scoring import apis, monitoring_views, relabel_views, views

urlpatterns = [
    path(
        "models/<str:name>/corrected-dataset/use/",
        views.corrected_dataset_use,
        name="corrected-dataset-use",
    ),
    path("metrics", apis.prometheus_metrics, name="metrics"),
    path("models/<str:name>/shadow/", views.shadow_mode, name="model-shadow"),
    path("models/<str:name>/batch/", views.batch_upload, name="batch-upload"),
    path("models/<str:name>/batch/panel/", views.batch_panel, name="batch-panel"),
    path("models/<str:name>/app-tokens/", views.app_tokens, name="app-tokens"),
    path(
        "models/<str:name>/app-tokens/<int:token_id>/revoke/",
        views.app_token_revoke,
        name="app-token-revoke",
    ),
    path("models/<str:name>/queue-settings/", relabel_views.policy, name="relabel-policy"),
    path("queues/", relabel_views.queues, name="relabel-queues"),
    path("queues/<str:name>/", relabel_views.label_screen, name="relabel-label"),
    path("queues/<str:name>/disputes/", relabel_views.disputes, name="relabel-disputes"),
    path("monitoring/", monitoring_views.overview, name="monitoring"),
    path("monitoring/alerts/", monitoring_views.alert_list, name="monitoring-alerts"),
    path(
        "monitoring/alerts/<int:alert_id>/acknowledge/",
        monitoring_views.alert_acknowledge,
        name="monitoring-alert-acknowledge",
    ),
    path("models/<str:name>/monitoring/", monitoring_views.dashboard, name="monitoring-dashboard"),
    path(
        "models/<str:name>/monitoring/thresholds/",
        monitoring_views.thresholds,
        name="monitoring-thresholds",
    ),
]
