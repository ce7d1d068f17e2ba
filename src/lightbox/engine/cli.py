"""``lightbox render``: the embedded engine on local files, without the platform.

Mounted by the main CLI; usable alone as ``from lightbox.engine.cli import
render_app``. The output format follows the file name (.png, .jpg/.jpeg, .webp).
An input the engine cannot use prints one line and exits with status 2.
"""

from __future__ import annotations

import functools
from pathlib import Path

import typer

from lightbox.engine.types import EngineError, PackshotOptions, ShootSpec

render_app = typer.Typer(
    help="Render packshots, sceneries, mannequins and photo shoots from local files.",
    no_args_is_help=True,
    add_completion=False,
)

_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}


def _fails_cleanly(command):
    """Turn engine and file errors into one line on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (EngineError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def _engine(cutout_model: Path | None):
    from lightbox.engine.base import get_engine

    return get_engine("embedded",
                      cutout_model_path=str(cutout_model) if cutout_model else None)


def _load(path: Path):
    from lightbox.engine.imageio import load_image

    if not path.is_file():
        raise EngineError(f"no such file: {path}")
    return load_image(path)


def _check_output(path: Path, *, alpha: bool = False) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise EngineError(
            f"output {path.name!r}: use a .png, .jpg, .jpeg or .webp file name"
        )
    if alpha and fmt == "jpeg":
        raise EngineError(f"output {path.name!r}: JPEG has no transparency; use .png")
    return fmt


def _write(path: Path, image, fmt: str) -> None:
    from lightbox.engine import imageio

    encode = {"png": imageio.encode_png, "jpeg": imageio.encode_jpeg,
              "webp": imageio.encode_webp}[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(image))
    typer.echo(f"wrote {path} ({image.shape[1]}x{image.shape[0]})")


def _color(text: str) -> tuple[int, int, int]:
    value = text.strip().lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    try:
        if len(value) != 6:
            raise ValueError
        return tuple(int(value[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore
    except ValueError:
        raise EngineError(f"background {text!r} is not a #rrggbb colour") from None


OutOption = typer.Option(..., "-o", "--output", help="Image file to write.")
SeedOption = typer.Option(0, "--seed", help="Same seed, same image.")
ModelOption = typer.Option(None, "--cutout-model",
                           help="ONNX cutout model (default: the shipped u2netp).")


@render_app.command()
@_fails_cleanly
def packshot(
    input: Path = typer.Argument(..., help="Product photo (or PNG with alpha)."),
    output: Path = OutOption,
    variant: int = typer.Option(0, "--variant"),
    seed: int = SeedOption,
    size: int = typer.Option(2000, "--size", help="Square side in pixels."),
    background: str = typer.Option("#ffffff", "--background"),
    transparent: bool = typer.Option(False, "--transparent"),
    shadow: str = typer.Option("contact", "--shadow",
                               help="contact, reflection or none"),
    cutout_model: Path | None = ModelOption,
) -> None:
    """A trimmed, centred product on a plain background."""
    if shadow not in ("contact", "reflection", "none"):
        raise EngineError(f"--shadow {shadow!r}: use contact, reflection or none")
    if not 64 <= size <= 8000:
        raise EngineError(f"--size {size}: use 64..8000 pixels")
    fmt = _check_output(output, alpha=transparent)
    engine = _engine(cutout_model)
    options = PackshotOptions(size=(size, size), background=_color(background),
                              transparent=transparent, shadow=shadow)  # type: ignore
    image = engine.packshot(engine.cutout(_load(input)), options=options,
                            variant=variant, seed=seed)
    _write(output, image, fmt)


@render_app.command()
@_fails_cleanly
def scenery(
    preferences: str = typer.Argument(..., help='e.g. "sunset beach, warm light"'),
    output: Path = OutOption,
    seed: int = SeedOption,
    width: int = typer.Option(1536, "--width"),
    height: int = typer.Option(1024, "--height"),
) -> None:
    """A background plate drawn from the text."""
    fmt = _check_output(output)
    plate = _engine(None).scenery(preferences, seed=seed, size=(width, height))
    _write(output, plate.image, fmt)


@render_app.command()
@_fails_cleanly
def mannequin(
    preferences: str = typer.Argument(..., help='e.g. "slim matte white, standing"'),
    output: Path = OutOption,
    seed: int = SeedOption,
) -> None:
    """A display mannequin drawn from the text (PNG keeps its transparency)."""
    fmt = _check_output(output)
    figure = _engine(None).mannequin(preferences, seed=seed)
    image = figure.rgba
    if fmt == "jpeg":
        from lightbox.engine.imageio import as_rgb

        image = as_rgb(image)
    _write(output, image, fmt)


@render_app.command()
@_fails_cleanly
def shoot(
    product: Path = typer.Argument(..., help="Product photo (or PNG with alpha)."),
    output: Path = OutOption,
    scenery_file: Path | None = typer.Option(None, "--scenery",
                                                help="Background photo."),
    scenery_text: str = typer.Option("", "--scenery-text",
                                     help="Scenery to draw from text."),
    model_file: Path | None = typer.Option(None, "--model",
                                              help="Photo of a model to dress."),
    mannequin_text: str = typer.Option("", "--mannequin-text",
                                       help="Mannequin to draw from text."),
    industry: str = typer.Option("", "--industry",
                                 help="fashion, jewelry, cosmetics, food, ..."),
    suggestions: str = typer.Option("", "--suggestions"),
    seed: int = SeedOption,
    count: int = typer.Option(1, "--count", help="Images; >1 adds -1, -2 ..."),
    long_side: int = typer.Option(1536, "--long-side"),
    cutout_model: Path | None = ModelOption,
) -> None:
    """Photo-shoot images of a product in a scenery, worn or held where it fits."""
    if scenery_file and scenery_text:
        raise EngineError("use --scenery or --scenery-text, not both")
    if model_file and mannequin_text:
        raise EngineError("use --model or --mannequin-text, not both")
    if not 1 <= count <= 50:
        raise EngineError(f"--count {count}: use 1..50")
    fmt = _check_output(output)
    engine = _engine(cutout_model)
    cutout = engine.cutout(_load(product))

    plate = None
    if scenery_file:
        from lightbox.engine.imageio import as_rgb

        plate = engine.scenery_from_photo(as_rgb(_load(scenery_file)))
    elif scenery_text:
        plate = engine.scenery(scenery_text, seed=seed)
    figure = None
    if model_file:
        figure = engine.figure_from_photo(_load(model_file))
    elif mannequin_text:
        figure = engine.mannequin(mannequin_text, seed=seed)

    for i in range(count):
        spec = ShootSpec(product=cutout, scenery=plate, figure=figure,
                         industry=industry, suggestions=suggestions, seed=seed,
                         variant=i, long_side=long_side)
        path = output if count == 1 else output.with_name(
            f"{output.stem}-{i + 1}{output.suffix}")
        _write(path, engine.shoot(spec).image, fmt)
