"""The long-lived parts of one Lightbox process, built once from settings.

The API server and ``lightbox worker`` build the same runtime; tests build one per
test on a temporary data directory. Nothing here is a module-level global, so two
runtimes (two instances) can live in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lightbox.accounts.ratelimit import RateLimiter, open_rate_limiter
from lightbox.config import Settings
from lightbox.db import Database
from lightbox.engine.base import Engine, get_engine
from lightbox.generation.queue import RenderQueue, open_queue
from lightbox.media.storage import Storage, open_storage


@dataclass
class Runtime:
    settings: Settings
    db: Database
    storage: Storage
    engine: Engine
    rate_limiter: RateLimiter
    queue: RenderQueue = field(init=False)

    def close(self) -> None:
        self.queue.stop()
        self.db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(
        settings=settings,
        db=Database(settings.resolved_database_url),
        storage=open_storage(settings),
        engine=get_engine(
            settings.engine, cutout_model_path=settings.cutout_model_path or None
        ),
        rate_limiter=open_rate_limiter(settings),
    )
    # The queue's tasks reach the database, storage and engine through the runtime.
    runtime.queue = open_queue(settings, runtime)
    return runtime
