"""Ordering a photo shoot or packshots, and the order's live page.

The form posts the same body as ``POST /image-picker/register-ideas`` (or
``/packshots/register-ideas``), validated by the same schema and registered by
the same service, so a 400 names the same field the API would.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request

from lightbox.catalog import service as catalog
from lightbox.credits import service as credits
from lightbox.deps import RuntimeDep, SessionDep
from lightbox.errors import BadRequest, InsufficientCredits, NotFound
from lightbox.generation import service as generation
from lightbox.generation.history import recent_orders
from lightbox.generation.models import DONE, INPROGRESS
from lightbox.generation.schemas import PackshotRequest, ShootRequest, parse_body
from lightbox.web.auth import ViewerDep
from lightbox.web.render import fragment, page, redirect

router = APIRouter()

Text = Annotated[str, Form()]
ORDER_KINDS = {"image": ShootRequest, "packshot": PackshotRequest}
_CONFIG_FIELD = re.compile(r"config\.(\w+)")


def _choices(session, viewer) -> dict:
    """The thumbnails to pick from: live products, finished models and sceneries."""
    products, _ = catalog.list_products(session, team_id=viewer.team_id)

    def finished(kind: str) -> list:
        rows = generation.list_records(session, team_id=viewer.team_id,
                                       kind=kind).rows
        return [row for row in rows if row.status == DONE]

    presets = catalog.list_presets(session, team_id=viewer.team_id,
                                   max_records=catalog.MAX_PRESET_RECORDS)
    return {"products": products, "models": finished("model"),
            "sceneries": finished("scenery"), "presets": presets}


def _cost(runtime, session, viewer, kind: str, count: str) -> dict:
    price = getattr(runtime.settings.prices, kind if kind in ORDER_KINDS else "image")
    available = credits.summary(session, team_id=viewer.team_id).available
    number = int(count) if count.strip().isdigit() else None
    total = price * number if number else None
    return {"price": price, "count": number, "total": total, "available": available,
            "short": total is not None and total > available}


def _form_page(request, runtime, session, viewer, *, form: dict, errors=None,
               status=200):
    return page(request, "pages/shoot.html", status=status, title="New shoot",
                form=form, errors=errors or {},
                cost=_cost(runtime, session, viewer, form["kind"], form["count"]),
                **_choices(session, viewer))


@router.get("/shoot")
def shoot_form(request: Request, session: SessionDep, runtime: RuntimeDep,
               viewer: ViewerDep, product: str = "", kind: str = "image"):
    form = {"kind": kind if kind in ORDER_KINDS else "image", "product": product,
            "model": "", "scenery": "", "preset": "", "industry": "",
            "suggestions": "", "count": "4"}
    return _form_page(request, runtime, session, viewer, form=form)


@router.get("/shoot/cost")
def shoot_cost(request: Request, session: SessionDep, runtime: RuntimeDep,
               viewer: ViewerDep, kind: str = "image", count: str = ""):
    return fragment(request, "fragments/cost.html",
                    cost=_cost(runtime, session, viewer, kind, count))


def _error_field(message: str) -> str:
    found = _CONFIG_FIELD.search(message)
    if found:
        return found.group(1)
    return "count"


@router.post("/shoot")
def order_shoot(request: Request, session: SessionDep, runtime: RuntimeDep,
                viewer: ViewerDep, kind: Text = "image", product: Text = "",
                model: Text = "", scenery: Text = "", preset: Text = "",
                industry: Text = "", suggestions: Text = "", count: Text = ""):
    """Reserve the credits and register the order; then show its live page."""
    form = {"kind": kind, "product": product, "model": model, "scenery": scenery,
            "preset": preset, "industry": industry, "suggestions": suggestions,
            "count": count}
    if kind not in ORDER_KINDS:
        kind = form["kind"] = "image"

    config: dict = {"product": {"id": product}}
    for name, value in (("model", model), ("scenery", scenery), ("preset", preset)):
        if value:
            config[name] = {"id": value}
    if kind == "image":
        config["industry"] = industry
        config["suggestions"] = suggestions
    number = int(count) if count.strip().isdigit() else count

    try:
        body = parse_body(ORDER_KINDS[kind], {"config": config, "count": number})
        registration = generation.register(
            session, team_id=viewer.team_id, kind=kind, body=body,
            price_each=getattr(runtime.settings.prices, kind), queue=runtime.queue,
            request_id=getattr(request.state, "request_id", None),
        )
    except (BadRequest, NotFound, InsufficientCredits) as exc:
        session.rollback()
        return _form_page(request, runtime, session, viewer, form=form,
                          status=exc.status_code,
                          errors={_error_field(exc.message): exc.message})
    return redirect(request, f"/orders/{registration.order.id}")


def _order(session, viewer, order_id: str) -> dict:
    view = generation.get_order(session, team_id=viewer.team_id, order_id=order_id)
    done = sum(1 for r in view.records if r.status == DONE)
    return {"view": view, "order": view.order, "records": view.records,
            "order_status": view.status, "busy": view.status == INPROGRESS,
            "done": done}


@router.get("/orders/{order_id}")
def order_page(request: Request, session: SessionDep, viewer: ViewerDep,
               order_id: str):
    values = _order(session, viewer, order_id)
    title = "Photo shoot" if values["order"].kind == "image" else "Packshots"
    return page(request, "pages/order.html", title=f"{title} {order_id}",
                heading=title, **values)


@router.get("/orders/{order_id}/records")
def order_records(request: Request, session: SessionDep, viewer: ViewerDep,
                  order_id: str):
    return fragment(request, "fragments/order_records.html",
                    **_order(session, viewer, order_id))


@router.get("/orders")
def orders_page(request: Request, session: SessionDep, viewer: ViewerDep):
    products, _ = catalog.list_products(session, team_id=viewer.team_id)
    names = {p.id: p.name for p in products}
    summaries = recent_orders(session, team_id=viewer.team_id)
    return page(request, "pages/orders.html", title="Orders", summaries=summaries,
                names=names,
                busy=any(s.status == INPROGRESS for s in summaries))
