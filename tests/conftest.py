"""Shared fixtures: an instance on a temporary data dir, served over real HTTP.

``server`` runs the real app in a real Uvicorn on a free loopback port; API tests
talk to it with httpx exactly as a customer's script would. Test modules import
helpers by bare name (pytest.ini puts tests/ on the path): ``from conftest import
wait_for, require_service``, ``from factories import image_bytes``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from lightbox.config import Settings

REQUIRE_SERVICES = os.environ.get("LIGHTBOX_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get(
    "LIGHTBOX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("LIGHTBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_service(name: str, probe) -> None:
    """Skip (or, in CI, fail) when a service a test needs is not running."""
    try:
        probe()
    except Exception as exc:  # any failure to reach it counts as "not running"
        reason = f"{name} not reachable: {type(exc).__name__}: {exc}"
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason} (LIGHTBOX_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


def test_settings(data_dir: Path, **overrides) -> Settings:
    values = dict(
        env="test",
        data_dir=data_dir,
        secret_key="test-secret-" + "x" * 32,
        workers=2,
        lease_seconds=10,
        sweep_seconds=1,
        rate_limit_per_minute=10_000,
        log_format="console",
        log_level="WARNING",
    )
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # a factory, not a test


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path / "data")


@pytest.fixture
def runtime(settings):
    from lightbox.runtime import build_runtime

    rt = build_runtime(settings)
    yield rt
    rt.close()


@dataclass
class LiveServer:
    url: str
    app: object
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_server(runtime, *, start_workers: bool = True) -> LiveServer:
    from lightbox.app import create_app

    app = create_app(runtime=runtime, start_workers=start_workers)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              daemon=True)
    thread.start()

    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    return LiveServer(url=f"http://127.0.0.1:{port}", app=app, server=server,
                      thread=thread)


@pytest.fixture
def launch():
    """Start more servers (e.g. with other settings); all stop at teardown."""
    started: list[LiveServer] = []

    def _launch(runtime, **kwargs) -> LiveServer:
        live = start_server(runtime, **kwargs)
        started.append(live)
        return live

    yield _launch
    for live in reversed(started):
        live.stop()


@pytest.fixture
def server(runtime, launch) -> LiveServer:
    # Point signed media URLs at this server's real port.
    runtime.settings.base_url = "pending"
    live = launch(runtime)
    runtime.settings.base_url = live.url
    storage = runtime.storage
    if hasattr(storage, "base_url"):
        storage.base_url = live.url
    return live


@dataclass
class TeamClient:
    team_id: str
    key: str
    key_id: str
    client: httpx.Client
    runtime: object = field(repr=False)

    @contextmanager
    def session(self):
        with self.runtime.db.session() as session:
            yield session


@pytest.fixture
def make_team(runtime, server):
    from lightbox.accounts import service as accounts
    from lightbox.credits import service as credits_service

    clients: list[httpx.Client] = []
    counter = iter(range(10_000))

    def _make(credits: int = 1000, scopes=None, name: str | None = None) -> TeamClient:
        with runtime.db.session() as session:
            team = accounts.create_team(session, name=name or f"team-{next(counter)}")
            if credits:
                credits_service.grant(session, team_id=team.id, amount=credits,
                              note="test grant")
            kwargs = {"scopes": scopes} if scopes is not None else {}
            key, raw = accounts.create_api_key(
                session, team_id=team.id, name="test",
                secret_key=runtime.settings.secret_key, **kwargs
            )
            team_id, key_id = team.id, key.id

        client = httpx.Client(base_url=f"{server.url}/api/external",
                              headers={"X-Api-Key": raw}, timeout=30)
        clients.append(client)
        return TeamClient(team_id=team_id, key=raw, key_id=key_id, client=client,
                          runtime=runtime)

    yield _make
    for client in clients:
        client.close()


@pytest.fixture
def api(make_team) -> TeamClient:
    return make_team()


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
