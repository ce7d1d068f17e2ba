"""The workspace over HTTP: products, ordering, the picker's votes and ZIP, keys,
members and roles, and team isolation."""

from __future__ import annotations

import io
import re
import zipfile

import httpx
import numpy as np
from conftest import wait_for
from factories import image_bytes
from PIL import Image
from sqlalchemy import select

from lightbox.accounts.models import ApiKey, Invitation
from lightbox.catalog.models import Product
from lightbox.generation.models import Record


def _upload(b, path: str, files: list[tuple[str, bytes]], field: str = "files",
            **data):
    payload = {"csrf_token": b.csrf, **data}
    parts = [(field, (name, content, "image/jpeg")) for name, content in files]
    return b.client.post(path, data=payload, files=parts)


def _order_done(b, order_id: str) -> bool:
    text = b.get(f"/orders/{order_id}/records").text
    return 'data-status="INPROGRESS"' not in text


def test_products_upload_rename_delete(web, browser, signup, runtime):
    b = browser()
    team_id = signup(b, team="Acme", email="ann@acme.test")
    b.get("/products")

    broken = _upload(b, "/products", [("bottle.jpg", image_bytes(seed=1)),
                                      ("notes.jpg", b"not an image at all")])
    assert broken.status_code == 400
    assert "notes.jpg: not an image" in broken.text
    done = _upload(b, "/products", [("red-shoe.jpg", image_bytes(seed=2))])
    assert done.status_code == 303 and done.headers["location"] == "/products?added=1"

    with runtime.db.session() as session:
        products = session.scalars(select(Product).where(
            Product.team_id == team_id)).all()
        names = sorted(p.name for p in products)
        assert names == ["bottle", "red-shoe"]
        shoe = next(p for p in products if p.name == "red-shoe")

    # The cutout is computed after the response; the grid then shows it.
    wait_for(lambda: 'alt="Cutout of red-shoe"' in b.get("/products/grid").text,
             timeout=60)
    grid = b.get("/products/grid").text
    assert grid.count("/cutout.png") == 2 and "hx-trigger" not in grid

    b.get("/products")
    empty = b.post(f"/products/{shoe.id}/rename", {"name": "   "})
    assert empty.status_code == 400 and f'id="name-{shoe.id}-error"' in empty.text
    assert b.post(f"/products/{shoe.id}/rename", {"name": "Runner"}).status_code \
        == 303
    assert b.post(f"/products/{shoe.id}/delete").status_code == 303
    page = b.get("/products").text
    assert "Runner" not in page and 'value="bottle"' in page


