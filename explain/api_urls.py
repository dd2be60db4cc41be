from django.urls import path

from explain import apis

urlpatterns = [
    path("models/<str:name>/explain/", apis.ModelExplainApi.as_view(), name="api-model-explain"),
    path(
        "models/<str:name>/versions/<int:version>/explain/",
        apis.VersionExplainApi.as_view(),
        name="api-version-explain",
    ),
]
