from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from webapp import health

# Unknown URLs and crashes get the site's own pages (templates/404.html and 500.html) through
# Django's default handler404/handler500; 500.html renders without any request context.


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico whatever the page links: send them to the SVG. Resolved per
    request, since the hashed static name is only known once collectstatic ran."""
    return HttpResponseRedirect(static("favicon.svg"))


urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("favicon.ico", favicon),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    path("api/v1/", include("scoring.api_urls")),
    path("v2/", include("scoring.v2_urls")),  # Open Inference Protocol v2
    path("api/v1/", include("releases.api_urls")),
    path("", include("scoring.urls")),
    path("api/v1/", include("explain.api_urls")),
    path("", include("explain.urls")),
    path("", include("releases.urls")),
]
