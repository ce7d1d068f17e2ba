"""Real processes on real services: API servers and workers as subprocesses.

``cluster`` gives a fresh scaled-out instance (PostgreSQL database from the shared
template, a Huey queue name of its own on Redis, an S3 prefix on the session's
moto server) and starts ``lightbox serve --workers 0`` and ``lightbox worker``
processes on it, each on a free port, all killed at teardown. The test process
keeps a runtime of its own on the same settings (no consumers) for setting up
teams and checking the books directly in the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from conftest import free_port, test_settings
from sqlalchemy import func, select

from lightbox.accounts import service as accounts
from lightbox.credits import service as credits
from lightbox.credits.models import LedgerEntry
from lightbox.generation.models import INPROGRESS, Record

SECRET = "scale-test-secret-" + "s" * 32
START_TIMEOUT = 60.0
# The CLI through the interpreter running the tests (no reliance on PATH).
CLI = [sys.executable, "-c", "from lightbox.cli import app; app()"]


@dataclass
class Process:
    """One started subprocess: an API server or a worker."""

    kind: str
    popen: subprocess.Popen
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Cluster:
    """A scaled-out instance: its environment, its processes, a runtime to check."""

    env: dict[str, str]
    settings: object
    runtime: object
    workdir: Path
    processes: list[Process] = field(default_factory=list)

    def run_cli(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run([*CLI, *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def start(self, kind: str, args: list[str], *, env: dict | None = None,
              port: int | None = None, command: list[str] | None = None) -> Process:
        log = self.workdir / f"{kind}-{len(self.processes)}.log"
        handle = log.open("w")
        popen = subprocess.Popen(
            [*(command or CLI), *args], env={**self.env, **(env or {})},
            stdout=handle, stderr=subprocess.STDOUT, text=True,
            # Its own process group: a kill reaches nothing of ours.
            start_new_session=True,
        )
        handle.close()
        process = Process(kind=kind, popen=popen, log=log, port=port)
        self.processes.append(process)
        return process

    def start_api(self, **env) -> Process:
        port = free_port()
        process = self.start("api", ["serve", "--workers", "0", "--port", str(port),
                                     "--no-demo"], env=env, port=port)
        wait_healthy(process)
        return process

    def start_worker(self, *, concurrency: int = 1, queue: str = "all",
                     metrics: bool = True, command: list[str] | None = None,
                     env: dict | None = None) -> Process:
        port = free_port() if metrics else None
        args = ["worker", "--concurrency", str(concurrency), "--queue", queue]
        if port:
            args += ["--metrics-port", str(port)]
        process = self.start("worker", args, port=port, command=command, env=env)
        if port:
            wait_healthy(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.alive():
                process.popen.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for process in self.processes:
            try:
                process.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=10)

    # Direct checks in the database ------------------------------------------

    def make_team(self, *, credits_: int) -> tuple[str, str]:
        """A team with ``credits_`` granted and an API key: (team_id, raw key)."""
        with self.runtime.db.session() as session:
            team = accounts.create_team(session, name=f"team-{uuid.uuid4().hex[:8]}")
            if credits_:
                credits.grant(session, team_id=team.id, amount=credits_,
                              note="scale test")
            _key, raw = accounts.create_api_key(session, team_id=team.id,
                                                name="scale", secret_key=SECRET)
            return team.id, raw

    def records(self, team_id: str) -> list[Record]:
        with self.runtime.db.session() as session:
            return list(session.scalars(
                select(Record).where(Record.team_id == team_id)
                .order_by(Record.id)).all())

    def unfinished(self, team_id: str) -> int:
        return sum(r.status == INPROGRESS for r in self.records(team_id))

    def ledger(self, team_id: str) -> dict[str, int]:
        with self.runtime.db.session() as session:
            return dict(session.execute(
                select(LedgerEntry.kind, func.sum(LedgerEntry.amount))
                .where(LedgerEntry.team_id == team_id)
                .group_by(LedgerEntry.kind)).all())

    def consumed_per_record(self, team_id: str) -> dict[str, int]:
        """How many consume entries each record got (exactly-once: all 1)."""
        with self.runtime.db.session() as session:
            return dict(session.execute(
                select(LedgerEntry.record_id, func.count())
                .where(LedgerEntry.team_id == team_id,
                       LedgerEntry.kind == "consume")
                .group_by(LedgerEntry.record_id)).all())

    def summary(self, team_id: str):
        with self.runtime.db.session() as session:
            return credits.summary(session, team_id=team_id)


def wait_healthy(process: Process, *, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not process.alive():
            pytest.fail(f"{process.kind} exited at start:\n{process.output()}")
        try:
            if httpx.get(f"{process.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{process.kind} not healthy in {timeout}s:\n"
                        f"{process.output()}")
        time.sleep(0.2)


def scaled_env(settings, *, extra: dict | None = None) -> dict[str, str]:
    """The environment a process of this instance starts with: settings alone."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("LIGHTBOX_")}
    env.update({
        "LIGHTBOX_ENV": "test",
        "LIGHTBOX_DATA_DIR": str(settings.data_dir),
        "LIGHTBOX_DATABASE_URL": settings.database_url,
        "LIGHTBOX_QUEUE_URL": settings.queue_url,
        "LIGHTBOX_QUEUE_NAME": settings.queue_name,
        "LIGHTBOX_REDIS_URL": settings.redis_url,
        "LIGHTBOX_MEDIA_URL": settings.media_url,
        "LIGHTBOX_SECRET_KEY": settings.secret_key,
        "LIGHTBOX_LEASE_SECONDS": str(settings.lease_seconds),
        "LIGHTBOX_SWEEP_SECONDS": str(settings.sweep_seconds),
        "LIGHTBOX_RATE_LIMIT_PER_MINUTE": str(settings.rate_limit_per_minute),
        "LIGHTBOX_HEAVY_QUEUE": "1" if settings.heavy_queue else "0",
        "LIGHTBOX_LOG_LEVEL": "WARNING",
        "LIGHTBOX_LOG_FORMAT": "console",
    })
    env.update(extra or {})
    return env


@pytest.fixture
def cluster_settings(tmp_path):
    """Settings of the instance; tests may change them before using ``cluster``."""
    return test_settings(tmp_path / "data", secret_key=SECRET, lease_seconds=6,
                         sweep_seconds=1, workers=0)


@pytest.fixture
def cluster(cluster_settings, scaled_services, tmp_path):
    from lightbox.app import prepare
    from lightbox.runtime import build_runtime

    settings = cluster_settings
    tag = uuid.uuid4().hex[:12]
    database = scaled_services.create_database()
    scaled_services.apply(settings, tag=tag, database=database)
    # boto3 in the subprocesses finds the moto credentials in the environment.
    runtime = build_runtime(settings)
    prepare(runtime)
    workdir = tmp_path / "logs"
    workdir.mkdir()
    cluster = Cluster(env=scaled_env(settings), settings=settings, runtime=runtime,
                      workdir=workdir)
    try:
        yield cluster
    finally:
        cluster.stop_all()
        runtime.close()
        from conftest import _forget_queue

        _forget_queue(settings)
        scaled_services.drop_database(database)
