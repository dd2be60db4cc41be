"""plotly.js from the installed plotly package, served as static/vendor/plotly.min.js.

No CDN and no build step: the file ships inside the pinned ``plotly`` wheel, so a fresh machine
has it after ``pip install``. A finder (rather than a STATICFILES_DIRS entry for the package's
data folder) exposes this one file only, not the package's sample datasets and widget bundle.
``collectstatic`` copies it like any other static file; whitenoise serves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage, Error
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"
PLOTLY_NAME = "plotly.min.js"
PREFIX = "vendor"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=str(PLOTLY_DIR))
        self.storage.prefix = PREFIX  # type: ignore[attr-defined]  # read by collectstatic

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        if (PLOTLY_DIR / PLOTLY_NAME).is_file():
            return []
        return [
            Error(
                f"{PLOTLY_DIR / PLOTLY_NAME} is missing: the report page's charts need it.",
                hint="pip install -r requirements.txt (the plotly package ships plotly.js).",
                id="webapp.E001",
            )
        ]

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        match = str(PLOTLY_DIR / PLOTLY_NAME) if path == f"{PREFIX}/{PLOTLY_NAME}" else None
        if find_all:
            return [match] if match else []
        return match

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        yield PLOTLY_NAME, self.storage
