"""A team's recent orders with their progress, for the workspace's order list.

The API reads one order at a time (``GET /orders/{orderId}``); a person wants to
see the last few at a glance. Two queries whatever the number of orders: the
orders, then their records' statuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lightbox.generation.models import DONE, FAILED, Order, Record
from lightbox.generation.service import order_status


@dataclass(frozen=True)
class OrderSummary:
    order: Order
    status: str
    done: int
    failed: int
    product_id: str | None
    cover_key: str | None  # the thumbnail of the first finished record


def recent_orders(session: Session, *, team_id: str,
                  limit: int = 30) -> list[OrderSummary]:
    """The team's latest orders, newest first, with how far each has come."""
    orders = list(session.scalars(
        select(Order).where(Order.team_id == team_id)
        .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)
    ))
    if not orders:
        return []

    rows = session.execute(
        select(Record.order_id, Record.status, Record.thumb_key, Record.product_id)
        .where(Record.order_id.in_([o.id for o in orders]))
        .order_by(Record.created_at, Record.id)
    ).all()
    by_order: dict[str, list] = {}
    for row in rows:
        by_order.setdefault(row.order_id, []).append(row)

    summaries = []
    for order in orders:
        records = by_order.get(order.id, [])
        finished = [r for r in records if r.status == DONE and r.thumb_key]
        summaries.append(OrderSummary(
            order=order,
            status=order_status([r.status for r in records]),
            done=sum(1 for r in records if r.status == DONE),
            failed=sum(1 for r in records if r.status == FAILED),
            product_id=records[0].product_id if records else None,
            cover_key=finished[0].thumb_key if finished else None,
        ))
    return summaries
