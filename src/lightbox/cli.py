"""The ``lightbox`` command: serve, worker, database, administration, rendering.

Every command works on one instance, chosen by ``--data-dir`` or
``LIGHTBOX_DATA_DIR`` (and the other ``LIGHTBOX_*`` settings). Output meant for
scripts is tab-separated, and a created secret is printed alone on its last line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from lightbox.accounts.cli import keys_app, teams_app
from lightbox.catalog.cli import products_app
from lightbox.cli_support import fail, get_settings, open_database
from lightbox.credits.cli import credits_app
from lightbox.engine.cli import render_app
from lightbox.generation.cli import models_app, sceneries_app

app = typer.Typer(
    help="Lightbox: a self-hosted AI product-photo studio.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)

app.add_typer(teams_app, name="teams")
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
app.add_typer(products_app, name="products")
app.add_typer(models_app, name="models")
app.add_typer(sceneries_app, name="sceneries")
app.add_typer(db_app, name="db")
app.add_typer(render_app, name="render")


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Annotated[
        Optional[Path],
        typer.Option("--data-dir", envvar="LIGHTBOX_DATA_DIR",
                     help="The instance's data directory (database, queue, media)."),
    ] = None,
) -> None:
    ctx.ensure_object(dict)
    # Service log lines go to stderr, so stdout stays parseable.
    from lightbox.logs import configure_logging

    configure_logging(get_settings(ctx))


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        Optional[int],
        typer.Option(help="In-process render threads (0: render elsewhere)."),
    ] = None,
    demo: Annotated[
        bool, typer.Option(help="Create the demo team on a fresh instance.")
    ] = True,
) -> None:
    """Run the API, the workspace and (by default) the render workers."""
    import uvicorn

    from lightbox.app import create_app, prepare
    from lightbox.logs import configure_logging
    from lightbox.runtime import build_runtime

    settings = get_settings(ctx)
    if workers is not None:
        settings.workers = workers
    if "base_url" not in settings.model_fields_set:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        settings.base_url = f"http://{shown}:{port}"
    configure_logging(settings)

    runtime = build_runtime(settings)
    try:
        prepare(runtime)
        if demo:
            from lightbox.demo import ensure_demo

            _print_demo(ensure_demo(runtime), settings.base_url)
        uvicorn.run(create_app(runtime=runtime), host=host, port=port,
                    log_level="warning", timeout_graceful_shutdown=10)
    finally:
        runtime.close()


def _print_demo(info, base_url: str) -> None:
    typer.echo(f"Lightbox is starting at {base_url}")
    typer.echo(f"  workspace: {base_url}/")
    typer.echo(f"  API docs:  {base_url}/docs")
    typer.echo(f"  demo team: {info.team_name} ({info.team_id}), "
               f"{info.available} credits available")
    typer.echo("  demo API key (also in the data dir, file demo-api-key):")
    typer.echo(info.api_key)


@app.command()
def worker(
    ctx: typer.Context,
    concurrency: Annotated[int, typer.Option(min=1, help="Render threads.")] = 2,
    queue: Annotated[
        str,
        typer.Option(help="Queue to drain: default, heavy (videos and reels, with "
                          "LIGHTBOX_HEAVY_QUEUE=1) or all."),
    ] = "all",
    metrics_port: Annotated[
        Optional[int],
        typer.Option(help="Serve /metrics and /healthz on this port (0: none)."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Interface for --metrics-port.")
    ] = "127.0.0.1",
) -> None:
    """Run render workers only, for a queue shared by several machines."""
    from lightbox.app import prepare
    from lightbox.logs import configure_logging
    from lightbox.runtime import build_runtime

    settings = get_settings(ctx)
    configure_logging(settings)
    runtime = build_runtime(settings)
    probes = None
    try:
        try:
            runtime.queue.select(queue)
        except ValueError as exc:
            fail(str(exc))
        prepare(runtime)
        if metrics_port:
            probes = serve_probes(runtime, host=metrics_host, port=metrics_port)
        runtime.queue.run_worker(concurrency, queues=queue)
    finally:
        if probes is not None:
            probes.shutdown()
        runtime.close()


def serve_probes(runtime, *, host: str, port: int):
    """/metrics and /healthz for a worker process, on a daemon thread.

    The same answers as the API's: Prometheus text from this process's registry;
    ``{"status": "ok", "queueDepth": n}`` or a 503 when the database or the
    queue cannot be reached.
    """
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import structlog
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from sqlalchemy import text

    from lightbox import metrics

    log = structlog.get_logger("lightbox.worker")

    class Probes(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                try:
                    metrics.queue_depth.set(runtime.queue.depth())
                except Exception:  # noqa: BLE001 (the sweeper's last sample stays)
                    log.warning("metrics.queue_depth_unavailable")
                self._reply(200, CONTENT_TYPE_LATEST, generate_latest())
            elif path == "/healthz":
                try:
                    with runtime.db.engine.connect() as conn:
                        conn.execute(text("SELECT 1"))
                    body, status = {"status": "ok",
                                    "queueDepth": runtime.queue.depth()}, 200
                except Exception as exc:  # noqa: BLE001 (a probe reports)
                    log.warning("health.failed", error=type(exc).__name__)
                    body, status = {"status": "unavailable"}, 503
                self._reply(status, "application/json", json.dumps(body).encode())
            else:
                self._reply(404, "application/json", b'{"error": "Not Found"}')

        def _reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass  # probes every few seconds would drown the worker's log

    server = ThreadingHTTPServer((host, port), Probes)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="lightbox-probes",
                     daemon=True).start()
    return server


@app.command()
def demo(ctx: typer.Context) -> None:
    """Create the demo team if missing and print its API key."""
    from lightbox.app import prepare
    from lightbox.demo import ensure_demo
    from lightbox.runtime import build_runtime

    settings = get_settings(ctx)
    runtime = build_runtime(settings)
    try:
        prepare(runtime)
        _print_demo(ensure_demo(runtime), settings.base_url)
    finally:
        runtime.close()


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration (the server also does this at start)."""
    from lightbox.migrate import current_revision

    database = open_database(ctx)
    typer.echo(f"database at revision {current_revision(database)}")
