from django.urls import path

from scoring import apis, shadow_apis

urlpatterns = [
    path("models/<str:name>/predict/", apis.predict, name="api-predict"),
    path(
        "models/<str:name>/versions/<int:version>/predict/",
        apis.predict_version,
        name="api-predict-version",
    ),
    path("models/<str:name>/shadow/", shadow_apis.ShadowApi.as_view(), name="api-shadow"),
    path("models/<str:name>/app-tokens/", apis.AppTokenListApi.as_view(), name="api-app-tokens"),
    path(
        "models/<str:name>/app-tokens/<int:token_id>/",
        apis.AppTokenDetailApi.as_view(),
        name="api-app-token-detail",
    ),
]
