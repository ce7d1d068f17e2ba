"""Procedural display mannequins with known body keypoints.

The body is a set of simple solids (tapered capsules for limbs and neck, an
ellipsoid head, a lofted torso whose width follows shoulder, chest, waist and
hip measurements). Each solid gives, per pixel, a signed distance to its
outline and a height towards the camera; their union is a 2.5-D height field.
Normals come from the height field's gradient, so Lambert, specular, an
environment reflection for chrome, ambient occlusion (where the surface sits
below its neighbourhood) and a rim light all follow the real shape. Shading
runs at half size; the alpha comes from the signed distance at full size, so
edges are anti-aliased and sharp.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from lightbox.engine.textures import blur, fbm
from lightbox.engine.types import RGB, EngineError, Figure, Light
from lightbox.engine.words import named_color, tokens

_SEED_MIX = 0x3A22E  # keeps mannequin randomness apart from other seeded parts

# A soft box at the upper left, the default key for a figure on its own.
_STUDIO_KEY = Light(azimuth=45.0, elevation=48.0, softness=0.3,
                    color=(255, 255, 255))

_SKIN: dict[str, RGB] = {
    "fair": (240, 216, 198), "light": (230, 194, 166), "medium": (200, 152, 114),
    "olive": (184, 148, 106), "tan": (182, 132, 92), "brown": (140, 96, 66),
    "dark": (96, 64, 44), "ebony": (62, 42, 32),
}


@dataclass(frozen=True)
class Finish:
    albedo: RGB
    specular: float  # strength of the highlight
    shininess: float  # Blinn-Phong exponent: larger is a tighter highlight
    reflect: float  # mix of the studio environment (chrome = 1)
    texture: str = ""  # "wood" or "linen" modulate the albedo


_FINISHES: dict[str, Finish] = {
    "matte_white": Finish((236, 233, 228), 0.10, 12, 0.0),
    "glossy_white": Finish((240, 238, 235), 0.55, 70, 0.08),
    "glossy_black": Finish((26, 26, 28), 0.85, 60, 0.12),
    "matte_black": Finish((34, 34, 36), 0.12, 14, 0.0),
    "chrome": Finish((210, 212, 218), 0.9, 120, 0.92),
    "gold": Finish((222, 180, 100), 0.9, 90, 0.85),
    "wood": Finish((188, 142, 98), 0.22, 30, 0.0, "wood"),
    "linen": Finish((214, 200, 178), 0.03, 8, 0.0, "linen"),
    "black_fabric": Finish((40, 38, 38), 0.05, 8, 0.0, "linen"),
}


# The dress-form stand and neck cap: dark lacquered metal.
_STAND = Finish((48, 46, 46), 0.6, 50, 0.25)


@dataclass(frozen=True)
class Build:
    """Half-widths and radii in units of the figure's height."""

    female: bool = True
    shoulders: float = 0.112
    chest: float = 0.092
    waist: float = 0.066
    hips: float = 0.102
    limb: float = 1.0  # scales arm and leg thickness
    height: float = 0.9  # fraction of the canvas height the full figure fills


