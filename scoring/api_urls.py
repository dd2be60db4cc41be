from django.urls import path

from scoring import apis, monitoring_apis

urlpatterns = [
    path("models/<str:name>/predict/", apis.predict, name="api-predict"),
    path(
        "models/<str:name>/versions/<int:version>/predict/",
        apis.predict_version,
        name="api-predict-version",
    ),
    path("models/<str:name>/app-tokens/", apis.AppTokenListApi.as_view(), name="api-app-tokens"),
    path(
        "models/<str:name>/app-tokens/<int:token_id>/",
        apis.AppTokenDetailApi.as_view(),
        name="api-app-token-detail",
    ),
    path("models/<str:name>/drift/", monitoring_apis.DriftApi.as_view(), name="api-drift"),
    path(
        "models/<str:name>/monitoring/settings/",
        monitoring_apis.MonitoringSettingsApi.as_view(),
        name="api-monitoring-settings",
    ),
    path("alerts/", monitoring_apis.AlertListApi.as_view(), name="api-alerts"),
    path(
        "alerts/<int:alert_id>/acknowledge/",
        monitoring_apis.AlertAcknowledgeApi.as_view(),
        name="api-alert-acknowledge",
    ),
]