def test_order_shoot_live_page_picker_votes_and_zip(web, browser, signup, runtime):
    b = browser()
    signup(b, team="Acme", email="ann@acme.test", credits=500)
    b.get("/products")
    _upload(b, "/products", [("bottle.jpg", image_bytes(seed=3))])
    with runtime.db.session() as session:
        product_id = session.scalar(select(Product.id))

    b.get("/sceneries")
    made = b.post("/sceneries/generate", {"preferences": "white marble table top",
                                          "count": "1"})
    assert made.status_code == 303
    wait_for(lambda: 'data-status="DONE"' in b.get("/sceneries/grid").text,
             timeout=90)
    with runtime.db.session() as session:
        scenery_id = session.scalar(select(Record.id).where(Record.kind == "scenery"))

    form = b.get("/shoot")
    assert f'value="{product_id}"' in form.text and f'value="{scenery_id}"' in form.text
    cost = b.get("/shoot/cost", params={"kind": "image", "count": "2"}).text
    assert "2 × 30 = 60 credits" in cost and "Available: 490 credits" in cost
    too_many = b.get("/shoot/cost", params={"kind": "image", "count": "30"}).text
    assert "Not enough credits" in too_many

    bad = b.post("/shoot", {"kind": "image", "product": product_id, "count": "0"})
    assert bad.status_code == 400
    assert "count: must be an integer between 1 and 20" in bad.text
    missing = b.post("/shoot", {"kind": "image", "product": "prod_nope",
                                "count": "1"})
    assert missing.status_code == 404
    assert 'id="product-error"' in missing.text

    ordered = b.post("/shoot", {"kind": "image", "product": product_id,
                                "scenery": scenery_id, "industry": "cosmetics",
                                "count": "2"})
    assert ordered.status_code == 303
    order_id = ordered.headers["location"].rsplit("/", 1)[1]
    live = b.get(f"/orders/{order_id}")
    assert live.status_code == 200 and "hx-trigger=\"every 1.5s\"" in live.text
    wait_for(lambda: _order_done(b, order_id), timeout=120, interval=0.5)
    final = b.get(f"/orders/{order_id}/records").text
    assert "hx-trigger" not in final and "Done:</strong> 2 of 2" in final

    picker = b.get(f"/picker?order={order_id}")
    ids = re.findall(r'class="thumb" data-id="([^"]+)"', picker.text)
    assert len(ids) == 2
    headers = {"X-CSRF-Token": b.csrf}
    vote = b.client.post("/picker/vote", headers=headers,
                         data={"record_id": ids[0], "voting": "APPROVED"})
    assert vote.json() == {"recordId": ids[0], "voting": "APPROVED"}
    b.client.post("/picker/vote", headers=headers,
                  data={"record_id": ids[1], "voting": "REJECTED"})
    undo = b.client.post("/picker/vote", headers=headers,
                         data={"record_id": ids[1], "voting": "NONE"})
    assert undo.json() == {"recordId": ids[1], "voting": None}
    no_token = b.client.post("/picker/vote",
                             data={"record_id": ids[1], "voting": "REJECTED"})
    assert no_token.status_code == 403

    approved = b.get(f"/picker?order={order_id}&shown=approved").text
    assert re.findall(r'class="thumb" data-id="([^"]+)"', approved) == [ids[0]]

    archive = b.get(f"/picker/download.zip?order={order_id}")
    assert archive.status_code == 200
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        names = zipped.namelist()
        assert len(names) == 1 and names[0].endswith(f"_{ids[0]}.jpg")
        data = zipped.read(names[0])
    with runtime.db.session() as session:
        record = session.get(Record, ids[0])
        stored = runtime.storage.get(record.image_key)
    picture = np.asarray(Image.open(io.BytesIO(data)))
    original = np.asarray(Image.open(io.BytesIO(stored)).convert("RGB"))
    assert picture.shape == original.shape and picture.std() > 5
    assert np.abs(picture.astype(int) - original.astype(int)).mean() < 2.0


def test_api_key_shown_once_used_and_revoked(web, browser, signup, runtime):
    b = browser()
    team_id = signup(b, team="Acme", email="ann@acme.test")
    b.get("/settings/keys")
    created = b.post("/settings/keys", {"name": "sync", "expires": ""})
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    raw = re.search(r'<code id="new-key">(mk_live_[^<]+)</code>', created.text)
    raw = raw.group(1)
    key_id = raw[len("mk_live_"):].split(".")[0]
    secret = raw.split(".", 1)[1]

    api = httpx.Client(base_url=f"{web.url}/api/external",
                       headers={"X-Api-Key": raw})
    assert api.get("/products").status_code == 200
    listing = b.get("/settings/keys").text
    assert key_id in listing and secret not in listing
    with runtime.db.session() as session:
        row = session.get(ApiKey, key_id)
        assert row.team_id == team_id and secret not in row.secret_hash

    bad_date = b.post("/settings/keys", {"name": "x", "expires": "someday"})
    assert bad_date.status_code == 400 and 'id="expires-error"' in bad_date.text

    assert b.post(f"/settings/keys/{key_id}/revoke").status_code == 303
    assert api.get("/products").status_code == 401
    assert "Revoked" in b.get("/settings/keys").text
    api.close()


def test_invited_member_can_shoot_but_not_manage(web, browser, signup, runtime,
                                                  password):
    owner = browser()
    team_id = signup(owner, team="Acme", email="ann@acme.test")
    owner.get("/settings/members")
    invited = owner.post("/settings/members/invite",
                         {"email": "bob@acme.test", "role": "member"})
    link = re.search(r'<code id="invite-link">([^<]+)</code>', invited.text).group(1)
    token = link.rsplit("/", 1)[1]
    with runtime.db.session() as session:
        row = session.scalar(select(Invitation))
        assert token not in row.token_hash
    assert token not in owner.get("/settings/members").text

    bob = browser()
    join = bob.get(link.replace(web.url, ""))
    assert join.status_code == 200 and "bob@acme.test" in join.text
    differ = bob.post(f"/invite/{token}", {"password": password, "confirm": "x"})
    assert differ.status_code == 400 and 'id="confirm-error"' in differ.text
    joined = bob.post(f"/invite/{token}", {"password": password,
                                           "confirm": password})
    assert joined.status_code == 303
    assert bob.get("/products").status_code == 200
    assert bob.get("/settings/keys").status_code == 403
    assert bob.get("/settings/members").status_code == 403
    assert bob.post("/settings/keys", {"name": "x"}).status_code == 403
    assert bob.get("/settings/credits").status_code == 200
    # The link works once.
    assert browser().get(f"/invite/{token}").status_code == 404

    # Removing Bob signs him out at once.
    page = owner.get("/settings/members").text
    bob_id = re.search(r'/settings/members/(user_[^/]+)/remove', page).group(1)
    assert owner.post(f"/settings/members/{bob_id}/remove").status_code == 303
    assert bob.get("/products").status_code == 303
    assert team_id


