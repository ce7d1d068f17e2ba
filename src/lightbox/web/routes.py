"""``router``: every workspace page, at the site root, CSRF-checked as one."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lightbox.web.auth import csrf_protect
from lightbox.web.pages import (
    library,
    orders,
    picker,
    presets,
    products,
    settings,
    signin,
    videos,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
# library last: its /{section} pages would otherwise shadow the fixed paths.
for module in (signin, products, presets, orders, picker, videos, settings,
               library):
    router.include_router(module.router)
