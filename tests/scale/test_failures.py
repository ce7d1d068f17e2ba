"""What a scaled-out instance does when a part of it fails, on real processes.

A worker killed with SIGKILL mid-render, a PostgreSQL connection dropped under a
request, and 100 registrations racing through two API processes for the credits
of ten: in each case the books stay exact.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from conftest import wait_for
from sqlalchemy import event

from lightbox.generation.models import DONE

pytestmark = [pytest.mark.services, pytest.mark.slow]

PRICE = 10  # a scenery (config.Prices)

# ``lightbox worker`` whose engine hangs in every scenery render: the process is
# mid-render for as long as the test needs to kill it.
STALLING_WORKER = [sys.executable, "-c", textwrap.dedent("""
    import time
    import lightbox.runtime as runtime_module

    real_get_engine = runtime_module.get_engine

    class Stalling:
        def __init__(self, inner):
            self.inner = inner
        def __getattr__(self, name):
            return getattr(self.inner, name)
        def scenery(self, *args, **kwargs):
            print("rendering", flush=True)
            time.sleep(600)

    runtime_module.get_engine = lambda *a, **k: Stalling(real_get_engine(*a, **k))
    from lightbox.cli import app
    app()
""")]


def register(client: httpx.Client, count: int, text: str = "linen backdrop"):
    return client.post("/sceneries/register-ideas",
                       json={"preferences": text, "count": count})


def test_a_worker_killed_mid_render_is_finished_once_within_the_lease(cluster):
    team_id, key = cluster.make_team(credits_=1000)
    api = cluster.start_api()
    client = httpx.Client(base_url=f"{api.url}/api/external",
                          headers={"X-Api-Key": key}, timeout=30)
    doomed = cluster.start_worker(concurrency=1, command=STALLING_WORKER)

    response = register(client, 3)
    assert response.status_code == 200, response.text
    ids = response.json()["createdRecordIds"]

    # The stalling worker holds one record's lease; the others wait queued.
    def claimed():
        return [r for r in cluster.records(team_id) if r.lease_token is not None]

    (victim,) = wait_for(claimed, timeout=30)
    wait_for(lambda: "rendering" in doomed.output(), timeout=10)
    os.killpg(doomed.popen.pid, signal.SIGKILL)
    doomed.popen.wait(timeout=10)
    killed_at = time.monotonic()

    cluster.start_worker(concurrency=1)
    wait_for(lambda: cluster.unfinished(team_id) == 0, timeout=60, interval=0.25)
    recovered_in = time.monotonic() - killed_at

    lease = cluster.settings.lease_seconds
    print(f"recovered {recovered_in:.1f} s after the kill (lease {lease} s)")
    # The lease runs out, the next sweep (every second) re-enqueues, one render.
    assert recovered_in < lease + 20, recovered_in
    records = {r.id: r for r in cluster.records(team_id)}
    assert sorted(records) == sorted(ids)
    assert all(r.status == DONE and r.settled for r in records.values())
    assert records[victim.id].attempts == 2
    assert cluster.consumed_per_record(team_id) == {i: 1 for i in ids}
    assert cluster.ledger(team_id) == {"grant": 1000, "reserve": 3 * PRICE,
                                       "consume": 3 * PRICE}
    assert cluster.summary(team_id).balance == 1000 - 3 * PRICE
    client.close()


def test_100_concurrent_registrations_for_credits_of_10(cluster):
    team_id, key = cluster.make_team(credits_=10 * PRICE)
    apis = [cluster.start_api(), cluster.start_api()]
    clients = [httpx.Client(base_url=f"{api.url}/api/external",
                            headers={"X-Api-Key": key}, timeout=60,
                            limits=httpx.Limits(max_connections=50))
               for api in apis]

    def attempt(n: int) -> tuple[int, dict]:
        response = register(clients[n % 2], 1, f"concrete floor {n}")
        return response.status_code, response.json()

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(attempt, range(100)))

    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 10, 402: 90}, statuses
    refusals = {body["error"] for status, body in results if status == 402}
    assert all(message.startswith("Insufficient credits") for message in refusals)
    created = [body["createdRecordIds"][0] for status, body in results
               if status == 200]
    assert len(set(created)) == 10 == len(cluster.records(team_id))
    # Every credit is reserved once: the ledger adds up to the balance granted.
    assert cluster.ledger(team_id) == {"grant": 10 * PRICE, "reserve": 10 * PRICE}
    summary = cluster.summary(team_id)
    assert (summary.balance, summary.reserved, summary.available) == (100, 100, 0)
    for client in clients:
        client.close()


@pytest.mark.parametrize("mode", ["scaled"], indirect=True)
def test_a_dropped_database_connection_is_a_clean_503_then_recovers(
    mode, api, runtime
):
    engine = runtime.db.engine
    url = engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False)
    assert api.client.get("/credits").status_code == 200
    armed = {"shots": 1}

    def kill_own_backend(conn, cursor, statement, parameters, context, many):
        # The server ends this very connection as the request's query is sent.
        if armed["shots"] <= 0 or "credit" not in statement.lower():
            return
        armed["shots"] -= 1
        pid = conn.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    event.listen(engine, "before_cursor_execute", kill_own_backend)
    try:
        dropped = api.client.get("/credits")
    finally:
        event.remove(engine, "before_cursor_execute", kill_own_backend)

    assert armed["shots"] == 0
    assert dropped.status_code == 503
    assert dropped.json() == {"error": "Service temporarily unavailable. Please retry."}
    assert dropped.headers["Retry-After"] == "1"
    assert api.client.get("/credits").json()["available"] == 1000

    # Every connection of the pool dropped between requests: pre-ping replaces
    # them, and the client never notices.
    with psycopg.connect(url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert ended >= 1
    assert api.client.get("/credits").status_code == 200
    created = register(api.client, 2)
    assert created.status_code == 200, created.text
    assert api.client.get("/credits").json()["reserved"] == 2 * PRICE
