"""Rendering one record: load its inputs, call the engine, store the files.

Called by ``generation.tasks`` outside any transaction; the sessions here are
short and only read inputs (or cache a derived input), so a render never holds
SQLite's write lock while the engine works. Files go under keys derived from the
record id (``teams/<team>/records/<id>/...``), so a retried or duplicated render
overwrites its own files with the same bytes instead of leaving orphans.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import update

from lightbox.catalog import service as catalog
from lightbox.catalog.models import Preset, Product
from lightbox.engine import imageio
from lightbox.engine.types import Figure, Scenery, ShootSpec
from lightbox.errors import NotFound
from lightbox.generation.models import DONE, Record
from lightbox.media import renditions
from lightbox.videos.render import render_reel_record, render_video_record

if TYPE_CHECKING:
    from lightbox.runtime import Runtime

# Thumbnails of models (transparent PNGs) sit on a light grey, not white, so a
# white mannequin finish still reads in the list.
MODEL_BACKDROP = (236, 236, 233)


class RenderError(Exception):
    """An input is gone or unusable; retrying cannot help. The message is shown
    to the API client as the record's ``error``."""


@dataclass(frozen=True)
class Rendered:
    image_key: str
    thumb_key: str
    layers: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def record_prefix(record: Record) -> str:
    return f"teams/{record.team_id}/records/{record.id}"


def render(runtime: Runtime, record: Record) -> Rendered:
    """Render ``record`` (a detached row) and store its files; writes no row."""
    renderer = _RENDERERS.get(record.kind)
    if renderer is None:
        raise RenderError(f"Records of kind {record.kind!r} cannot be rendered here.")
    try:
        return renderer(runtime, record)
    except NotFound as exc:
        # A stored input file vanished: as permanent as a deleted row.
        raise RenderError(f"An input of this record is missing: {exc.message}") from exc


# Inputs -------------------------------------------------------------------------


def _param(record: Record, name: str, default: Any = None) -> Any:
    return (record.params or {}).get(name, default)


