"""Videos and reels: the list with playback, and ordering them from the picker.

The forms post what ``POST /video-picker/register-videos`` and ``/register-reel``
take, parsed by the same schemas and registered by the same service functions,
so a 400 or 404 names the same field the API would. Each card that is still
rendering polls its own fragment every 1.5 s: a card that finished is never
swapped, so a video someone is watching keeps playing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from lightbox.catalog import service as catalog
from lightbox.credits import service as credits
from lightbox.deps import RuntimeDep, SessionDep
from lightbox.errors import BadRequest, InsufficientCredits, NotFound
from lightbox.generation import review
from lightbox.generation import service as generation
from lightbox.generation.models import (
    APPROVED,
    DONE,
    FAILED,
    INPROGRESS,
    REJECTED,
    Record,
)
from lightbox.generation.serialize import FAILED_MESSAGE
from lightbox.videos import service as videos
from lightbox.videos.providers import configured_providers, get_provider
from lightbox.videos.schemas import (
    MAX_REEL_IMAGES,
    MIN_REEL_IMAGES,
    parse_reel_request,
    parse_video_request,
)
from lightbox.web.auth import ViewerDep
from lightbox.web.render import field_of, fragment, page, redirect

router = APIRouter()

Text = Annotated[str, Form()]
SHOWN = ("all", "approved", "rejected")
PAGE_SIZE = 48
# The reel form offers this many of the newest images per kind when it is not
# scoped to one order. Limitation: older images of a large team are not offered
# there (only by their ids in the URL); a paged or searchable grid would lift it.
REEL_CHOICES = 120
VIDEO_HINTS = ("push in", "pan left", "orbit", "pull out", "square", "landscape")
REEL_HINTS = ("slide", "wipe", "push in", "square", "landscape")


# The list ----------------------------------------------------------------------


def _video_record(session, viewer, record_id: str) -> Record:
    """One of the team's videos or reels; any other record is a 404 here."""
    record = generation.get_record(session, team_id=viewer.team_id,
                                   record_id=record_id)
    if record.kind not in videos.VIDEO_KINDS:
        raise NotFound("Record not found: recordId")
    return record


def card_values(record: Record) -> dict:
    """What a card shows beyond the record: media keys, facts, the error."""
    facts = (record.meta or {}).get("video") or {}
    return {
        "video_key": (record.layers or {}).get("video") if record.status == DONE
        else None,
        "facts": facts,
        "suggestion": (record.params or {}).get("suggestion") or "",
        "sources": len((record.params or {}).get("source_ids") or []),
        "error": (record.error or FAILED_MESSAGE) if record.status == FAILED
        else "",
    }


@router.get("/videos")
def videos_page(request: Request, session: SessionDep, viewer: ViewerDep,
                shown: str = "all", new: str = "", cursor: str = ""):
    shown = shown if shown in SHOWN else "all"
    listing = videos.list_videos(session, team_id=viewer.team_id,
                                 status_filter=shown, limit=PAGE_SIZE,
                                 cursor=cursor or None)
    cards = [(record, card_values(record)) for record in listing.records]
    return page(request, "pages/videos.html", title="Videos", cards=cards,
                shown=shown, new=new, cursor=cursor,
                next_cursor=listing.next_cursor)


@router.get("/videos/{record_id}/card")
def video_card(request: Request, session: SessionDep, viewer: ViewerDep,
               record_id: str, shown: str = "all", poll: str = ""):
    """One card. htmx polls it with ``poll=1`` while it renders and gets 204 (no
    swap) until it is done, so a screen reader hears the list change once."""
    record = _video_record(session, viewer, record_id)
    if poll == "1" and record.status == INPROGRESS:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return fragment(request, "fragments/video_card.html", record=record,
                    card=card_values(record),
                    shown=shown if shown in SHOWN else "all")


