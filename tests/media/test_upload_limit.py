"""UploadLimitMiddleware: oversized bodies stopped before they are read whole."""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
from fastapi import FastAPI, File, UploadFile

from lightbox.media.uploads import UploadLimitMiddleware

LIMIT = 64 * 1024
SLACK = 1024
CHUNK = 16 * 1024


def make_app() -> tuple[FastAPI, list]:
    calls: list = []
    app = FastAPI()

    @app.post("/api/external/products")
    async def receive_upload(file: Annotated[UploadFile, File()]) -> dict:
        data = await file.read()
        calls.append(len(data))
        return {"size": len(data)}

    @app.post("/other")
    async def outside(file: Annotated[UploadFile, File()]) -> dict:
        return {"size": len(await file.read())}

    wrapped = UploadLimitMiddleware(app, max_bytes=LIMIT, slack=SLACK)
    return wrapped, calls


def post(app, path: str, **kwargs) -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.post(path, **kwargs)

    return asyncio.run(go())


def multipart(size: int) -> tuple[bytes, str]:
    boundary = "limitboundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    ).encode() + b"\xff" * size + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_small_bodies_pass_through():
    app, calls = make_app()
    body, content_type = multipart(1000)
    response = post(app, "/api/external/products", content=body,
                    headers={"content-type": content_type})
    assert (response.status_code, response.json()) == (200, {"size": 1000})
    assert calls == [1000]


def test_declared_length_over_the_limit_is_refused_unread():
    app, calls = make_app()
    body, content_type = multipart(LIMIT + SLACK + 10)
    response = post(app, "/api/external/products", content=body,
                    headers={"content-type": content_type})

    assert (response.status_code, response.json()) == (
        413, {"error": "file: upload too large (max 64 KB)"}
    )
    assert calls == []


def test_chunked_body_is_cut_off_at_the_limit():
    app, calls = make_app()
    body, content_type = multipart(40 * CHUNK)
    consumed = []

    async def stream():
        for start in range(0, len(body), CHUNK):
            consumed.append(start)
            yield body[start:start + CHUNK]

    response = post(app, "/api/external/products", content=stream(),
                    headers={"content-type": content_type})

    assert response.status_code == 413
    assert response.json() == {"error": "file: upload too large (max 64 KB)"}
    # Reading stopped just past the limit, not at the end of the 640 KB body.
    assert len(consumed) <= (LIMIT + SLACK) // CHUNK + 2
    assert calls == []


def test_other_paths_are_not_limited():
    app, _ = make_app()
    body, content_type = multipart(LIMIT * 2)
    response = post(app, "/other", content=body,
                    headers={"content-type": content_type})
    assert response.json() == {"size": LIMIT * 2}
