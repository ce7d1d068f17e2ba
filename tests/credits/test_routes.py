"""``GET /credits`` over real HTTP."""

from __future__ import annotations

import re

from lightbox.credits import service
from lightbox.ids import new_id

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_balance_and_ledger(api):
    with api.session() as session:
        res = service.reserve(session, team_id=api.team_id, amount=30,
                              order_id="ord_x")
        record = new_id("img")
        service.settle(session, reservation_id=res.id, record_id=record,
                       amount=10, outcome="consume")

    body = api.client.get("/credits").json()

    assert (body["balance"], body["reserved"], body["available"]) == (990, 20, 970)
    consume, reserve, grant = body["ledger"]
    assert consume == {
        "id": consume["id"], "kind": "consume", "amount": 10,
        "reservationId": res.id, "orderId": "ord_x", "recordId": record,
        "note": "", "createdAt": consume["createdAt"],
    }
    assert consume["id"].startswith("led_") and STAMP.match(consume["createdAt"])
    assert (reserve["kind"], reserve["amount"], reserve["recordId"]) == (
        "reserve", 30, None)
    assert (grant["kind"], grant["amount"], grant["note"]) == (
        "grant", 1000, "test grant")


def test_limit_and_validation(api):
    with api.session() as session:
        for _ in range(5):
            service.grant(session, team_id=api.team_id, amount=1)

    limited = api.client.get("/credits", params={"limit": 2}).json()
    bad = api.client.get("/credits", params={"limit": 0})

    assert [e["amount"] for e in limited["ledger"]] == [1, 1]
    assert limited["balance"] == 1005
    assert bad.status_code == 400 and bad.json()["error"].startswith("limit:")


def test_only_the_callers_team(make_team):
    rich, poor = make_team(credits=1000), make_team(credits=0)

    body = poor.client.get("/credits").json()

    assert body == {"balance": 0, "reserved": 0, "available": 0, "ledger": []}
    assert rich.client.get("/credits").json()["balance"] == 1000