def _parse(preferences: str) -> tuple[Build, str, str, Finish, bool]:
    """Build, pose, finish name, finish and whether it is a torso form."""
    words = set(tokens(preferences or ""))
    male = bool(words & {"male", "man", "men", "masculine", "menswear", "boy"})
    build = Build(female=not male)
    if male:
        build = replace(build, shoulders=0.128, chest=0.1, waist=0.084, hips=0.092,
                        limb=1.12)
    if words & {"slim", "slender", "thin", "skinny", "lean"}:
        build = replace(build, shoulders=build.shoulders * 0.93,
                        chest=build.chest * 0.9, waist=build.waist * 0.86,
                        hips=build.hips * 0.88, limb=build.limb * 0.86)
    if words & {"curvy", "plus", "voluptuous", "full"}:
        build = replace(build, chest=build.chest * 1.12, waist=build.waist * 1.12,
                        hips=build.hips * 1.22, limb=build.limb * 1.08)
    if words & {"broad", "muscular", "strong"}:
        build = replace(build, shoulders=build.shoulders * 1.16,
                        chest=build.chest * 1.12, limb=build.limb * 1.12)
    if words & {"athletic", "sporty", "fit"}:
        build = replace(build, shoulders=build.shoulders * 1.07,
                        waist=build.waist * 0.95, limb=build.limb * 1.06)
    if words & {"petite", "small", "short"}:
        build = replace(build, height=0.8)
    if words & {"tall"}:
        build = replace(build, height=0.95, limb=build.limb * 0.95)

    pose = "standing"
    for word, name in (("hand_on_hip", "hand_on_hip"), ("akimbo", "hand_on_hip"),
                       ("walking", "walking"), ("walk", "walking"),
                       ("stride", "walking"), ("arms_crossed", "arms_crossed")):
        if word in words:
            pose = name
            break

    torso = bool(words & {"torso", "bust", "dress_form", "form", "dressform"})
    name = "linen" if torso else "matte_white"
    glossy = bool(words & {"glossy", "gloss", "shiny", "lacquer", "lacquered"})
    if "white" in words:
        name = "glossy_white" if glossy else "matte_white"
    if "black" in words:
        name = ("black_fabric" if torso and not glossy
                else "glossy_black" if glossy or not words & {"matte", "matt"}
                else "matte_black")
    if words & {"chrome", "silver", "metal", "metallic", "mirror"}:
        name = "chrome"
    if words & {"gold", "golden", "brass"}:
        name = "gold"
    if words & {"wood", "wooden", "oak", "walnut"}:
        name = "wood"
    if words & {"linen", "fabric", "cloth", "canvas"}:
        name = "black_fabric" if "black" in words else "linen"
    finish = _FINISHES[name]

    skin = [w for w in tokens(preferences or "") if w in _SKIN]
    if skin and (words & {"skin", "tone", "skinned", "complexion"} or name ==
                 "matte_white" and not words & {"white"}):
        name = "skin_" + skin[-1]
        finish = Finish(_SKIN[skin[-1]], 0.22, 28, 0.0)
    elif name in ("matte_white",) and not words & {"white"}:
        # A colour named for the mannequin itself paints it in a satin finish.
        named = [named_color(w) for w in tokens(preferences or "")]
        named = [c for c in named if c is not None]
        if named:
            name = "painted"
            finish = Finish(named[-1], 0.35, 40, 0.03)
    return build, pose, name, finish, torso


