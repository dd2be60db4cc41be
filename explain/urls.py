from django.urls import path

from explain import views

urlpatterns = [
    path(
        "models/<str:name>/versions/<int:version>/shap/",
        views.shap_report,
        name="version-shap",
    ),
]
