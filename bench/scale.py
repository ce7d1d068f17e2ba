"""Scale-out benchmark: renders per worker process, requests per API process.

    python bench/scale.py [--renders 8] [--kind image] [--seconds 6] [--repeats 3]

Every process is a real ``lightbox`` subprocess configured by environment alone,
as in docs/scaling.md: ``lightbox serve --workers 0`` for API processes and
``lightbox worker`` for render workers, on PostgreSQL + Redis + S3 (a moto
server this script starts) or on the embedded SQLite defaults.

- renders/s: one order of ``--renders`` records registered while 1 (then 2)
  idle ``lightbox worker --concurrency 1`` processes wait; timed from the
  request to the last record DONE, as a client polling the order sees it.
- requests/s: ``--clients`` client threads hammer one endpoint for
  ``--seconds`` through 1 (then 2) API processes, round-robin: GET
  /image-picker (a team with 200 records, first page of 20) and POST
  /image-picker/register-ideas (count 1, no worker running).

Medians of ``--repeats`` runs, and the 2-process / 1-process ratio. Needs
PostgreSQL and Redis at LIGHTBOX_TEST_POSTGRES_URL / LIGHTBOX_TEST_REDIS_URL
(the test suite's defaults).
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "tests"))  # factories: drawn products

POSTGRES_URL = os.environ.get(
    "LIGHTBOX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("LIGHTBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLI = [sys.executable, "-c", "from lightbox.cli import app; app()"]
SECRET = "bench-secret-" + "x" * 32
BUCKET = "lightbox-bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    """moto's S3 in this process, started once for every PostgreSQL instance."""

    def __init__(self) -> None:
        import logging

        import boto3
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(name, "bench")
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port,
                                         verbose=False)
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1"
                     ).create_bucket(Bucket=BUCKET)

    def stop(self) -> None:
        self.server.stop()


