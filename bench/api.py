"""API latency benchmark against a live server: lists, registration, a photo shoot.

    python bench/api.py [--records 10000] [--requests 30] [--shoots 3]

Each instance lives in a fresh temporary data dir and is served by Uvicorn in a
child process (so the client's work does not share the server's GIL), built the
way ``lightbox serve`` builds it: ``build_runtime`` + ``prepare`` +
``create_app``. Timings are wall-clock seconds as a client sees them over
loopback HTTP. Targets (this 2-core machine): list 150 ms, register 30 ms, a
4-image shoot registered -> all DONE in 3 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

import httpx
import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "tests"))  # factories: drawn products

SECRET = "bench-secret-" + "x" * 32
TARGETS_MS = {"list": 150.0, "register": 30.0, "shoot": 3000.0}


def bench_settings(data_dir: Path, *, workers: int, port: int = 0):
    from lightbox.config import Settings

    return Settings(
        env="test", data_dir=data_dir, secret_key=SECRET, workers=workers,
        rate_limit_per_minute=1_000_000, log_level="WARNING", log_format="console",
        base_url=f"http://127.0.0.1:{port}",
    )


# The server process ------------------------------------------------------------


def serve(data_dir: Path, port: int, workers: int) -> None:
    import uvicorn

    from lightbox.app import create_app, prepare
    from lightbox.runtime import build_runtime

    runtime = build_runtime(bench_settings(data_dir, workers=workers, port=port))
    prepare(runtime)
    try:
        uvicorn.run(create_app(runtime=runtime), host="127.0.0.1", port=port,
                    log_level="warning", access_log=False)
    finally:
        runtime.close()


class Server:
    """A child process serving one data dir; stopped on exit of the block."""

    def __init__(self, data_dir: Path, *, workers: int) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [sys.executable, str(HERE), "_serve", str(data_dir),
                     str(self.port), str(workers)]

    def __enter__(self) -> Self:
        self.process = subprocess.Popen(self.args, env=os.environ.copy())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("bench server exited during start-up")
            time.sleep(0.1)
        raise RuntimeError("bench server did not start within 60 s")

    def __exit__(self, *_exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


# Data ----------------------------------------------------------------------------


def make_instance(data_dir: Path, *, records: int, credits: int) -> tuple[str, str]:
    """Migrate a fresh instance, add a team with a key, a product and ``records``
    DONE photo-shoot records; returns (api key, product id)."""
    from factories import image_bytes
    from sqlalchemy import insert

    from lightbox.accounts import service as accounts
    from lightbox.app import prepare
    from lightbox.catalog import service as catalog
    from lightbox.credits import service as credits_service
    from lightbox.generation.models import Record
    from lightbox.ids import new_id
    from lightbox.media.uploads import validate_image
    from lightbox.runtime import build_runtime

    runtime = build_runtime(bench_settings(data_dir, workers=0))
    try:
        prepare(runtime)
        with runtime.db.session() as session:
            team = accounts.create_team(session, name="bench")
            credits_service.grant(session, team_id=team.id, amount=credits)
            _, key = accounts.create_api_key(session, team_id=team.id, name="bench",
                                             secret_key=SECRET)
            upload = validate_image(image_bytes("JPEG"), field="file",
                                    max_pixels=50_000_000)
            product = catalog.add_product(session, runtime.storage, team_id=team.id,
                                          upload=upload, name="Red Bottle")
            team_id, product_id = team.id, product.id

        # Bulk rows as a long-lived team would have them: rendered, a few voted.
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        rows = []
        for n in range(records):
            record_id = new_id("img")
            prefix = f"teams/{team_id}/images/{record_id}/image"
            rows.append({
                "id": record_id, "team_id": team_id, "order_id": None,
                "kind": "image", "name": f"Red Bottle — Variant {n % 20 + 1}",
                "status": "DONE", "voting": "APPROVED" if n % 7 == 0 else None,
                "archived": False, "product_id": product_id,
                "params": {"seed": n, "variant": n % 20}, "price": 30,
                "image_key": f"{prefix}.jpg", "thumb_key": f"{prefix}.thumb.jpg",
                "layers": {}, "meta": {}, "attempts": 1, "settled": True,
                "created_at": start + dt.timedelta(seconds=n),
                "finished_at": start + dt.timedelta(seconds=n + 1),
            })
        with runtime.db.session() as session:
            for chunk in range(0, len(rows), 2000):
                session.execute(insert(Record), rows[chunk:chunk + 2000])
    finally:
        runtime.close()
    return key, product_id


# Measuring -----------------------------------------------------------------------


def stats(label: str, seconds: list[float], target_ms: float) -> None:
    ms = np.asarray(seconds) * 1000
    median, p90, p99 = np.percentile(ms, [50, 90, 99])
    verdict = "ok" if median <= target_ms else "OVER TARGET"
    print(f"{label:<46} n={len(ms):<4} median {median:8.1f} ms   p90 {p90:8.1f} ms"
          f"   p99 {p99:8.1f} ms   target {target_ms:.0f} ms  {verdict}", flush=True)


def timed(call, n: int, *, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        call()
    out = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def check(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.url}: {response.status_code} "
                           f"{response.text[:300]}")
    return response


def bench_list_and_register(root: Path, *, records: int, requests: int) -> None:
    data_dir = root / "lists"
    key, product_id = make_instance(data_dir, records=records,
                                    credits=30 * (requests + 10))
    # No consumers: registered records stay queued and nothing renders meanwhile.
    with Server(data_dir, workers=0) as server, httpx.Client(
        base_url=f"{server.url}/api/external", headers={"X-Api-Key": key},
        timeout=60,
    ) as client:
        count = check(client.get("/image-picker")).json()["count"]
        if count < records:
            raise RuntimeError(f"listed {count} of {records} records")

        # http.client reads the ~6 MB body with C-level socket reads and nothing
        # decodes it in the timed loop, so the number is the server's, not the
        # client's (httpx spends longer than the server on a body this size).
        raw = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)

        def list_all():
            raw.request("GET", "/api/external/image-picker",
                        headers={"X-Api-Key": key})
            response = raw.getresponse()
            body = response.read()
            if response.status != 200 or len(body) < 100 * records:
                raise RuntimeError(f"list failed: {response.status}")

        # The first listing signs every media URL; later ones reuse them for a
        # while (generation.serialize.MediaUrls), as a polling client sees.
        started = time.perf_counter()
        list_all()
        print(f"{'GET /image-picker, first (signs all URLs)':<46} n=1    "
              f"{(time.perf_counter() - started) * 1000:8.1f} ms", flush=True)
        stats(f"GET /image-picker ({records} records)", timed(list_all, requests),
              TARGETS_MS["list"])
        stats("GET /image-picker?limit=100",
              timed(lambda: check(client.get("/image-picker?limit=100")), requests),
              TARGETS_MS["list"])

        body = {"config": {"product": {"id": product_id}}, "count": 1}
        stats("POST /image-picker/register-ideas (count 1)",
              timed(lambda: check(client.post("/image-picker/register-ideas",
                                              json=body)), requests),
              TARGETS_MS["register"])


def bench_shoot(root: Path, *, shoots: int) -> None:
    data_dir = root / "shoot"
    key, product_id = make_instance(data_dir, records=0, credits=120 * (shoots + 2))
    with Server(data_dir, workers=2) as server, httpx.Client(
        base_url=f"{server.url}/api/external", headers={"X-Api-Key": key},
        timeout=60,
    ) as client:
        def shoot(seed: int) -> float:
            started = time.perf_counter()
            placed = check(client.post("/image-picker/register-ideas", json={
                "config": {"product": {"id": product_id}, "seed": seed,
                           "industry": "cosmetics",
                           "suggestions": "bright lighting, clean composition"},
                "count": 4,
            })).json()
            while True:
                order = check(client.get(f"/orders/{placed['orderId']}")).json()
                if order["status"] != "INPROGRESS":
                    break
                time.sleep(0.05)
            if order["status"] != "DONE":
                raise RuntimeError(f"shoot ended {order['status']}")
            return time.perf_counter() - started

        # The first shoot also loads the cutout network and cuts the product out.
        cold = shoot(0)
        print(f"{'4-image shoot, first (cutout + model load)':<46} n=1    "
              f"{cold * 1000:8.1f} ms", flush=True)
        stats("4-image shoot registered -> all DONE (2 workers)",
              [shoot(seed) for seed in range(1, shoots + 1)], TARGETS_MS["shoot"])


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "_serve":
        serve(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--shoots", type=int, default=3, help="0: skip the shoot")
    args = parser.parse_args()

    from lightbox.logs import configure_logging

    configure_logging(bench_settings(Path("."), workers=0))
    print(f"load average before: {os.getloadavg()[0]:.1f} "
          f"({os.cpu_count()} cores)", flush=True)
    with tempfile.TemporaryDirectory(prefix="lightbox-bench-") as tmp:
        bench_list_and_register(Path(tmp), records=args.records,
                                requests=args.requests)
        if args.shoots > 0:
            bench_shoot(Path(tmp), shoots=args.shoots)


if __name__ == "__main__":
    main()