class _Canvas:
    """Union of solids: min signed distance and max height, in working pixels."""

    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.sdf = np.full((h, w), 1e4, np.float32)
        self.z = np.zeros((h, w), np.float32)
        self.tag = np.zeros((h, w), np.uint8)  # which finish: 0 body, 1 stand

    def _window(self, x0, y0, x1, y1):
        xa, ya = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        xb, yb = min(self.w, int(np.ceil(x1)) + 1), min(self.h, int(np.ceil(y1)) + 1)
        if xa >= xb or ya >= yb:
            return None
        yy, xx = np.mgrid[ya:yb, xa:xb].astype(np.float32)
        return (slice(ya, yb), slice(xa, xb)), xx, yy

    def _merge(self, sl, sdf, z, tag=0):
        wins = (sdf < 0.5) & ((z >= self.z[sl]) | (self.sdf[sl] >= 0.5))
        self.z[sl] = np.where(wins, z, self.z[sl])
        self.tag[sl] = np.where(wins, tag, self.tag[sl])
        self.sdf[sl] = np.minimum(self.sdf[sl], sdf)

    def capsule(self, a, b, ra, rb, *, z0=0.0, depth=1.0, tag=0):
        """A tapered capsule from ``a`` (radius ``ra``) to ``b`` (radius ``rb``)."""
        r = max(ra, rb)
        win = self._window(min(a[0], b[0]) - r - 2, min(a[1], b[1]) - r - 2,
                           max(a[0], b[0]) + r + 2, max(a[1], b[1]) + r + 2)
        if win is None:
            return
        sl, xx, yy = win
        ab = np.subtract(b, a).astype(np.float32)
        t = ((xx - a[0]) * ab[0] + (yy - a[1]) * ab[1]) / max(float(ab @ ab), 1e-6)
        t = np.clip(t, 0, 1)
        rad = ra + (rb - ra) * t
        d = np.hypot(xx - (a[0] + t * ab[0]), yy - (a[1] + t * ab[1]))
        z = z0 + depth * np.sqrt(np.clip(rad * rad - d * d, 0, None))
        self._merge(sl, d - rad, z, tag)

    def ellipsoid(self, c, rx, ry, rz, *, angle=0.0, z0=0.0, tag=0):
        r = max(rx, ry)
        win = self._window(c[0] - r - 2, c[1] - r - 2, c[0] + r + 2, c[1] + r + 2)
        if win is None:
            return
        sl, xx, yy = win
        ca, sa = np.cos(angle), np.sin(angle)
        u = ((xx - c[0]) * ca + (yy - c[1]) * sa) / rx
        v = (-(xx - c[0]) * sa + (yy - c[1]) * ca) / ry
        q = np.sqrt(u * u + v * v)
        z = z0 + rz * np.sqrt(np.clip(1 - q * q, 0, None))
        self._merge(sl, (q - 1) * min(rx, ry), z, tag)

    def bump(self, c, rx, ry, rz):
        """Raise the surface smoothly (a bust, a shoulder muscle) without
        changing the outline, so it blends instead of meeting at a crease."""
        win = self._window(c[0] - rx, c[1] - ry, c[0] + rx, c[1] + ry)
        if win is None:
            return
        sl, xx, yy = win
        q = ((xx - c[0]) / rx) ** 2 + ((yy - c[1]) / ry) ** 2
        lift = rz * np.clip(1 - q, 0, 1) ** 2
        self.z[sl] += np.where(self.sdf[sl] < 0, lift, 0)

    def loft(self, ys, half_widths, depths, centres, *, y_top, y_bottom,
             round_bottom=0.0):
        """A body whose cross-section at row y is an ellipse of the given sizes.

        The profiles are given at a few heights and smoothed between them, so
        shoulder, chest, waist and hips blend like a sculpted form.
        """
        win = self._window(min(centres) - max(half_widths) - 2, y_top - 2,
                           max(centres) + max(half_widths) + 2, y_bottom + 2)
        if win is None:
            return
        sl, xx, yy = win
        rows = yy[:, 0]
        k = max(3, int(len(rows) / 14) * 2 + 1)

        def profile(values):
            p = np.interp(rows, ys, values).astype(np.float32)[:, None]
            return cv2.GaussianBlur(p, (1, k), 0)[:, 0][:, None]

        hw, dp, cx = profile(half_widths), profile(depths), profile(centres)
        dx = np.abs(xx - cx)
        # The bottom edge rises towards the sides by ``round_bottom`` pixels, so
        # the cut between the legs is a curve and not a straight brief line.
        bottom = y_bottom - round_bottom * np.clip(dx / np.maximum(hw, 1e-3), 0, 1) ** 2
        sdf = np.maximum.reduce([dx - hw, y_top - yy, yy - bottom])
        z = dp * np.sqrt(np.clip(1 - (dx / np.maximum(hw, 1e-3)) ** 2, 0, None))
        self._merge(sl, sdf, z)


