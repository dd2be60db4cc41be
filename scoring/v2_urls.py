"""Open Inference Protocol v2 routes (no trailing slashes: the protocol's paths)."""

from django.urls import path

from scoring import v2

urlpatterns = [
    path("", v2.server_metadata, name="v2-server"),
    path("health/live", v2.live, name="v2-live"),
    path("health/ready", v2.ready, name="v2-ready"),
    path("models/<str:name>", v2.model_metadata, name="v2-model"),
    path("models/<str:name>/ready", v2.model_ready, name="v2-model-ready"),
    path("models/<str:name>/infer", v2.infer, name="v2-infer"),
    path("models/<str:name>/versions/<int:version>", v2.model_metadata, name="v2-version"),
    path(
        "models/<str:name>/versions/<int:version>/ready",
        v2.model_ready,
        name="v2-version-ready",
    ),
    path("models/<str:name>/versions/<int:version>/infer", v2.infer, name="v2-version-infer"),
]
