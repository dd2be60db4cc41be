from django.urls import path

from scoring import apis, batch_apis, label_apis, monitoring_apis, relabel_apis, shadow_apis

urlpatterns = [
    path(
        "predictions/<str:prediction_id>/feedback/",
        label_apis.prediction_feedback,
        name="api-prediction-feedback",
    ),
    path("models/<str:name>/predict/", apis.predict, name="api-predict"),
    path(
        "models/<str:name>/versions/<int:version>/predict/",
        apis.predict_version,
        name="api-predict-version",
    ),
    path(
        "models/<str:name>/live-accuracy/",
        label_apis.LiveAccuracyApi.as_view(),
        name="api-live-accuracy",
    ),
    path(
        "models/<str:name>/corrected-dataset/",
        label_apis.CorrectedDatasetApi.as_view(),
        name="api-corrected-dataset",
    ),
    path(
        "models/<str:name>/corrected-dataset/evaluation-set/",
        label_apis.CorrectedDatasetEvaluationSetApi.as_view(),
        name="api-corrected-dataset-evaluation-set",
    ),
    path("models/<str:name>/shadow/", shadow_apis.ShadowApi.as_view(), name="api-shadow"),
    path("models/<str:name>/batch/", batch_apis.batch_create, name="api-batch-create"),
    path("batch/<uuid:job_id>/", batch_apis.batch_detail, name="api-batch-detail"),
    path("batch/<uuid:job_id>/result/", batch_apis.batch_result, name="api-batch-result"),
    path("batch/<uuid:job_id>/errors/", batch_apis.batch_errors, name="api-batch-errors"),
    path("models/<str:name>/app-tokens/", apis.AppTokenListApi.as_view(), name="api-app-tokens"),
    path(
        "models/<str:name>/app-tokens/<int:token_id>/",
        apis.AppTokenDetailApi.as_view(),
        name="api-app-token-detail",
    ),
    path("relabel/queues/", relabel_apis.QueueListApi.as_view(), name="api-relabel-queues"),
    path(
        "relabel/items/<int:item_id>/label/",
        relabel_apis.LabelItemApi.as_view(),
        name="api-relabel-label",
    ),
    path(
        "relabel/items/<int:item_id>/skip/",
        relabel_apis.SkipItemApi.as_view(),
        name="api-relabel-skip",
    ),
    path(
        "relabel/items/<int:item_id>/settle/",
        relabel_apis.SettleItemApi.as_view(),
        name="api-relabel-settle",
    ),
    path(
        "relabel/items/<int:item_id>/explanation/",
        relabel_apis.ItemExplanationApi.as_view(),
        name="api-relabel-explanation",
    ),
    path("relabel/<str:name>/next/", relabel_apis.NextItemApi.as_view(), name="api-relabel-next"),
    path(
        "relabel/<str:name>/counts/",
        relabel_apis.QueueCountsApi.as_view(),
        name="api-relabel-counts",
    ),
    path("relabel/<str:name>/policy/", relabel_apis.PolicyApi.as_view(), name="api-relabel-policy"),
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
