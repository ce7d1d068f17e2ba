"""Request and response shapes of the catalog endpoints (API.md, Products/Presets)."""

from __future__ import annotations

from pydantic import BaseModel, Field

PRODUCT_STATUS_DOC = "Always UPLOADED: products are uploaded, not generated."


class ErrorOut(BaseModel):
    error: str


UPLOAD_ERRORS = {
    413: {"model": ErrorOut,
          "description": "The file has too many bytes or too many pixels."},
    415: {"model": ErrorOut,
          "description": "Not an image, an unsupported format, truncated or corrupt."},
}


class ProductOut(BaseModel):
    id: str
    name: str
    thumbnail: str = Field(description="Signed, expiring URL of a web-sized JPEG.")
    status: str = Field(description=PRODUCT_STATUS_DOC)
    createdAt: str
    # Lightbox extras: the original upload and its oriented size.
    imageUrl: str = Field(description="Signed URL of the file as uploaded.")
    width: int
    height: int


class ProductList(BaseModel):
    products: list[ProductOut]
    count: int
    nextCursor: str | None = Field(
        None, description="Present when `limit` cut the list; pass it as `cursor`."
    )


class ProductCreated(BaseModel):
    product: ProductOut


class Success(BaseModel):
    success: bool = True


class PresetOut(BaseModel):
    id: str
    name: str
    guidelines: str = Field(description="The text that steers the renderer.")
    quantityGuidelines: str
    qualityGuidelines: str
    createdAt: str
    # Lightbox extras.
    system: bool = Field(description="Shipped with the server; read-only.")
    coverUrl: str | None = None
    galleryUrls: list[str] = Field(default_factory=list)


class PresetList(BaseModel):
    presets: list[PresetOut]
    count: int


class PresetSaved(BaseModel):
    success: bool = True
    presetId: str


class PresetUpdate(BaseModel):
    """``POST /presets/update-preset``: only the fields given change."""

    presetId: str
    name: str | None = None
    quantityGuidelines: str | None = None
    qualityGuidelines: str | None = None
