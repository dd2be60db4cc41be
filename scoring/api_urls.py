from django.urls import path

from scoring import apis, batch_apis

urlpatterns = [
    path("models/<str:name>/predict/", apis.predict, name="api-predict"),
    path(
        "models/<str:name>/versions/<int:version>/predict/",
        apis.predict_version,
        name="api-predict-version",
    ),
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
]
