from django.urls import path

from scoring import monitoring_views, views

urlpatterns = [
    path("models/<str:name>/app-tokens/", views.app_tokens, name="app-tokens"),
    path(
        "models/<str:name>/app-tokens/<int:token_id>/revoke/",
        views.app_token_revoke,
        name="app-token-revoke",
    ),
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