def _body(canvas: _Canvas, build: Build, pose: str, torso_only: bool,
          rng: np.random.Generator, scale: float, origin: tuple[float, float]):
    """Draw the figure; return keypoints in working pixels."""
    ox, oy = origin

    def p(x: float, y: float) -> tuple[float, float]:
        return (ox + x * scale, oy + y * scale)

    def s(v: float) -> float:
        return v * scale

    b = build

    def jitter(a: float) -> float:
        return float(rng.uniform(-a, a))

    sway = jitter(0.006) if pose != "walking" else 0.0
    shoulder_y, chest_y = 0.19, 0.265
    waist_y, hip_y, crotch_y = 0.385, 0.485, 0.53
    arm_r = 0.03 * b.limb
    neck_r = 0.024 if b.female else 0.028

    # Head and neck.
    neck_top = 0.15 if torso_only else 0.105
    canvas.capsule(p(0, neck_top), p(0, 0.19), s(neck_r), s(neck_r * 1.15),
                   z0=s(-0.004))
    if not torso_only:
        canvas.ellipsoid(p(jitter(0.004), 0.064), s(0.046 if b.female else 0.051),
                         s(0.064 if b.female else 0.068), s(0.05),
                         angle=jitter(0.08), z0=s(0.006))

    # Torso, lofted through the measurements (x is the figure's centre line).
    sh, ch, wa, hi = b.shoulders, b.chest, b.waist, b.hips
    bottom = hip_y + 0.06 if torso_only else crotch_y + 0.02
    ys = [0.165, shoulder_y - 0.006, shoulder_y + 0.03, chest_y, waist_y, hip_y,
          crotch_y - 0.02, crotch_y + 0.02]
    widths = [neck_r * 1.2, sh - arm_r * 0.9, sh - arm_r * 0.55, ch, wa, hi,
              hi * 0.94, hi * (0.9 if torso_only else 0.5)]
    depths = [0.03, 0.05, 0.062, 0.072, 0.06, 0.068, 0.062, 0.05]
    centres = [0, 0, 0, sway * 0.3, sway * 0.6, sway, sway, sway]
    canvas.loft([oy + s(y) for y in ys], [s(w) for w in widths],
                [s(d) for d in depths], [ox + s(c) for c in centres],
                y_top=oy + s(0.165), y_bottom=oy + s(bottom),
                round_bottom=0.0 if torso_only else s(0.05))
    # A torso form's shoulders are capped flatter: no arm hangs from them.
    cap = 0.8 if torso_only else 1.0
    shoulder_j = {side: p(side * (sh - arm_r * cap), shoulder_y) for side in (-1, 1)}
    for side in (-1, 1):
        # Rounded shoulders: a short capsule from the collar to the joint.
        canvas.capsule(p(side * (sh - 2.2 * arm_r), shoulder_y - 0.004),
                       shoulder_j[side], s(arm_r * 0.95 * cap), s(arm_r * 1.02 * cap))

    if b.female:
        for side in (-1, 1):
            canvas.bump(p(side * ch * 0.45, chest_y + 0.01), s(ch * 0.52), s(0.05),
                        s(0.018))
    else:
        for side in (-1, 1):
            canvas.bump(p(side * ch * 0.42, chest_y - 0.012), s(ch * 0.6),
                        s(0.04), s(0.005))

    kp = {
        "neck": p(0, 0.17),
        "chest": p(sway * 0.3, chest_y),
        "waist": p(sway * 0.6, waist_y),
        # Shoulders sit on the outline, where a garment's seam would rest.
        "left_shoulder": p(sh + 0.08 * arm_r, shoulder_y),
        "right_shoulder": p(-sh - 0.08 * arm_r, shoulder_y),
        "left_hip": p(sway + hi * 0.86, hip_y),
        "right_hip": p(sway - hi * 0.86, hip_y),
    }
    if torso_only:
        # A turned cap on the neck, as on a tailor's dummy.
        top = neck_top - 0.002
        canvas.ellipsoid(p(0, top), s(neck_r * 1.35), s(neck_r * 0.42),
                         s(neck_r * 0.9), z0=s(0.012), tag=1)
        kp["head_top"] = p(0, top - neck_r * 0.42)
        canvas.capsule(p(0, bottom - 0.01), p(0, 0.975), s(0.008), s(0.008),
                       z0=s(-0.02), tag=1)
        canvas.ellipsoid(p(0, 0.975), s(0.085), s(0.014), s(0.01), z0=s(-0.02),
                         tag=1)
        return kp

    kp["head_top"] = p(0, 0.064 - (0.064 if b.female else 0.068))
    _arms(canvas, pose, b, p, s, shoulder_j, kp, jitter, waist_y, hip_y, arm_r)
    _legs(canvas, pose, b, p, s, kp, jitter, hip_y, sway)
    return kp


