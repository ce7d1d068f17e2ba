"""Two API processes and two worker processes on PostgreSQL, Redis and S3.

Every process is a real ``lightbox`` subprocess started from settings alone; the
orders go in through both APIs, the renders come out of both workers, and the
books are checked in the database: every record charged exactly once.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from conftest import wait_for
from PIL import Image
from sqlalchemy import inspect

from lightbox.generation.models import DONE
from lightbox.migrate import current_revision

pytestmark = [pytest.mark.services, pytest.mark.slow]

CLI = [sys.executable, "-c", "from lightbox.cli import app; app()"]
ORDERS = 6
PER_ORDER = 2
PRICE = 10  # a scenery (config.Prices)


def metric(text: str, name: str) -> float:
    """Sum of a Prometheus metric's samples in one /metrics page."""
    pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+-]+)$",
                         re.MULTILINE)
    return sum(float(value) for value in pattern.findall(text))


def test_db_upgrade_builds_an_empty_postgresql_database(scaled_services, tmp_path):
    from lightbox.db import Database

    name = scaled_services.create_database(migrated=False)
    url = f"{scaled_services.base_url}/{name}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTBOX_")}
    env.update(LIGHTBOX_DATABASE_URL=url, LIGHTBOX_DATA_DIR=str(tmp_path),
               LIGHTBOX_ENV="test")
    db = Database(url)
    try:
        assert current_revision(db) is None
        done = subprocess.run([*CLI, "db", "upgrade"], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        head = current_revision(db)
        assert head and done.stdout.strip() == f"database at revision {head}"
        tables = set(inspect(db.engine).get_table_names())
        assert {"teams", "api_keys", "credit_accounts", "ledger_entries",
                "orders", "records", "products", "presets"} <= tables
    finally:
        db.dispose()
        scaled_services.drop_database(name)


def test_two_apis_and_two_workers_settle_every_credit_once(cluster):
    team_id, key = cluster.make_team(credits_=1000)
    apis = [cluster.start_api(), cluster.start_api()]
    workers = [cluster.start_worker(concurrency=1), cluster.start_worker(concurrency=1)]
    clients = [httpx.Client(base_url=f"{api.url}/api/external",
                            headers={"X-Api-Key": key}, timeout=30) for api in apis]

    def register(n: int) -> dict:
        response = clients[n % 2].post("/sceneries/register-ideas", json={
            "preferences": f"warm wooden tabletop, scene {n}", "count": PER_ORDER})
        assert response.status_code == 200, response.text
        return response.json()

    with ThreadPoolExecutor(4) as pool:
        orders = list(pool.map(register, range(ORDERS)))
    ids = sorted(i for order in orders for i in order["createdRecordIds"])
    assert len(ids) == ORDERS * PER_ORDER

    wait_for(lambda: cluster.unfinished(team_id) == 0, timeout=90, interval=0.5)

    records = cluster.records(team_id)
    assert sorted(r.id for r in records) == ids
    assert all(r.status == DONE and r.settled and r.attempts == 1 for r in records)
    assert cluster.consumed_per_record(team_id) == {i: 1 for i in ids}
    ledger = cluster.ledger(team_id)
    assert ledger == {"grant": 1000, "reserve": len(ids) * PRICE,
                      "consume": len(ids) * PRICE}
    summary = cluster.summary(team_id)
    assert (summary.balance, summary.reserved) == (1000 - len(ids) * PRICE, 0)

    # Either API answers for every order, and the media comes from the store.
    for order in orders:
        for client in clients:
            view = client.get(f"/orders/{order['orderId']}").json()
            assert view["status"] == "DONE"
            assert view["creditsConsumed"] == PER_ORDER * PRICE
    listed = clients[1].get("/sceneries").json()["sceneries"]
    assert len(listed) == len(ids)
    url = listed[0]["imageUrl"]
    assert url.startswith(cluster.env["LIGHTBOX_MEDIA_URL"].split("endpoint_url=")[1]
                          .split("&")[0])  # presigned by the store, not /media
    image = Image.open(io.BytesIO(httpx.get(url, timeout=30).content))
    assert image.size[0] >= 512 and image.getextrema()[0][1] > 0

    # Each worker reports its own renders; together, each record once.
    pages = [httpx.get(f"{w.url}/metrics", timeout=5).text for w in workers]
    done = [metric(page, "lightbox_renders_total") for page in pages]
    assert sum(done) == len(ids)
    for process in (*apis, *workers):
        health = httpx.get(f"{process.url}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "ok"
    for client in clients:
        client.close()
