"""The serving fast path: POSTs to the predict and inference endpoints skip the middleware
built for pages.

Sessions, CSRF, authentication by cookie, messages, WhiteNoise, the common middleware and the
HTML error page do nothing for a token-authenticated JSON POST, yet together with a walk of the
whole URLconf they cost more than scoring a row with a compiled model (measured with
bench/serving_profile.py: about a third of a one-row request). This middleware, first in
``MIDDLEWARE``, resolves the path once per distinct path through the project's own URLconf, and
when it is one of the serving views calls that view directly; the response still gets the
security and frame headers every response gets. Anything else goes down the usual chain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, get_resolver

_MAX_PATHS = 4096
_SUFFIXES = ("/predict/", "/infer")


def _serving_views() -> frozenset[Callable[..., Any]]:
    from scoring import apis, v2

    return frozenset({apis.predict, apis.predict_version, v2.infer})


class ServingFastPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.views = _serving_views()
        self.security = SecurityMiddleware(get_response)
        self.frame_options = XFrameOptionsMiddleware(get_response)
        # path -> (view, kwargs), or None for a path that is not a serving view.
        self.routes: dict[str, tuple[Callable[..., HttpResponse], dict[str, Any]] | None] = {}
        self.lock = threading.Lock()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if request.method != "POST" or not path.endswith(_SUFFIXES):
            return self.get_response(request)
        route = self.routes.get(path, False)
        if route is False:
            route = self._resolve(path)
        if route is None:
            return self.get_response(request)
        view, kwargs = route
        response = view(request, **kwargs)
        response = self.security.process_response(request, response)
        return self.frame_options.process_response(request, response)

    def _resolve(self, path: str) -> tuple[Callable[..., HttpResponse], dict[str, Any]] | None:
        try:
            match = get_resolver().resolve(path)
        except Resolver404:
            route = None
        else:
            route = (match.func, match.kwargs) if match.func in self.views else None
        with self.lock:
            if len(self.routes) >= _MAX_PATHS:  # bounded whatever paths callers make up
                self.routes.clear()
            self.routes[path] = route
        return route