def _seed(record: Record) -> int:
    seed = _param(record, "seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise RenderError(f"This record has no usable seed: {seed!r}.")
    return seed


def _product_cutout(runtime: Runtime, record: Record) -> np.ndarray:
    """The product's RGBA cutout, computed once per product and cached in storage.

    Deleted products still render: deletion only hides them (soft delete).
    """
    product_id = _param(record, "product_id") or record.product_id
    with runtime.db.session() as session:
        product = session.get(Product, product_id) if product_id else None
        if product is None or product.team_id != record.team_id:
            raise RenderError("The product of this record no longer exists.")

    # A fresh session whose first statement is product_cutout's flush, so the
    # cutout network runs before any write lock is taken.
    with runtime.db.session() as session:
        session.add(product)
        return catalog.product_cutout(session, runtime.storage, runtime.engine,
                                      product)


def _guidelines(runtime: Runtime, record: Record) -> str:
    preset_id = _param(record, "preset_id")
    if not preset_id:
        return ""
    with runtime.db.session() as session:
        preset = session.get(Preset, preset_id)
        if preset is None or preset.team_id not in (None, record.team_id):
            raise RenderError("The preset of this record no longer exists.")
        return preset.guidelines or catalog.combine_guidelines(
            preset.quality_guidelines, preset.quantity_guidelines
        )


def _input_record(runtime: Runtime, record: Record, kind: str) -> Record | None:
    record_id = _param(record, f"{kind}_id")
    if not record_id:
        return None
    with runtime.db.session() as session:
        source = session.get(Record, record_id)
    if (source is None or source.team_id != record.team_id or source.kind != kind
            or source.status != DONE or not source.image_key):
        raise RenderError(f"The {kind} of this record no longer exists.")
    return source


def _scenery(runtime: Runtime, record: Record) -> Scenery | None:
    source = _input_record(runtime, record, "scenery")
    if source is None:
        return None
    rgb = imageio.as_rgb(renditions.load_image(runtime.storage, source.image_key))
    if source.meta and "floor_y" in source.meta:
        return Scenery.from_meta(rgb, source.meta)
    # An upload made before its meta was kept: estimate it (cheap) each time.
    return runtime.engine.scenery_from_photo(rgb)


def _figure(runtime: Runtime, record: Record) -> Figure | None:
    """The model's figure: stored with generated models, derived once for uploads."""
    source = _input_record(runtime, record, "model")
    if source is None:
        return None
    storage = runtime.storage
    meta = source.meta or {}
    figure_key = (source.layers or {}).get("figure") or source.image_key
    if meta.get("keypoints") and storage.exists(figure_key):
        rgba = imageio.as_rgba(renditions.load_image(storage, figure_key))
        return Figure.from_meta(rgba, meta)

    # An uploaded photo: cut the person out and find the keypoints once, then
    # keep both on the model record for every later shoot.
    photo = renditions.load_image(storage, source.image_key)
    figure = runtime.engine.figure_from_photo(photo)
    key = renditions.store_bytes(
        storage, f"teams/{source.team_id}/models/{source.id}/figure.png",
        imageio.encode_png(imageio.as_rgba(figure.rgba)), "image/png",
    )
    with runtime.db.session() as session:
        session.execute(
            update(Record)
            .where(Record.id == source.id)
            .values(meta=figure.to_meta(), layers={**(source.layers or {}),
                                                   "figure": key})
            .execution_options(synchronize_session=False)
        )
    return figure


# Storing ------------------------------------------------------------------------


def _store_rgba_with_backdrop(runtime: Runtime, prefix: str, rgba: np.ndarray
                              ) -> tuple[str, str]:
    """A transparent PNG and a JPEG thumbnail of it on ``MODEL_BACKDROP``."""
    rgba = imageio.as_rgba(rgba)
    key = renditions.store_bytes(runtime.storage, f"{prefix}.png",
                                 imageio.encode_png(rgba), "image/png")
    flat = imageio.as_rgb(rgba, background=MODEL_BACKDROP)
    thumb_key = renditions.store_bytes(
        runtime.storage, f"{prefix}.thumb.jpg", renditions.thumbnail_jpeg(flat),
        "image/jpeg",
    )
    return key, thumb_key


def _json_safe(value: Any) -> Any:
    """Engine parameters (NumPy scalars, tuples) as plain JSON values."""
    def default(obj: Any) -> Any:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        return str(obj)

    return json.loads(json.dumps(value, default=default))


# Renderers per kind -------------------------------------------------------------


def _render_model(runtime: Runtime, record: Record) -> Rendered:
    figure = runtime.engine.mannequin(_param(record, "preferences", ""),
                                      seed=_seed(record))
    key, thumb_key = _store_rgba_with_backdrop(
        runtime, f"{record_prefix(record)}/image", figure.rgba
    )
    return Rendered(image_key=key, thumb_key=thumb_key, meta=figure.to_meta())


def _render_scenery(runtime: Runtime, record: Record) -> Rendered:
    scenery = runtime.engine.scenery(_param(record, "preferences", ""),
                                     seed=_seed(record))
    stored = renditions.store_image(
        runtime.storage, prefix=f"{record_prefix(record)}/image", image=scenery.image
    )
    return Rendered(image_key=stored.key, thumb_key=stored.thumb_key,
                    meta=scenery.to_meta())


def _render_packshot(runtime: Runtime, record: Record) -> Rendered:
    # Limitation: a packshot's optional scenery and model are checked at
    # registration but not used: the engine's packshot is product-only. A
    # packshot option for a backdrop colour from the scenery's palette would
    # lift it.
    guidelines = _guidelines(runtime, record)
    cutout = _product_cutout(runtime, record)
    image = runtime.engine.packshot(cutout, variant=int(_param(record, "variant", 0)),
                                    seed=_seed(record), guidelines=guidelines)
    stored = renditions.store_image(
        runtime.storage, prefix=f"{record_prefix(record)}/image", image=image,
        alpha=image.ndim == 3 and image.shape[2] == 4,
    )
    return Rendered(image_key=stored.key, thumb_key=stored.thumb_key)


def _render_image(runtime: Runtime, record: Record) -> Rendered:
    spec = ShootSpec(
        product=_product_cutout(runtime, record),
        scenery=_scenery(runtime, record),
        figure=_figure(runtime, record),
        industry=_param(record, "industry", "") or "",
        suggestions=_param(record, "suggestions", "") or "",
        guidelines=_guidelines(runtime, record),
        seed=_seed(record),
        variant=int(_param(record, "variant", 0)),
    )
    shot = runtime.engine.shoot(spec)

    prefix = record_prefix(record)
    stored = renditions.store_image(runtime.storage, prefix=f"{prefix}/image",
                                    image=shot.image)
    # The layers let the video renderer move the product against its background.
    background = renditions.store_bytes(
        runtime.storage, f"{prefix}/background.jpg",
        imageio.encode_jpeg(shot.background, quality=renditions.FULL_QUALITY),
        "image/jpeg",
    )
    foreground = renditions.store_bytes(
        runtime.storage, f"{prefix}/foreground.png",
        imageio.encode_png(imageio.as_rgba(shot.foreground)), "image/png",
    )
    return Rendered(
        image_key=stored.key,
        thumb_key=stored.thumb_key,
        layers={"background": background, "foreground": foreground},
        meta={"shot": _json_safe(shot.params)},
    )


_RENDERERS = {
    "model": _render_model,
    "scenery": _render_scenery,
    "packshot": _render_packshot,
    "image": _render_image,
    # Videos and reels render in their own package (it imports this one lazily).
    "video": render_video_record,
    "reel": render_reel_record,
}
