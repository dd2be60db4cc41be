"""How long the texts people attach to models and versions may be, checked in the services (so
the API, the pages and the commands refuse alike) and mirrored in the forms. Plain module.

Every limit keeps pages readable and rows small; the model's columns allow as much or more.
"""

from __future__ import annotations

from collections.abc import Iterable

from releases.errors import InvalidInput

DESCRIPTION_MAX_CHARS = 500
MODEL_CARD_MAX_CHARS = 100_000
NOTES_MAX_CHARS = 10_000
TAGS_MAX_PER_VERSION = 20
TAG_MAX_CHARS = 50
# Review, promotion, rollback and archive comments, and an admin's override reason.
COMMENT_MAX_CHARS = 5_000


def check_length(*, field: str, label: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise InvalidInput(
            f"Keep the {label} to {limit:,} characters or fewer (it has {len(value):,}).",
            field=field,
        )


def check_model_texts(*, description: str | None, model_card: str | None) -> None:
    check_length(
        field="description", label="description", value=description, limit=DESCRIPTION_MAX_CHARS
    )
    check_length(
        field="model_card", label="model card", value=model_card, limit=MODEL_CARD_MAX_CHARS
    )


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags trimmed, lower-cased, deduplicated and sorted; refused when too long or too many."""
    cleaned = sorted({t.strip().lower() for t in tags if t.strip()})
    for tag in cleaned:
        if len(tag) > TAG_MAX_CHARS:
            raise InvalidInput(
                f"Tag {tag[:20]!r}… is longer than {TAG_MAX_CHARS} characters; shorten it.",
                field="tags",
            )
    if len(cleaned) > TAGS_MAX_PER_VERSION:
        raise InvalidInput(
            f"A version takes at most {TAGS_MAX_PER_VERSION} tags; this one has {len(cleaned)}.",
            field="tags",
        )
    return cleaned
