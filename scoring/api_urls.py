from django.urls import path

from scoring import apis, label_apis, shadow_apis

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
    path("models/<str:name>/app-tokens/", apis.AppTokenListApi.as_view(), name="api-app-tokens"),
    path(
        "models/<str:name>/app-tokens/<int:token_id>/",
        apis.AppTokenDetailApi.as_view(),
        name="api-app-token-detail",
    ),
]
