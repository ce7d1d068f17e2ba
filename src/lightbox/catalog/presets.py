"""The system presets every team sees, written so the engine's style parser
(``lightbox.engine.words.parse_style``) reads real choices out of them: a setting,
a surface, a light, colours and a framing, in words it knows.

Their ids are derived from their slugs, so a script that names a system preset
works against every Lightbox instance; their creation times are fixed in the past
so a team's own presets list before them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import string
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lightbox.catalog.models import Preset
from lightbox.catalog.service import combine_guidelines

log = structlog.get_logger(__name__)

_ALPHABET = string.ascii_letters + string.digits
_SHIPPED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class SystemPreset:
    slug: str
    name: str
    quality: str
    quantity: str

    @property
    def id(self) -> str:
        return system_preset_id(self.slug)


SYSTEM_PRESETS: tuple[SystemPreset, ...] = (
    SystemPreset(
        "clean-ecommerce", "Clean e-commerce",
        "Bright, clean white studio sweep with soft diffused light and neutral "
        "colours; crisp and minimal, true product colour.",
        "Centered product with negative space around it; one hero angle per image.",
    ),
    SystemPreset(
        "dark-luxury", "Dark luxury",
        "Dark, moody low key studio on black marble with dramatic side light and "
        "gold accents; elegant and premium.",
        "Centered hero shots with deep shadows around the product.",
    ),
    SystemPreset(
        "bright-lifestyle", "Bright lifestyle",
        "Bright, airy kitchen countertop in window light; fresh, natural colours "
        "with a touch of vivid green.",
        "Rule of thirds; wide shots that show some of the setting.",
    ),
    SystemPreset(
        "warm-natural", "Warm natural",
        "Warm, earthy oak wood tabletop in golden hour light; cozy and natural, "
        "cream and terracotta tones.",
        "Rule of thirds, the product near the front edge of the table.",
    ),
    SystemPreset(
        "editorial-fashion", "Editorial fashion",
        "Bold, punchy, contrasty urban street look with hard light on concrete; "
        "vivid colours.",
        "Wide framing on the rule of thirds, full length when a model wears it.",
    ),
    SystemPreset(
        "summer-outdoor", "Summer outdoor",
        "Vibrant summer beach at sunset: sand, golden hour backlight, warm and "
        "vivid.",
        "Wide shots with a low horizon; the product standing on the sand.",
    ),
)


def system_preset_id(slug: str) -> str:
    """``preset_`` and 22 base62 characters derived from the slug (stable)."""
    number = int.from_bytes(hashlib.sha256(f"lightbox:{slug}".encode()).digest())
    chars = []
    for _ in range(22):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "preset_" + "".join(chars)


def _apply(preset: Preset, spec: SystemPreset, created_at: dt.datetime) -> None:
    preset.name = spec.name
    preset.quality_guidelines = spec.quality
    preset.quantity_guidelines = spec.quantity
    preset.guidelines = combine_guidelines(spec.quality, spec.quantity)
    preset.created_at = created_at


def ensure_system_presets(session: Session) -> int:
    """Create the missing system presets and refresh the text of existing ones.

    Idempotent, and safe when two processes start at once: an insert that loses
    the race rolls back its savepoint and the row that won is kept. Returns how
    many were created.
    """
    created = 0
    for index, spec in enumerate(SYSTEM_PRESETS):
        # Shipped order first in a newest-first list: each one a second older.
        created_at = _SHIPPED_AT - dt.timedelta(seconds=index)
        preset = session.get(Preset, spec.id)
        if preset is not None:
            _apply(preset, spec, created_at)
            continue

        preset = Preset(id=spec.id, team_id=None, gallery_keys=[])
        _apply(preset, spec, created_at)
        try:
            with session.begin_nested():
                session.add(preset)
        except IntegrityError:
            log.info("preset.system_exists", preset_id=spec.id)
            continue
        created += 1

    session.flush()
    if created:
        log.info("preset.system_created", count=created)
    return created
