"""A whole photo shoot with the embedded workers: registered, rendered, paid."""

from __future__ import annotations

import io

import httpx
import numpy as np
from conftest import wait_for
from factories import image_bytes
from PIL import Image

PRODUCT_RED = np.array([200, 40, 40])


def test_photo_shoot_from_registration_to_done(api):
    product = api.client.post(
        "/products", files={"file": ("bottle.jpg", image_bytes("JPEG"), "image/jpeg")},
        data={"name": "Red Bottle"},
    ).json()["product"]["id"]

    placed = api.client.post("/image-picker/register-ideas", json={
        "config": {"product": {"id": product}, "industry": "cosmetics",
                   "suggestions": "bright lighting, clean composition", "seed": 11},
        "count": 4,
    })
    assert placed.status_code == 200, placed.text
    order_id = placed.json()["orderId"]

    def settled():
        body = api.client.get(f"/orders/{order_id}").json()
        return body if body["status"] != "INPROGRESS" else None

    order = wait_for(settled, timeout=180, interval=0.5)

    assert order["status"] == "DONE"
    assert (order["creditsReserved"], order["creditsConsumed"],
            order["creditsReleased"]) == (120, 120, 0)
    credits = api.client.get("/credits").json()
    assert (credits["balance"], credits["reserved"]) == (880, 0)

    images = api.client.get("/image-picker", params={"productId": product}).json()
    assert images["count"] == 4
    pictures = []
    for item in images["images"]:
        assert item["status"] == "DONE" and item["name"].startswith("Red Bottle — ")
        response = httpx.get(item["imageUrl"])
        assert response.headers["content-type"] == "image/jpeg"
        picture = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
        thumb = Image.open(io.BytesIO(httpx.get(item["thumbnail"]).content))
        assert thumb.format == "JPEG" and max(thumb.size) <= 640
        pictures.append(picture)

    for picture in pictures:
        # A real photograph: textured, and the red product is in it.
        assert picture.std() > 10
        near_red = np.abs(picture.astype(int) - PRODUCT_RED).sum(axis=2) < 60
        assert near_red.mean() > 0.005
    # Four variants, four different pictures.
    signatures = {picture[::16, ::16].tobytes() for picture in pictures}
    assert len(signatures) == 4
