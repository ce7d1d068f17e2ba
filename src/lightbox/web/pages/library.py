"""Models and sceneries: generate from a description, upload your own, vote.

The two pages are one template over ``generation.service``: the same calls as
``POST /models/register-ideas`` and ``POST /models`` of the API. The grid
re-fetches itself every 1.5 s while any record is still rendering.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from lightbox.deps import RuntimeDep, SessionDep
from lightbox.errors import BadRequest, InsufficientCredits, LightboxError, NotFound
from lightbox.generation import review
from lightbox.generation import service as generation
from lightbox.generation.models import INPROGRESS
from lightbox.generation.schemas import IdeasRequest, parse_body
from lightbox.media.uploads import clean_name, default_name, read_upload
from lightbox.web.auth import ViewerDep
from lightbox.web.render import field_of, fragment, page, redirect

router = APIRouter()

KINDS = {
    "models": {"kind": "model", "title": "Models", "one": "model",
               "blurb": "Mannequins that wear or hold your products.",
               "example": "slim female mannequin, matte white, standing"},
    "sceneries": {"kind": "scenery", "title": "Sceneries", "one": "scenery",
                  "blurb": "Backdrops and sets your products are placed in.",
                  "example": "warm oak table top, soft window light, bright airy"},
}
SHOWN = ("all", "approved", "rejected")


def _section(section: str) -> dict:
    if section not in KINDS:
        raise NotFound("There is nothing at this address.")
    return KINDS[section]


def _grid(session, viewer, section: str, shown: str) -> dict:
    info = _section(section)
    shown = shown if shown in SHOWN else "all"
    rows = generation.list_records(session, team_id=viewer.team_id,
                                   kind=info["kind"], status_filter=shown).rows
    return {"section": section, "info": info, "records": rows, "shown": shown,
            "busy": any(row.status == INPROGRESS for row in rows)}


def _page(request, session, viewer, section, *, status=200, form=None, errors=None,
          shown="all"):
    info = _section(section)
    return page(request, "pages/library.html", status=status, title=info["title"],
                form=form or {"count": 4}, errors=errors or {},
                **_grid(session, viewer, section, shown))


def _add_routes(section: str) -> None:
    """The page, grid, generate and upload routes of one section (fixed paths)."""
    info = KINDS[section]

    @router.get(f"/{section}", name=f"{section}_page")
    def library_page(request: Request, session: SessionDep, viewer: ViewerDep,
                     shown: str = "all"):
        return _page(request, session, viewer, section, shown=shown)

    @router.get(f"/{section}/grid", name=f"{section}_grid")
    def library_grid(request: Request, session: SessionDep, viewer: ViewerDep,
                     shown: str = "all"):
        return fragment(request, "fragments/record_grid.html",
                        **_grid(session, viewer, section, shown))

    @router.post(f"/{section}/generate", name=f"{section}_generate")
    def generate(request: Request, session: SessionDep, runtime: RuntimeDep,
                 viewer: ViewerDep, preferences: Annotated[str, Form()] = "",
                 count: Annotated[str, Form()] = "4"):
        """Order ``count`` new records described by ``preferences``."""
        form = {"preferences": preferences, "count": count}
        try:
            number = int(count) if count.strip().isdigit() else count
            body = parse_body(IdeasRequest,
                              {"preferences": preferences, "count": number})
            generation.register(
                session, team_id=viewer.team_id, kind=info["kind"], body=body,
                price_each=getattr(runtime.settings.prices, info["kind"]),
                queue=runtime.queue,
                request_id=getattr(request.state, "request_id", None),
            )
        except (BadRequest, InsufficientCredits) as exc:
            session.rollback()
            field = field_of(exc.message) or "count"
            return _page(request, session, viewer, section, status=exc.status_code,
                         form=form, errors={field: exc.message})
        return redirect(request, f"/{section}")

    @router.post(f"/{section}/upload", name=f"{section}_upload")
    def upload(request: Request, session: SessionDep, runtime: RuntimeDep,
               viewer: ViewerDep, file: Annotated[UploadFile | None, File()] = None,
               name: Annotated[str, Form()] = ""):
        """Add the team's own photo as an approved record (free)."""
        settings = runtime.settings
        try:
            image = read_upload(file, field="file",
                                max_bytes=settings.max_upload_bytes,
                                max_pixels=settings.max_upload_pixels)
            label = clean_name(name) or default_name(file.filename,
                                                      fallback=info["one"].title())
            if info["kind"] == "model":
                generation.upload_model(session, runtime.storage,
                                        team_id=viewer.team_id, upload=image,
                                        name=label)
            else:
                generation.upload_scenery(session, runtime.storage, runtime.engine,
                                          team_id=viewer.team_id, upload=image,
                                          name=label)
        except LightboxError as exc:
            session.rollback()
            return _page(request, session, viewer, section, status=exc.status_code,
                         errors={"file": exc.message})
        return redirect(request, f"/{section}")


for _section_name in KINDS:
    _add_routes(_section_name)


@router.post("/records/{record_id}/vote")
def vote(request: Request, session: SessionDep, viewer: ViewerDep, record_id: str,
         voting: Annotated[str, Form()] = "", back: Annotated[str, Form()] = ""):
    """Approve, reject or (``voting=NONE``) clear a vote; back to the list."""
    if voting == "NONE":
        review.clear_vote(session, team_id=viewer.team_id, record_id=record_id)
    elif voting in ("APPROVED", "REJECTED"):
        generation.vote(session, team_id=viewer.team_id, record_id=record_id,
                        voting=voting)
    else:
        raise BadRequest("voting: must be APPROVED, REJECTED or NONE")
    target = back if back.startswith("/") and not back.startswith("//") else "/"
    return redirect(request, target)
