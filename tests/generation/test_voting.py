"""POST /packshots/update-packshot: votes on any kind move records between lists."""

from __future__ import annotations

import pytest
from conftest import test_settings
from factories import image_bytes

from lightbox.generation import tasks
from lightbox.generation.models import Record

VOTE = "/packshots/update-packshot"
LIST_OF = {"model": ("/models", "models"), "packshot": ("/packshots", "packshots"),
           "image": ("/image-picker", "images")}


BAD_BODIES = [
    ({"recordId": "x"}, "Voting: required"),
    ({"recordId": "x", "Voting": "approved"}, "Voting: must be APPROVED or REJECTED"),
    ({"recordId": "x", "Voting": None}, "Voting: must be APPROVED or REJECTED"),
    ({"recordId": "x", "voting": "MAYBE"}, "voting: must be APPROVED or REJECTED"),
    ({"Voting": "APPROVED"}, "recordId: required"),
    ({"recordId": "", "Voting": "APPROVED"}, "recordId: must be a non-empty string"),
    ({"recordId": 5, "Voting": "APPROVED"}, "recordId: must be a non-empty string"),
]


@pytest.fixture
def settings(tmp_path):
    # Records are rendered by calling the task in the test, when it needs them.
    return test_settings(tmp_path / "data", workers=0)


def upload_model(team) -> str:
    response = team.client.post(
        "/models", files={"file": ("m.png", image_bytes("PNG", alpha=True))},
    )
    assert response.status_code == 200, response.text
    return response.json()["model"]["id"]


def register(team, path: str, body: dict) -> list[str]:
    response = team.client.post(f"{path}/register-ideas", json=body)
    assert response.status_code == 200, response.text
    return response.json()["createdRecordIds"]


def rendered(team, runtime, kind: str) -> str:
    """A record of ``kind`` rendered for real by the worker task, DONE."""
    product = team.client.post(
        "/products", files={"file": ("p.jpg", image_bytes("JPEG"), "image/jpeg")},
    ).json()["product"]["id"]
    path = LIST_OF[kind][0]
    [record_id] = register(team, path, {"config": {"product": {"id": product},
                                                    "seed": 3}, "count": 1})
    tasks.render_record(runtime, record_id)
    with team.session() as session:
        assert session.get(Record, record_id).status == "DONE"
    return record_id


def vote(team, body: dict, *, expect: int = 200) -> dict:
    response = team.client.post(VOTE, json=body)
    assert response.status_code == expect, response.text
    return response.json()


def lists_holding(team, kind: str, record_id: str) -> set[str]:
    path, collection = LIST_OF[kind]
    found = set()
    for status_filter in ("all", "approved", "rejected"):
        body = team.client.get(path, params={"statusFilter": status_filter}).json()
        if record_id in {item["id"] for item in body[collection]}:
            found.add(status_filter)
    return found


class TestVotes:
    def test_reject_archives_and_approve_restores(self, api):
        model_id = upload_model(api)
        assert lists_holding(api, "model", model_id) == {"all", "approved"}

        body = vote(api, {"recordId": model_id, "Voting": "REJECTED"})

        assert body == {"success": True,
                        "message": "Packshot voting updated successfully",
                        "recordId": model_id}
        assert lists_holding(api, "model", model_id) == {"rejected"}
        with api.session() as session:
            record = session.get(Record, model_id)
            assert (record.voting, record.archived) == ("REJECTED", True)

        vote(api, {"recordId": model_id, "Voting": "APPROVED"})

        assert lists_holding(api, "model", model_id) == {"all", "approved"}
        item = api.client.get("/models").json()["models"][0]
        assert item["voting"] == "APPROVED"

    def test_lower_case_field_is_accepted(self, api):
        model_id = upload_model(api)

        vote(api, {"recordId": model_id, "voting": "REJECTED"})

        assert lists_holding(api, "model", model_id) == {"rejected"}

    def test_upper_case_field_wins_when_both_are_sent(self, api):
        model_id = upload_model(api)

        vote(api, {"recordId": model_id, "Voting": "REJECTED", "voting": "APPROVED"})

        assert lists_holding(api, "model", model_id) == {"rejected"}

    @pytest.mark.parametrize("kind", ["packshot", "image"])
    def test_every_generated_kind_can_be_voted(self, api, runtime, kind):
        record_id = rendered(api, runtime, kind)
        assert lists_holding(api, kind, record_id) == {"all"}

        vote(api, {"recordId": record_id, "Voting": "APPROVED"})
        assert lists_holding(api, kind, record_id) == {"all", "approved"}

        vote(api, {"recordId": record_id, "Voting": "REJECTED"})
        assert lists_holding(api, kind, record_id) == {"rejected"}

    def test_failed_record_can_be_rejected_not_approved(self, api, runtime):
        [record_id] = register(api, "/models", {"preferences": "studio", "count": 1})
        with runtime.db.session() as session:
            assert tasks.fail(session, record_id, error="engine refused the input")

        approve = vote(api, {"recordId": record_id, "Voting": "APPROVED"},
                       expect=400)
        vote(api, {"recordId": record_id, "Voting": "REJECTED"})

        assert approve == {"error": "recordId: a FAILED record cannot be approved"}
        assert lists_holding(api, "model", record_id) == {"rejected"}


class TestErrors:
    def test_record_not_done_yet(self, api):
        [record_id] = register(api, "/models", {"preferences": "studio", "count": 1})

        body = vote(api, {"recordId": record_id, "Voting": "APPROVED"}, expect=400)

        assert body == {"error": "recordId: record is not DONE yet"}
        with api.session() as session:
            assert session.get(Record, record_id).voting is None

    def test_unknown_record(self, api):
        body = vote(api, {"recordId": "img_doesnotexist", "Voting": "APPROVED"},
                    expect=404)
        assert body == {"error": "Record not found: recordId"}

    def test_another_teams_record(self, make_team):
        alice, bob = make_team(), make_team()
        model_id = upload_model(alice)

        body = vote(bob, {"recordId": model_id, "Voting": "REJECTED"}, expect=404)

        assert body == {"error": "Record not found: recordId"}
        assert lists_holding(alice, "model", model_id) == {"all", "approved"}

    def test_bad_bodies(self, api):
        for body, message in BAD_BODIES:
            assert vote(api, body, expect=400) == {"error": message}, body

    def test_read_only_key(self, make_team):
        team = make_team(scopes="content.read")

        body = vote(team, {"recordId": "x", "Voting": "APPROVED"}, expect=403)

        assert body == {"error": "Missing required scope: 'content.register'."}
