"""Presets, models and the first-visit claim of a team that has no user yet."""

from __future__ import annotations

import re

from conftest import wait_for
from factories import image_bytes
from sqlalchemy import select

from lightbox.accounts import service as accounts
from lightbox.accounts.models import User
from lightbox.catalog.models import Preset
from lightbox.credits import service as credits
from lightbox.generation.models import Record


def test_presets_create_edit_and_system_ones_are_read_only(web, browser, signup,
                                                           runtime):
    b = browser()
    team_id = signup(b, team="Acme", email="ann@acme.test")
    listing = b.get("/presets")
    assert listing.status_code == 200 and "Clean e-commerce" in listing.text

    blank = b.post("/presets", {"name": "Moody", "quality_guidelines": "",
                                "quantity_guidelines": "mix close-ups"})
    assert blank.status_code == 400
    assert 'id="quality_guidelines-error"' in blank.text
    assert "qualityGuidelines: required" in blank.text
    made = b.post("/presets", {"name": "Moody",
                               "quality_guidelines": "dark backdrop, side light",
                               "quantity_guidelines": "mix close-ups"})
    assert made.status_code == 303
    with runtime.db.session() as session:
        preset = session.scalar(select(Preset).where(Preset.team_id == team_id))
        system_id = session.scalar(select(Preset.id).where(Preset.team_id.is_(None)))

    b.get(f"/presets/{preset.id}")
    edited = b.post(f"/presets/{preset.id}", {
        "name": "Moody night", "quality_guidelines": "black velvet, rim light",
        "quantity_guidelines": "mix close-ups"})
    assert edited.status_code == 303
    with runtime.db.session() as session:
        row = session.get(Preset, preset.id)
        assert row.name == "Moody night" and "black velvet" in row.guidelines

    system = b.get(f"/presets/{system_id}")
    assert system.status_code == 200 and "cannot be changed" in system.text
    refused = b.post(f"/presets/{system_id}", {
        "name": "Mine now", "quality_guidelines": "x", "quantity_guidelines": "y"})
    assert refused.status_code == 403

    # Another team sees the system presets but not Acme's.
    with runtime.db.session() as session:
        rival = accounts.create_team(session, name="Rival")
        accounts.create_user(session, team_id=rival.id, email="eve@rival.test",
                             password="rival password 1")
    e = browser()
    e.get("/signin")
    e.post("/signin", {"email": "eve@rival.test", "password": "rival password 1"})
    assert "Moody night" not in e.get("/presets").text
    assert e.get(f"/presets/{preset.id}").status_code == 404


def test_models_generate_upload_vote_and_filter(web, browser, signup, runtime):
    b = browser()
    signup(b, team="Acme", email="ann@acme.test", credits=15)
    b.get("/models")
    broke = b.post("/models/generate", {"preferences": "slim mannequin",
                                        "count": "2"})
    assert broke.status_code == 402
    assert "Insufficient credits. Required: 20, available: 15." in broke.text
    empty = b.post("/models/generate", {"preferences": "  ", "count": "1"})
    assert empty.status_code == 400 and 'id="preferences-error"' in empty.text

    assert b.post("/models/generate", {"preferences": "slim mannequin, matte white",
                                       "count": "1"}).status_code == 303
    first = b.get("/models/grid").text
    assert 'data-status="INPROGRESS"' in first and 'hx-trigger="every 1.5s"' in first
    wait_for(lambda: 'data-status="DONE"' in b.get("/models/grid").text, timeout=90)
    assert "hx-trigger" not in b.get("/models/grid").text

    parts = [("file", ("studio-model.jpg", image_bytes(seed=5), "image/jpeg"))]
    uploaded = b.client.post("/models/upload", data={"csrf_token": b.csrf,
                                                     "name": ""}, files=parts)
    assert uploaded.status_code == 303
    not_image = b.client.post("/models/upload", data={"csrf_token": b.csrf},
                              files=[("file", ("x.jpg", b"nope", "image/jpeg"))])
    assert not_image.status_code == 415 and 'id="file-error"' in not_image.text

    with runtime.db.session() as session:
        rows = session.execute(select(Record.id, Record.name, Record.voting).where(
            Record.kind == "model")).all()
    by_name = {name: (rid, voting) for rid, name, voting in rows}
    assert by_name["studio-model"][1] == "APPROVED"
    generated = by_name["Slim mannequin — Variant 1"][0]

    b.get("/models")
    rejected = b.post(f"/records/{generated}/vote",
                      {"voting": "REJECTED", "back": "/models?shown=all"})
    assert rejected.headers["location"] == "/models?shown=all"
    shown = b.get("/models").text
    assert "Slim mannequin" not in shown and "studio-model" in shown
    assert "Slim mannequin" in b.get("/models?shown=rejected").text
    b.post(f"/records/{generated}/vote", {"voting": "NONE", "back": "/models"})
    assert "Slim mannequin" in b.get("/models").text


def test_first_visit_can_claim_the_demo_team(web, browser, runtime, password):
    with runtime.db.session() as session:
        demo = accounts.create_team(session, name="Demo Studio")
        credits.grant(session, team_id=demo.id, amount=10_000, note="demo")
        demo_id = demo.id

    b = browser()
    form = b.get("/setup").text
    assert re.search(rf'value="{demo_id}"', form) and "Claim “Demo Studio”" in form
    bogus = b.post("/setup", {"team": "team_nope", "email": "ann@acme.test",
                              "password": password})
    assert bogus.status_code == 400 and 'id="team-error"' in bogus.text
    claimed = b.post("/setup", {"team": demo_id, "email": "ann@acme.test",
                                "password": password})
    assert claimed.status_code == 303
    page = b.get("/products").text
    assert "Demo Studio" in page and "10,000" in page
    with runtime.db.session() as session:
        user = session.scalar(select(User))
        assert user.team_id == demo_id and user.role == "owner"
