"""The demo team a fresh ``lightbox serve`` starts with.

Everything is made through the same services a customer uses: the team, its
credits and key, three sample products, and one mannequin and one scenery
generated (and paid for) like any order, rendered on the spot and approved.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import structlog

from lightbox.accounts import service as accounts
from lightbox.catalog import service as catalog
from lightbox.credits import service as credits
from lightbox.engine import imageio
from lightbox.errors import NotFound
from lightbox.generation import service as generation
from lightbox.generation import tasks
from lightbox.generation.schemas import IdeasRequest
from lightbox.media.uploads import validate_image
from lightbox.runtime import Runtime
from lightbox.samples import SAMPLES

log = structlog.get_logger(__name__)

TEAM_NAME = "Demo Studio"
CREDITS = 10_000
KEY_FILE = "demo-api-key"
MANNEQUIN = "slim female mannequin, matte white, standing"
SCENERY = "warm oak table top, soft window light, bright airy"


@dataclass(frozen=True)
class DemoInfo:
    team_id: str
    team_name: str
    api_key: str
    available: int


class _Collect:
    """Stands in for the queue: the demo renders its records itself, right away."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def enqueue(self, record_id: str, *, request_id: str | None = None) -> None:
        self.ids.append(record_id)


def ensure_demo(runtime: Runtime) -> DemoInfo:
    """Create the demo team on a fresh instance; on later starts, just describe it."""
    settings = runtime.settings
    key_path = settings.data_dir / KEY_FILE

    with runtime.db.session() as session:
        try:
            team = accounts.find_team(session, TEAM_NAME)
            fresh = False
        except NotFound:
            team = accounts.create_team(session, name=TEAM_NAME)
            credits.grant(session, team_id=team.id, amount=CREDITS,
                          note="demo team")
            fresh = True
        team_id = team.id

    if fresh or not key_path.exists():
        with runtime.db.session() as session:
            _, raw_key = accounts.create_api_key(
                session, team_id=team_id, name="demo",
                secret_key=settings.secret_key,
            )
        # The key file is for the person running the demo; keep it private.
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(raw_key + "\n")

    if fresh:
        _add_samples(runtime, team_id)
        log.info("demo.created", team_id=team_id)

    with runtime.db.session() as session:
        available = credits.summary(session, team_id=team_id).available
    return DemoInfo(team_id=team_id, team_name=TEAM_NAME,
                    api_key=key_path.read_text().strip(), available=available)


def _add_samples(runtime: Runtime, team_id: str) -> None:
    settings = runtime.settings
    with runtime.db.session() as session:
        for name, draw in SAMPLES.items():
            upload = validate_image(imageio.encode_png(draw()), field="file",
                                    max_pixels=settings.max_upload_pixels,
                                    filename=f"{name}.png")
            catalog.add_product(session, runtime.storage, team_id=team_id,
                                upload=upload, name=name)

    queue = _Collect()
    with runtime.db.session() as session:
        for kind, preferences, price in (
            ("model", MANNEQUIN, settings.prices.model),
            ("scenery", SCENERY, settings.prices.scenery),
        ):
            generation.register(
                session, team_id=team_id, kind=kind,
                body=IdeasRequest(preferences=preferences, count=1),
                price_each=price, queue=queue,
            )

    for record_id in queue.ids:
        tasks.render_record(runtime, record_id)
    with runtime.db.session() as session:
        for record_id in queue.ids:
            generation.vote(session, team_id=team_id, record_id=record_id,
                            voting="APPROVED")