def test_no_page_or_action_of_one_team_reaches_another(web, browser, signup,
                                                       runtime):
    a = browser()
    signup(a, team="Acme", email="ann@acme.test", credits=100)
    a.get("/products")
    _upload(a, "/products", [("bottle.jpg", image_bytes(seed=4))])
    with runtime.db.session() as session:
        product_id = session.scalar(select(Product.id))
    ordered = a.post("/shoot", {"kind": "packshot", "product": product_id,
                                "count": "1"})
    order_id = ordered.headers["location"].rsplit("/", 1)[1]
    wait_for(lambda: _order_done(a, order_id), timeout=120, interval=0.5)
    with runtime.db.session() as session:
        record_id = session.scalar(select(Record.id).where(Record.order_id == order_id))

    # A second team, made by the owner's invitation flow's sibling: a new team.
    from lightbox.accounts import service as accounts

    with runtime.db.session() as session:
        other = accounts.create_team(session, name="Rival")
        accounts.create_user(session, team_id=other.id, email="eve@rival.test",
                             password="rival password 1", role="owner")
    e = browser()
    e.get("/signin")
    assert e.post("/signin", {"email": "eve@rival.test",
                              "password": "rival password 1"}).status_code == 303

    for path in (f"/orders/{order_id}", f"/orders/{order_id}/records",
                 f"/picker?order={order_id}", f"/picker?product={product_id}",
                 f"/picker/download.zip?order={order_id}",
                 "/shoot?product=", "/presets/preset_nope"):
        response = e.get(path)
        if path.startswith("/shoot"):
            assert product_id not in response.text
            continue
        assert response.status_code == 404, path
        assert order_id not in response.text or "Order" not in response.text
    assert e.post(f"/products/{product_id}/rename", {"name": "x"}).status_code == 404
    assert e.post(f"/products/{product_id}/delete").status_code == 404
    vote = e.client.post("/picker/vote", headers={"X-CSRF-Token": e.csrf},
                         data={"record_id": record_id, "voting": "REJECTED"})
    assert vote.status_code == 404
    assert product_id not in e.get("/products").text
    assert record_id not in e.get("/picker").text
    with runtime.db.session() as session:
        assert session.get(Record, record_id).voting is None
        assert session.get(Product, product_id).name == "bottle"


def test_orders_list_shows_progress_and_only_the_teams_orders(web, browser, signup,
                                                              runtime):
    b = browser()
    signup(b, team="Acme", email="ann@acme.test", credits=100)
    assert "No orders yet" in b.get("/orders").text
    b.get("/products")
    _upload(b, "/products", [("bottle.jpg", image_bytes(seed=6))])
    with runtime.db.session() as session:
        product_id = session.scalar(select(Product.id))
    ordered = b.post("/shoot", {"kind": "packshot", "product": product_id,
                                "count": "2"})
    order_id = ordered.headers["location"].rsplit("/", 1)[1]

    listing = b.get("/orders").text
    assert order_id in listing and "bottle" in listing
    wait_for(lambda: "Done</span>" in b.get("/orders").text, timeout=120,
             interval=0.5)
    final = b.get("/orders").text
    assert "hx-trigger" not in final and "/media/teams/" in final

    from lightbox.accounts import service as accounts

    with runtime.db.session() as session:
        rival = accounts.create_team(session, name="Rival")
        accounts.create_user(session, team_id=rival.id, email="eve@rival.test",
                             password="rival password 1")
    e = browser()
    e.get("/signin")
    e.post("/signin", {"email": "eve@rival.test", "password": "rival password 1"})
    assert order_id not in e.get("/orders").text
