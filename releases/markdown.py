"""Model cards are Markdown written by users: rendered with raw HTML disabled, then sanitized."""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> SafeString:
    html = _md.render(text or "")
    # Belt and braces: even with raw HTML off, links may carry javascript: URLs.
    clean = nh3.clean(html, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
    return mark_safe(clean)  # noqa: S308 -- sanitized by nh3 just above