@router.post("/videos/{record_id}/vote")
def video_vote(request: Request, session: SessionDep, viewer: ViewerDep,
               record_id: str, voting: Text = "", shown: Text = "all"):
    """Approve, reject or (``NONE``) undo; htmx gets the card back, a form the list."""
    _video_record(session, viewer, record_id)
    if voting == "NONE":
        record = review.clear_vote(session, team_id=viewer.team_id,
                                   record_id=record_id)
    elif voting in (APPROVED, REJECTED):
        record = generation.vote(session, team_id=viewer.team_id,
                                 record_id=record_id, voting=voting)
    else:
        raise BadRequest("voting: must be APPROVED, REJECTED or NONE")

    shown = shown if shown in SHOWN else "all"
    if request.headers.get("HX-Request") == "true":
        return fragment(request, "fragments/video_card.html", record=record,
                        card=card_values(record), shown=shown, voted=voting)
    return redirect(request, f"/videos?shown={shown}")


# Ordering ----------------------------------------------------------------------


def _providers(runtime) -> list[str]:
    """Provider names to offer; the form shows a choice only when there are two."""
    return list(configured_providers(runtime.settings))


def _cost(runtime, session, viewer, *, price: int, count: int) -> dict:
    available = credits.summary(session, team_id=viewer.team_id).available
    total = price * count
    return {"price": price, "count": count, "total": total, "available": available,
            "short": total > available}


def _video_form(request, runtime, session, viewer, *, source: Record | None,
                form: dict, errors=None, status=200):
    return page(request, "pages/videos_new.html", status=status,
                title="Make a video", source=source, form=form,
                errors=errors or {}, providers=_providers(runtime),
                hints=VIDEO_HINTS,
                cost=_cost(runtime, session, viewer,
                           price=runtime.settings.prices.video, count=1))


@router.get("/videos/new")
def video_form(request: Request, session: SessionDep, runtime: RuntimeDep,
               viewer: ViewerDep, image: str = ""):
    source = videos.source_image(session, team_id=viewer.team_id, image_id=image,
                                 field="image")
    form = {"image": source.id, "suggestion": "", "provider": ""}
    return _video_form(request, runtime, session, viewer, source=source, form=form)


def _error_field(message: str, default: str) -> str:
    field = field_of(message)
    if field.startswith("imageIds") or message.startswith("Image not found"):
        return "images"
    return field if field in ("suggestion", "provider") else default


@router.post("/videos/new")
def order_video(request: Request, session: SessionDep, runtime: RuntimeDep,
                viewer: ViewerDep, image: Text = "", suggestion: Text = "",
                provider: Text = ""):
    """Reserve the price of one video and queue it; then the videos list."""
    form = {"image": image, "suggestion": suggestion, "provider": provider}
    try:
        parsed = parse_video_request({"imageId": image, "suggestion": suggestion,
                                      "provider": provider})
        chosen = get_provider(runtime.settings, parsed.provider)
        placed = videos.register_video(
            session, team_id=viewer.team_id, request=parsed, provider=chosen.name,
            price=runtime.settings.prices.video, queue=runtime.queue,
            request_id=getattr(request.state, "request_id", None),
        )
    except (BadRequest, NotFound, InsufficientCredits) as exc:
        session.rollback()
        source = None
        try:
            source = videos.source_image(session, team_id=viewer.team_id,
                                         image_id=image, field="image")
        except NotFound:
            pass
        field = "confirm" if isinstance(exc, InsufficientCredits) else \
            _error_field(exc.message, "images")
        return _video_form(request, runtime, session, viewer, source=source,
                           form=form, errors={field: exc.message},
                           status=exc.status_code)
    return redirect(request, f"/videos?new={placed.record.id}")


def _reel_choices(session, viewer, *, order: str, product: str) -> list:
    """The finished images a reel can be made of, in scope, oldest first."""
    if order:
        records = generation.get_order(session, team_id=viewer.team_id,
                                       order_id=order).records
        return [r for r in records if r.status == DONE and not r.archived
                and r.kind in videos.SOURCE_KINDS]

    product_id = None
    if product:
        product_id = catalog.get_product(session, team_id=viewer.team_id,
                                         product_id=product, field="product").id
    rows = []
    for kind in videos.SOURCE_KINDS:
        rows += generation.list_records(session, team_id=viewer.team_id, kind=kind,
                                        product_id=product_id,
                                        limit=REEL_CHOICES).rows
    rows = [row for row in rows if row.status == DONE]
    return sorted(rows, key=lambda row: (str(row.created_at), row.id))


