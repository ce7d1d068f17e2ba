"""Structured logging: event names with fields, JSON in production.

A request id is bound to structlog's context variables by the HTTP middleware and
carried by the queue into the tasks the request starts, so one id follows a photo
shoot from registration to its last render.
"""

from __future__ import annotations

import logging
import sys

import structlog

from lightbox.config import Settings

# Field names whose values must never reach a log line.
_SECRET_FIELDS = frozenset(
    {"key", "api_key", "secret", "password", "token", "authorization", "cookie"}
)


def _redact(_logger, _method, event_dict: dict) -> dict:
    for name in event_dict.keys() & _SECRET_FIELDS:
        event_dict[name] = "[redacted]"
    return event_dict


def configure_logging(settings: Settings) -> None:
    json_output = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    renderer = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    level = logging.getLevelName(settings.log_level.upper())

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Looked up at each use, not at configuration: whoever replaces
        # sys.stderr later (a test runner's capture, a daemon) is followed.
        logger_factory=lambda *_args: structlog.PrintLogger(sys.stderr),
        # Not cached, so structlog.testing.capture_logs() sees every logger.
        cache_logger_on_first_use=False,
    )

    # Third-party libraries log through the standard library; keep them quiet and
    # on the same stream.
    logging.basicConfig(stream=sys.stderr, level=max(level, logging.WARNING))
    logging.getLogger("huey").setLevel(logging.WARNING)
