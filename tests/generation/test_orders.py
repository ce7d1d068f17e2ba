"""GET /orders/{orderId}: status derived from records, credits from the reservation.

Records are settled here by the worker's own functions (``tasks.render_record``
renders for real; ``tasks.fail`` is what a worker does after its last attempt).
"""

from __future__ import annotations

import pytest
from conftest import test_settings

from lightbox.generation import tasks
from lightbox.generation.service import order_status


@pytest.fixture
def settings(tmp_path):
    return test_settings(tmp_path / "data", workers=0)


def register(team, path: str, body: dict) -> dict:
    response = team.client.post(f"{path}/register-ideas", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def order(team, order_id: str) -> dict:
    response = team.client.get(f"/orders/{order_id}")
    assert response.status_code == 200, response.text
    return response.json()


def fail(runtime, record_id: str) -> None:
    with runtime.db.session() as session:
        assert tasks.fail(session, record_id, error="engine refused the input")


def balance(team) -> tuple[int, int, int]:
    body = team.client.get("/credits").json()
    return body["balance"], body["reserved"], body["available"]


class TestOrder:
    def test_new_order(self, api):
        placed = register(api, "/models", {"preferences": "chrome mannequin",
                                           "count": 3})

        body = order(api, placed["orderId"])

        assert set(body) == {
            "orderId", "batchId", "reservationId", "kind", "status",
            "creditsReserved", "creditsConsumed", "creditsReleased", "records",
            "createdAt",
        }
        assert body["orderId"] == placed["orderId"]
        assert body["batchId"] == placed["batchId"]
        assert body["reservationId"] == placed["reservationId"]
        assert (body["kind"], body["status"]) == ("model", "INPROGRESS")
        assert (body["creditsReserved"], body["creditsConsumed"],
                body["creditsReleased"]) == (30, 0, 0)
        assert [r["id"] for r in body["records"]] == placed["createdRecordIds"]
        assert [r["name"] for r in body["records"]] == [
            f"Chrome mannequin — Variant {n}" for n in (1, 2, 3)
        ]
        assert body["createdAt"].endswith("Z") and len(body["createdAt"]) == 24

    def test_partial_order_arithmetic(self, api, runtime):
        placed = register(api, "/models", {"preferences": "matte black torso",
                                           "count": 3})
        done, failed, late = placed["createdRecordIds"]

        tasks.render_record(runtime, done)
        fail(runtime, failed)
        midway = order(api, placed["orderId"])
        fail(runtime, late)
        settled = order(api, placed["orderId"])

        assert midway["status"] == "INPROGRESS"
        assert (midway["creditsConsumed"], midway["creditsReleased"]) == (10, 10)
        assert settled["status"] == "PARTIAL"
        assert (settled["creditsReserved"], settled["creditsConsumed"],
                settled["creditsReleased"]) == (30, 10, 20)
        statuses = {r["id"]: r["status"] for r in settled["records"]}
        assert statuses == {done: "DONE", failed: "FAILED", late: "FAILED"}
        assert balance(api) == (990, 0, 990)

    def test_all_done(self, api, runtime):
        placed = register(api, "/sceneries", {"preferences": "sunny beach",
                                              "count": 2})
        for record_id in placed["createdRecordIds"]:
            tasks.render_record(runtime, record_id)

        body = order(api, placed["orderId"])

        assert body["status"] == "DONE"
        assert (body["creditsConsumed"], body["creditsReleased"]) == (20, 0)
        assert all(r["thumbnail"].startswith("http") for r in body["records"])
        assert balance(api) == (980, 0, 980)

    def test_all_failed_releases_everything(self, api, runtime):
        placed = register(api, "/sceneries", {"preferences": "studio", "count": 2})
        for record_id in placed["createdRecordIds"]:
            fail(runtime, record_id)

        body = order(api, placed["orderId"])

        assert body["status"] == "FAILED"
        assert (body["creditsConsumed"], body["creditsReleased"]) == (0, 20)
        assert all(r["error"] == "engine refused the input" for r in body["records"])
        assert balance(api) == (1000, 0, 1000)

    def test_unknown_and_foreign_orders_are_404(self, make_team):
        alice, bob = make_team(), make_team()
        placed = register(alice, "/models", {"preferences": "studio", "count": 1})

        for team, order_id in ((alice, "ord_nope"), (bob, placed["orderId"])):
            response = team.client.get(f"/orders/{order_id}")
            assert (response.status_code, response.json()) == (
                404, {"error": "Order not found: orderId"}
            )


@pytest.mark.parametrize("statuses,expected", [
    ([], "INPROGRESS"),
    (["INPROGRESS"], "INPROGRESS"),
    (["DONE", "INPROGRESS", "FAILED"], "INPROGRESS"),
    (["DONE", "DONE"], "DONE"),
    (["FAILED", "FAILED"], "FAILED"),
    (["DONE", "FAILED"], "PARTIAL"),
])
def test_order_status(statuses, expected):
    assert order_status(statuses) == expected