class Instance:
    """One Lightbox instance and the processes serving it."""

    def __init__(self, backend: str, workdir: Path, s3: S3Server | None) -> None:
        self.backend = backend
        self.tag = uuid.uuid4().hex[:10]
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("LIGHTBOX_")}
        self.env.update({
            "LIGHTBOX_ENV": "test", "LIGHTBOX_DATA_DIR": str(workdir / "data"),
            "LIGHTBOX_SECRET_KEY": SECRET, "LIGHTBOX_LOG_LEVEL": "WARNING",
            "LIGHTBOX_LOG_FORMAT": "console", "LIGHTBOX_SWEEP_SECONDS": "5",
            "LIGHTBOX_RATE_LIMIT_PER_MINUTE": "100000000",
        })
        self.database = None
        if backend == "postgresql":
            import psycopg

            self.database = f"lb_bench_{self.tag}"
            with psycopg.connect(self._admin(), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.database}"')
            self.env.update({
                "LIGHTBOX_DATABASE_URL":
                    f"{POSTGRES_URL.rpartition('/')[0]}/{self.database}",
                "LIGHTBOX_QUEUE_URL": REDIS_URL,
                "LIGHTBOX_QUEUE_NAME": f"lightbox-bench-{self.tag}",
                "LIGHTBOX_REDIS_URL": REDIS_URL,
                "LIGHTBOX_MEDIA_URL": f"s3://{BUCKET}/{self.tag}?endpoint_url="
                                      f"{s3.endpoint}&region=us-east-1&presign=1",
            })
        self.processes: list[subprocess.Popen] = []
        self.logs = workdir
        self.cli("db", "upgrade")

    @staticmethod
    def _admin() -> str:
        return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)

    def cli(self, *args: str) -> str:
        done = subprocess.run([*CLI, *args], env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)
        if done.returncode:
            raise RuntimeError(f"lightbox {' '.join(args)}: {done.stderr[-2000:]}")
        return done.stdout

    def start(self, *args: str) -> str:
        """Start a process with a health port; returns its base URL once healthy."""
        port = free_port()
        if args[0] == "serve":
            args = (*args, "--port", str(port), "--no-demo")
        else:
            args = (*args, "--metrics-port", str(port))
        log = (self.logs / f"{args[0]}-{len(self.processes)}.log").open("w")
        proc = subprocess.Popen([*CLI, *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited; see {log.name}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not become healthy")
            time.sleep(0.2)

    def stop_processes(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes = []

    def close(self) -> None:
        self.stop_processes()
        if self.database:
            import psycopg
            from huey import RedisHuey

            RedisHuey(self.env["LIGHTBOX_QUEUE_NAME"], url=REDIS_URL).flush()
            with psycopg.connect(self._admin(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def team(self, credits: int) -> str:
        """A new team with ``credits``; returns its API key."""
        name = f"bench-{uuid.uuid4().hex[:8]}"
        self.cli("teams", "create", name, "--credits", str(credits))
        return self.cli("keys", "create", "--team", name).strip().splitlines()[-1]


def client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=f"{url}/api/external", headers={"X-Api-Key": key},
                        timeout=60)


def add_product(api: httpx.Client) -> str:
    from factories import image_bytes

    response = api.post("/products", data={"name": "Bottle"}, files={
        "file": ("p.png", image_bytes("PNG", size=(600, 600), alpha=True),
                 "image/png")})
    response.raise_for_status()
    return response.json()["product"]["id"]


def register_body(kind: str, product_id: str, count: int) -> tuple[str, dict]:
    if kind == "scenery":
        return "/sceneries/register-ideas", {"preferences": "warm oak tabletop",
                                             "count": count}
    if kind == "packshot":
        return "/packshots/register-ideas", {"config": {"product": {"id": product_id}},
                                             "count": count}
    return "/image-picker/register-ideas", {
        "config": {"product": {"id": product_id}}, "count": count}


# Renders per second ----------------------------------------------------------------


def bench_renders(instance: Instance, *, workers: int, renders: int, kind: str,
                  repeats: int) -> list[float]:
    """Renders/s for one order of ``renders`` records, ``repeats`` times."""
    api_url = instance.start("serve", "--workers", "0")
    key = instance.team(10_000_000)
    with client(api_url, key) as api:
        product_id = add_product(api)
        # Warm the product's cutout so every run renders the same work.
        path, body = register_body(kind, product_id, 1)
        for _ in range(workers):
            instance.start("worker", "--concurrency", "1")
        warm = api.post(path, json=body).json()["orderId"]
        wait_order(api, warm)

        rates = []
        for _ in range(repeats):
            path, body = register_body(kind, product_id, renders)
            started = time.perf_counter()
            response = api.post(path, json=body)
            response.raise_for_status()
            wait_order(api, response.json()["orderId"])
            rates.append(renders / (time.perf_counter() - started))
    instance.stop_processes()
    return rates


def wait_order(api: httpx.Client, order_id: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = api.get(f"/orders/{order_id}").json()["status"]
        if status != "INPROGRESS":
            if status != "DONE":
                raise RuntimeError(f"order {order_id} ended {status}")
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"order {order_id} not done in {timeout}s")
        time.sleep(0.05)


# Requests per second ---------------------------------------------------------------


def hammer(urls: list[str], key: str, call, *, clients: int,
           seconds: float) -> float:
    """Requests/s completed by ``clients`` threads calling ``call`` round-robin."""
    done = [0] * clients
    failures: list[str] = []
    stop = time.perf_counter() + seconds

    def loop(n: int) -> None:
        with client(urls[n % len(urls)], key) as api:
            while time.perf_counter() < stop:
                response = call(api)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    return
                done[n] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"request failed: {failures[0]}")
    return sum(done) / (time.perf_counter() - started)


def bench_requests(instance: Instance, *, apis: int, clients: int, seconds: float,
                   repeats: int) -> dict[str, list[float]]:
    urls = [instance.start("serve", "--workers", "0") for _ in range(apis)]
    key = instance.team(1_000_000_000)
    with client(urls[0], key) as api:
        product_id = add_product(api)
        path, body = register_body("image", product_id, 20)
        for _ in range(10):  # 200 records to list
            api.post(path, json=body).raise_for_status()
    path, body = register_body("image", product_id, 1)

    calls = {
        "GET /image-picker": lambda api: api.get("/image-picker",
                                                 params={"limit": 20}),
        "POST register-ideas": lambda api: api.post(path, json=body),
    }
    results: dict[str, list[float]] = {name: [] for name in calls}
    for _, (name, call) in itertools.product(range(repeats), calls.items()):
        results[name].append(hammer(urls, key, call, clients=clients,
                                    seconds=seconds))
    instance.stop_processes()
    return results


# Report --------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=8)
    parser.add_argument("--kind", default="image",
                        choices=["image", "packshot", "scenery"])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-renders", action="store_true")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at start")
    s3 = S3Server()
    rows: list[tuple[str, float, float]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="lightbox-bench-") as tmp:
            root = Path(tmp)
            if not args.skip_renders:
                per = {}
                for workers in (1, 2):
                    instance = Instance("postgresql", root / f"r{workers}", s3)
                    try:
                        per[workers] = statistics.median(bench_renders(
                            instance, workers=workers, renders=args.renders,
                            kind=args.kind, repeats=args.repeats))
                    finally:
                        instance.close()
                    print(f"  {args.kind} renders/s, {workers} worker process(es): "
                          f"{per[workers]:.2f}", flush=True)
                rows.append((f"{args.kind} renders/s (PostgreSQL+Redis+S3)",
                             per[1], per[2]))

            for backend in ("postgresql", "sqlite"):
                per_api: dict[int, dict[str, list[float]]] = {}
                for apis in (1, 2):
                    instance = Instance(backend, root / f"{backend}{apis}", s3)
                    try:
                        per_api[apis] = bench_requests(
                            instance, apis=apis, clients=args.clients,
                            seconds=args.seconds, repeats=args.repeats)
                    finally:
                        instance.close()
                    for name, values in per_api[apis].items():
                        print(f"  {backend} {name}, {apis} API process(es): "
                              f"{statistics.median(values):.0f} req/s", flush=True)
                for name in per_api[1]:
                    rows.append((f"{name} req/s ({backend})",
                                 statistics.median(per_api[1][name]),
                                 statistics.median(per_api[2][name])))
    finally:
        s3.stop()

    print(f"\nmedians of {args.repeats} runs; load average now "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'measure':<52}{'1 process':>11}{'2 processes':>13}{'ratio':>8}")
    for name, one, two in rows:
        print(f"{name:<52}{one:>11.2f}{two:>13.2f}{two / one:>8.2f}")


if __name__ == "__main__":
    main()
