"""One domain error type that carries its HTTP status.

Services raise these; one handler renders ``{"error": message}`` for the API and an
error page for the workspace. Messages are safe to show to the caller.
"""

from __future__ import annotations


class LightboxError(Exception):
    status_code = 500
    default_message = "Internal server error."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class BadRequest(LightboxError):
    status_code = 400
    default_message = "Bad request."


class Unauthorized(LightboxError):
    status_code = 401
    default_message = "Invalid API key."


class InsufficientCredits(LightboxError):
    status_code = 402

    def __init__(self, required: int, available: int) -> None:
        self.required = required
        self.available = available
        super().__init__(
            f"Insufficient credits. Required: {required}, available: {available}."
        )


class Forbidden(LightboxError):
    status_code = 403
    default_message = "Forbidden."


class NotFound(LightboxError):
    status_code = 404
    default_message = "Not found."


class Conflict(LightboxError):
    status_code = 409
    default_message = "Conflict."


class PayloadTooLarge(LightboxError):
    status_code = 413
    default_message = "Upload too large."


class UnsupportedMedia(LightboxError):
    status_code = 415
    default_message = "Not a supported image."


class RateLimited(LightboxError):
    status_code = 429
    default_message = "Too many requests. Please retry after a short delay."

    def __init__(self, retry_after: int = 1) -> None:
        self.retry_after = retry_after
        super().__init__()


class ServiceUnavailable(LightboxError):
    status_code = 503
    default_message = "Service temporarily unavailable. Please retry."
