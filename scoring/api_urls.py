from django.urls import path

from scoring import apis

urlpatterns = [
    path("models/<str:name>/predict/", apis.predict, name="api-predict"),
    path(
        "models/<str:name>/versions/<int:version>/predict/",
        apis.predict_version,
        name="api-predict-version",
    ),
]
