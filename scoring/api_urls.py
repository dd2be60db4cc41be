from django.urls import path

from scoring import apis, relabel_apis

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
]