def _arms(canvas, pose, b, p, s, shoulder_j, kp, jitter, waist_y, hip_y, arm_r):
    for side in (-1, 1):
        name = "left_hand" if side > 0 else "right_hand"
        sx, sy = ((shoulder_j[side][0] - p(0, 0)[0]) / s(1),
                  (shoulder_j[side][1] - p(0, 0)[1]) / s(1))
        z_fore = 0.0
        if pose == "hand_on_hip" and side > 0:
            elbow = (sx + 0.1, sy + 0.15)
            wrist = (b.hips * 0.97, hip_y - 0.045)
            tip = (wrist[0] - 0.05, wrist[1] + 0.04)
        elif pose == "arms_crossed":
            elbow = (sx + side * 0.012, waist_y - 0.01)
            wrist = (-side * b.chest * 0.62, waist_y - 0.05 - (0.025 if side > 0
                                                              else 0.0))
            tip = (wrist[0] - side * 0.035, wrist[1] - 0.008)
            z_fore = 0.075 + (0.025 if side > 0 else 0.0)
        elif pose == "walking":
            swing = 1 if side > 0 else -1
            elbow = (sx + side * 0.028, sy + 0.165 - 0.01 * swing)
            wrist = (elbow[0] + side * 0.012 - 0.01 * swing,
                     elbow[1] + 0.15 - 0.03 * swing)
            tip = (wrist[0] + side * 0.004, wrist[1] + 0.085)
        else:
            spread = 0.028 + jitter(0.006)
            elbow = (sx + side * spread, sy + 0.172)
            # Hands hang clear of the hips, whatever the build, so the outline
            # at hip height is the body's own width.
            clear = max(abs(elbow[0]) + 0.014, b.hips + arm_r * 0.75 + 0.012)
            wrist = (side * (clear + jitter(0.003)), elbow[1] + 0.152)
            tip = (wrist[0] + side * 0.004, wrist[1] + 0.088)

        canvas.capsule(shoulder_j[side], p(*elbow), s(arm_r), s(arm_r * 0.76))
        canvas.capsule(p(*elbow), p(*wrist), s(arm_r * 0.76), s(arm_r * 0.55),
                       z0=s(z_fore * 0.6))
        canvas.capsule(p(*wrist), p(*tip), s(arm_r * 0.62), s(arm_r * 0.42),
                       z0=s(z_fore))
        kp[name] = p((wrist[0] + tip[0]) / 2, (wrist[1] + tip[1]) / 2)


def _legs(canvas, pose, b, p, s, kp, jitter, hip_y, sway):
    thigh = min(b.hips * 0.5, 0.06) * b.limb
    for side in (-1, 1):
        name = "left_foot" if side > 0 else "right_foot"
        hip = (sway + side * (b.hips - thigh * 0.95), hip_y + 0.02)
        knee = (side * 0.048 + sway * 0.5, 0.72)
        ankle = (side * 0.046, 0.935)
        toe = (side * 0.062, 0.972)
        if pose == "walking" and side < 0:
            # The trailing leg: knee bent inwards, heel lifted off the floor.
            knee = (side * 0.036, 0.712)
            ankle = (side * 0.03, 0.905)
            toe = (side * 0.036, 0.957)
        elif pose == "walking":
            # The leading foot is nearer the camera, so it sits lower.
            knee = (side * 0.05, 0.73)
            ankle = (side * 0.05, 0.943)
            toe = (side * 0.064, 0.98)
        calf = 0.036 * b.limb
        canvas.capsule(p(*hip), p(*knee), s(thigh), s(calf), z0=s(0.0))
        canvas.capsule(p(*knee), p(*ankle), s(calf), s(0.021 * b.limb))
        canvas.capsule(p(*ankle), p(*toe), s(0.022 * b.limb), s(0.019 * b.limb),
                       z0=s(0.01))
        kp[name] = p(toe[0] * 0.6 + ankle[0] * 0.4, toe[1] - 0.004)


