"""Presets: the system ones and the team's own; create and edit the team's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from lightbox.catalog import service as catalog
from lightbox.deps import RuntimeDep, SessionDep
from lightbox.errors import Forbidden, LightboxError
from lightbox.media.uploads import read_upload
from lightbox.web.auth import ViewerDep
from lightbox.web.render import field_of, page, redirect

router = APIRouter()

Text = Annotated[str, Form()]
# Form fields as the service names them in its messages.
_FIELDS = {"quantityGuidelines": "quantity_guidelines",
           "qualityGuidelines": "quality_guidelines"}


def _error_field(message: str) -> str:
    field = field_of(message)
    return _FIELDS.get(field, field or "name")


def _list_page(request, session, viewer, *, status=200, form=None, errors=None):
    presets = catalog.list_presets(session, team_id=viewer.team_id,
                                   max_records=catalog.MAX_PRESET_RECORDS)
    return page(request, "pages/presets.html", status=status, title="Presets",
                presets=presets, form=form or {}, errors=errors or {})


@router.get("/presets")
def presets_page(request: Request, session: SessionDep, viewer: ViewerDep):
    return _list_page(request, session, viewer)


@router.post("/presets")
def create_preset(request: Request, session: SessionDep, runtime: RuntimeDep,
                  viewer: ViewerDep, name: Text = "", quality_guidelines: Text = "",
                  quantity_guidelines: Text = "",
                  cover: Annotated[UploadFile | None, File()] = None):
    form = {"name": name, "quality_guidelines": quality_guidelines,
            "quantity_guidelines": quantity_guidelines}
    settings = runtime.settings
    try:
        catalog.check_preset_form(name=name, quantity_guidelines=quantity_guidelines,
                                  quality_guidelines=quality_guidelines)
        image = None
        if cover is not None and cover.filename:
            image = read_upload(cover, field="cover",
                                max_bytes=settings.max_upload_bytes,
                                max_pixels=settings.max_upload_pixels)
        catalog.create_preset(
            session, runtime.storage, team_id=viewer.team_id, name=name,
            quantity_guidelines=quantity_guidelines,
            quality_guidelines=quality_guidelines, cover=image,
        )
    except LightboxError as exc:
        session.rollback()
        return _list_page(request, session, viewer, status=exc.status_code,
                          form=form, errors={_error_field(exc.message): exc.message})
    return redirect(request, "/presets")


@router.get("/presets/{preset_id}")
def edit_form(request: Request, session: SessionDep, viewer: ViewerDep,
              preset_id: str):
    preset = catalog.get_preset(session, team_id=viewer.team_id, preset_id=preset_id,
                                field="presetId")
    form = {"name": preset.name, "quality_guidelines": preset.quality_guidelines,
            "quantity_guidelines": preset.quantity_guidelines}
    return page(request, "pages/preset_edit.html", title=f"Preset {preset.name}",
                preset=preset, form=form, errors={})


@router.post("/presets/{preset_id}")
def edit(request: Request, session: SessionDep, viewer: ViewerDep, preset_id: str,
         name: Text = "", quality_guidelines: Text = "",
         quantity_guidelines: Text = ""):
    preset = catalog.get_preset(session, team_id=viewer.team_id, preset_id=preset_id,
                                field="presetId")
    form = {"name": name, "quality_guidelines": quality_guidelines,
            "quantity_guidelines": quantity_guidelines}
    try:
        catalog.update_preset(
            session, team_id=viewer.team_id, preset_id=preset_id, name=name,
            quantity_guidelines=quantity_guidelines,
            quality_guidelines=quality_guidelines,
        )
    except Forbidden:
        raise
    except LightboxError as exc:
        session.rollback()
        return page(request, "pages/preset_edit.html", status=exc.status_code,
                    title=f"Preset {preset.name}", preset=preset, form=form,
                    errors={_error_field(exc.message): exc.message})
    return redirect(request, "/presets")