def _selected(session, viewer, choices: list, picked: list[str]) -> list:
    """The picked images in the picked order. An id outside the grid (an older
    image linked by id) is looked up; one that is not the team's is left out."""
    by_id = {row.id: row for row in choices}
    selected = []
    for image_id in dict.fromkeys(picked):
        row = by_id.get(image_id)
        if row is None:
            try:
                row = videos.source_image(session, team_id=viewer.team_id,
                                          image_id=image_id, field="image")
            except NotFound:
                continue
        selected.append(row)
    return selected


def _reel_form(request, runtime, session, viewer, *, form: dict, errors=None,
               status=200):
    choices = _reel_choices(session, viewer, order=form["order"],
                            product=form["product"])
    picked = form["image_ids"]
    if picked is None:  # first visit: start from the approved images in scope
        picked = [r.id for r in choices if r.voting == APPROVED][:MAX_REEL_IMAGES]
    selected = _selected(session, viewer, choices, picked)
    shown_ids = {row.id for row in choices}
    choices = choices + [row for row in selected if row.id not in shown_ids]
    return page(request, "pages/videos_reel.html", status=status,
                title="Make a reel", choices=choices, selected=selected,
                picked={r.id for r in selected},
                positions={r.id: i + 1 for i, r in enumerate(selected)},
                form=form, errors=errors or {}, providers=_providers(runtime),
                hints=REEL_HINTS, limits=(MIN_REEL_IMAGES, MAX_REEL_IMAGES),
                cost=_cost(runtime, session, viewer,
                           price=runtime.settings.prices.reel_per_image,
                           count=len(selected)))


@router.get("/reels/new")
def reel_form(request: Request, session: SessionDep, runtime: RuntimeDep,
              viewer: ViewerDep, order: str = "", product: str = "",
              image: Annotated[list[str] | None, Query()] = None):
    form = {"order": order, "product": product, "image_ids": image,
            "suggestion": "", "provider": ""}
    return _reel_form(request, runtime, session, viewer, form=form)


@router.get("/reels/cost")
def reel_cost(request: Request, session: SessionDep, runtime: RuntimeDep,
              viewer: ViewerDep,
              image_ids: Annotated[list[str] | None, Query()] = None):
    count = len(dict.fromkeys(image_ids or []))
    return fragment(request, "fragments/video_cost.html", unit="image",
                    cost=_cost(runtime, session, viewer,
                               price=runtime.settings.prices.reel_per_image,
                               count=count))


@router.post("/reels/new")
def order_reel(request: Request, session: SessionDep, runtime: RuntimeDep,
               viewer: ViewerDep,
               image_ids: Annotated[list[str] | None, Form()] = None,
               suggestion: Text = "", provider: Text = "", order: Text = "",
               product: Text = ""):
    """Reserve ``reel_per_image`` x n credits and queue the reel, in the given order."""
    ids = list(image_ids or [])
    form = {"order": order, "product": product, "image_ids": ids,
            "suggestion": suggestion, "provider": provider}
    try:
        parsed = parse_reel_request({"imageIds": ids, "suggestion": suggestion,
                                     "provider": provider})
        chosen = get_provider(runtime.settings, parsed.provider)
        placed = videos.register_reel(
            session, team_id=viewer.team_id, request=parsed, provider=chosen.name,
            price_per_image=runtime.settings.prices.reel_per_image,
            queue=runtime.queue,
            request_id=getattr(request.state, "request_id", None),
        )
    except (BadRequest, NotFound, InsufficientCredits) as exc:
        session.rollback()
        field = "confirm" if isinstance(exc, InsufficientCredits) else \
            _error_field(exc.message, "images")
        return _reel_form(request, runtime, session, viewer, form=form,
                          errors={field: exc.message}, status=exc.status_code)
    return redirect(request, f"/videos?new={placed.record.id}")