def _environment(rx: np.ndarray, ry: np.ndarray, rz: np.ndarray) -> np.ndarray:
    """A studio as a chrome surface sees it: bright ceiling and softbox, dark
    horizon, grey floor. ``r`` is the reflected view direction."""
    ceiling = np.clip(-ry, 0, 1) ** 0.6
    horizon = np.exp(-(ry / 0.18) ** 2)
    softbox = np.exp(-((rx + 0.55) / 0.18) ** 2 - ((ry + 0.15) / 0.5) ** 2)
    env = 0.35 + 0.55 * ceiling - 0.28 * horizon + 0.6 * softbox
    env = env + 0.15 * np.clip(ry, 0, 1)
    return np.clip(env, 0.03, 1.2)


def _key_vector(light: Light) -> np.ndarray:
    """Unit vector towards the key light, in (x right, y down, z to camera).

    Only the sideways part of the azimuth is used: a light travelling towards
    the camera (sunset backlight) still lights the figure from above.
    """
    az, el = np.radians(light.azimuth), np.radians(np.clip(light.elevation, 5, 85))
    key = np.array([-np.cos(az) * 0.75, -np.sin(el) * 0.8, 0.67], np.float32)
    return key / np.linalg.norm(key)


def _shade(canvas: _Canvas, finishes: tuple[Finish, ...],
           rng: np.random.Generator, scale: float, light: Light) -> np.ndarray:
    """Colour every pixel from the height field; ``finishes`` by canvas tag."""
    inside = canvas.sdf < 0.5
    z = cv2.GaussianBlur(canvas.z, (0, 0), 1.2)
    gx = cv2.Sobel(z, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(z, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    n = np.stack([-gx, -gy, np.ones_like(z)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)

    key = _key_vector(light)
    # Soft light wraps further round the form than a hard one.
    wrap = 0.45 * float(np.clip(light.softness, 0, 1))
    lambert = np.clip((n @ key + wrap) / (1 + wrap), 0, 1)
    sky = 0.5 + 0.5 * -n[..., 1]
    half = key + np.array([0, 0, 1], np.float32)
    half /= np.linalg.norm(half)
    facing = np.clip(n @ half, 0, 1)

    # Ambient occlusion: a surface lower than its surroundings gets less light.
    blur_z = blur(z, scale * 0.02)
    ao = np.clip(1 - (blur_z - z) / (scale * 0.03), 0.45, 1.0)[..., None]
    # The rim light sits opposite the key, as a photographer would place it.
    rim_side = 1.0 if key[0] <= 0 else -1.0
    rim = np.clip(1 - n[..., 2], 0, 1) ** 2.5 * np.clip(rim_side * n[..., 0] + 0.3,
                                                       0, 1)
    tint = np.asarray(light.color, np.float32) / max(float(max(light.color)), 1.0)
    diffuse = (0.22 * sky + 0.85 * light.intensity * lambert)[..., None] * tint * ao

    color = np.zeros(z.shape + (3,), np.float32)
    for tag, finish in enumerate(finishes):
        where = canvas.tag == tag
        if tag and not where.any():
            continue
        part = _surface(finish, n, diffuse, facing, ao, rng, scale)
        part += (0.18 * rim)[..., None] * np.array([0.95, 0.97, 1.0], np.float32)
        color = np.where(where[..., None], part, color)
    color = np.clip(color, 0, 1)

    # Spread the colour outwards so the upscaled edge pixels are not dark.
    m = inside.astype(np.float32)[..., None]
    spread = cv2.GaussianBlur(color * m, (0, 0), 2.0)
    weight = cv2.GaussianBlur(m, (0, 0), 2.0)[..., None]
    return np.where(m > 0, color, spread / np.maximum(weight, 1e-4))


def _surface(finish: Finish, n: np.ndarray, diffuse: np.ndarray,
             facing: np.ndarray, ao: np.ndarray, rng: np.random.Generator,
             scale: float) -> np.ndarray:
    """One finish's colour: textured albedo, diffuse, reflection, highlight."""
    h, w = n.shape[:2]
    albedo = np.asarray(finish.albedo, np.float32) / 255.0
    base = np.broadcast_to(albedo, (h, w, 3)).copy()
    if finish.texture == "wood":
        grain = fbm(rng, (w, h), cell=scale * 0.06, octaves=4, stretch=(0.2, 8.0))
        base *= (1 + 0.1 * grain)[..., None]
    elif finish.texture == "linen":
        weave = fbm(rng, (w, h), cell=3, octaves=2, stretch=(0.3, 6.0)) + fbm(
            rng, (w, h), cell=3, octaves=2, stretch=(6.0, 0.3))
        base *= (1 + 0.035 * weave)[..., None]

    color = base * diffuse
    if finish.reflect:
        r = np.stack([2 * n[..., 2] * n[..., 0], 2 * n[..., 2] * n[..., 1],
                      2 * n[..., 2] ** 2 - 1], -1)
        env = _environment(r[..., 0], r[..., 1], r[..., 2])[..., None]
        color = color * (1 - finish.reflect) + finish.reflect * env * albedo * ao
    return color + (finish.specular * facing ** finish.shininess)[..., None] * 0.9


def render_mannequin(
    preferences: str,
    seed: int,
    *,
    size: tuple[int, int] = (1024, 1536),
    light: Light | None = None,
) -> Figure:
    """Render the mannequin ``preferences`` describes; ``size`` is (width, height).

    Words pick the build (slim, athletic, curvy, broad, petite, tall,
    man/woman), the pose (standing, hand on hip, walking, arms crossed), the
    finish (matte/glossy white or black, chrome, gold, wood, linen, a skin tone
    or any named colour) and a torso form on a stand ("torso", "bust",
    "dress form"). Keypoints are where the construction put the joints.
    ``light`` (a scenery's key light) sets the shading; by default the key is
    a soft box at the upper left.
    """
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise EngineError(f"size must be (width, height), got {size!r}") from None
    if not (64 <= w <= 8192 and 96 <= h <= 8192):
        raise EngineError(f"size must be at least 64x96 and at most 8192, got {size}")

    build, pose, _, finish, torso_only = _parse(preferences)
    rng = np.random.default_rng([_SEED_MIX, int(seed) & 0xFFFFFFFF])
    if not torso_only:
        build = replace(build, shoulders=build.shoulders * rng.uniform(0.97, 1.03),
                        hips=build.hips * rng.uniform(0.97, 1.03))

    # Work at half size; the figure is fitted to the canvas by its height.
    ws, hs = max(32, w // 2), max(48, h // 2)
    if torso_only:
        # The form spans 0.12 (neck cap) to 0.99 (stand base) figure units.
        scale = min(hs * 0.94 / 0.87, ws * 0.85 / (2 * build.shoulders + 0.04))
        origin = (ws / 2, hs * 0.03 - scale * 0.12)
    else:
        scale = min(hs * build.height, ws * 0.9 / (2 * build.shoulders + 0.2))
        # Soles reach 0.995 figure units (toe capsules); keep them in frame.
        origin = (ws / 2, hs * (0.5 + build.height / 2) - scale * 0.995)
    canvas = _Canvas(ws, hs)
    kp = _body(canvas, build, pose, torso_only, rng, scale, origin)
    color = _shade(canvas, (finish, _STAND), rng, scale, light or _STUDIO_KEY)

    fx, fy = w / ws, h / hs
    sdf = cv2.resize(canvas.sdf, (w, h), interpolation=cv2.INTER_LINEAR) * fx
    alpha = np.clip(0.5 - sdf, 0, 1)
    # Colour under fully transparent pixels is the spread body colour, so a
    # compositor that resizes without premultiplying gets no dark fringe.
    color8 = np.clip(color * 255 + 0.5, 0, 255).astype(np.uint8)
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = cv2.resize(color8, (w, h), interpolation=cv2.INTER_LINEAR)
    rgba[..., 3] = np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)

    keypoints = {k: (float((x + 0.5) * fx - 0.5), float((y + 0.5) * fy - 0.5))
                 for k, (x, y) in kp.items()}
    return Figure(rgba=rgba, keypoints=keypoints,
                  kind="torso" if torso_only else "full", source="mannequin")
