"""Free text ("dark moody marble, warm side light") to a :class:`Style`.

A small fixed vocabulary, not a language model: words are lower-cased, split on
anything that is not a letter, a few two-word phrases are joined, and each known
word nudges a number or sets a field. Unknown words change nothing, so any text
yields a usable style. Several texts combine in order: numbers add up (clipped to
-1..1) and a later text's setting, place, material, lighting or framing replaces
an earlier one's.
"""

from __future__ import annotations

import re

from lightbox.engine.types import RGB, Style

_SPLIT = re.compile(r"[^a-z]+")

# Joined before lookup, so "golden hour" is one word and not "golden" + "hour".
_PHRASES: dict[tuple[str, str], str] = {
    ("golden", "hour"): "golden_hour",
    ("table", "top"): "tabletop",
    ("off", "white"): "off_white",
    ("rule", "of"): "rule_of",  # completed by ("rule_of", "thirds") below
    ("rule_of", "thirds"): "thirds",
    ("negative", "space"): "negative_space",
    ("flat", "lay"): "flat_lay",
    ("top", "down"): "top_down",
    ("close", "up"): "close",
    ("high", "key"): "high_key",
    ("low", "key"): "low_key",
    ("back", "light"): "backlight",
    ("rim", "light"): "rim",
    ("side", "light"): "side",
    ("window", "light"): "window",
    ("dress", "form"): "dress_form",
    ("hand", "on"): "hand_on",
    ("hand_on", "hip"): "hand_on_hip",
    ("hands", "on"): "hand_on",
    ("hand_on", "hips"): "hand_on_hip",
    ("arms", "crossed"): "arms_crossed",
    ("crossed", "arms"): "arms_crossed",
    ("sky", "blue"): "sky_blue",
    ("baby", "blue"): "sky_blue",
    ("navy", "blue"): "navy",
    ("forest", "green"): "forest_green",
    ("sage", "green"): "sage",
    ("olive", "green"): "olive",
    ("emerald", "green"): "emerald",
    ("dusty", "pink"): "dusty_rose",
    ("dusty", "rose"): "dusty_rose",
    ("blush", "pink"): "blush",
    ("hot", "pink"): "magenta",
    ("living", "room"): "living_room",
    ("night", "city"): "city_night",
}

# (brightness, warmth, saturation, contrast) nudges.
_MOOD: dict[str, tuple[float, float, float, float]] = {
    "bright": (0.6, 0.0, 0.0, 0.0),
    "airy": (0.5, 0.0, -0.1, -0.2),
    "light": (0.4, 0.0, 0.0, 0.0),
    "clean": (0.4, 0.0, 0.0, 0.0),
    "fresh": (0.3, -0.2, 0.0, 0.0),
    "high_key": (0.8, 0.0, 0.0, -0.2),
    "dark": (-0.7, 0.0, 0.0, 0.1),
    "moody": (-0.5, 0.0, -0.1, 0.3),
    "low_key": (-0.8, 0.0, 0.0, 0.3),
    "dramatic": (-0.3, 0.0, 0.0, 0.6),
    "night": (-0.7, -0.2, 0.0, 0.3),
    "warm": (0.0, 0.6, 0.0, 0.0),
    "cozy": (-0.1, 0.5, 0.0, 0.0),
    "golden": (0.1, 0.6, 0.1, 0.0),
    "golden_hour": (0.0, 0.8, 0.2, 0.1),
    "cool": (0.0, -0.6, 0.0, 0.0),
    "cold": (0.0, -0.7, 0.0, 0.0),
    "icy": (0.1, -0.8, -0.1, 0.0),
    "pastel": (0.4, 0.0, -0.6, -0.3),
    "muted": (0.0, 0.0, -0.6, -0.2),
    "neutral": (0.0, 0.0, -0.3, 0.0),
    "vivid": (0.0, 0.0, 0.7, 0.2),
    "vibrant": (0.0, 0.0, 0.7, 0.2),
    "colorful": (0.1, 0.0, 0.6, 0.1),
    "colourful": (0.1, 0.0, 0.6, 0.1),
    "bold": (0.0, 0.0, 0.4, 0.4),
    "neon": (-0.3, 0.0, 0.8, 0.4),
    "soft": (0.1, 0.0, -0.1, -0.4),
    "gentle": (0.1, 0.0, -0.1, -0.3),
    "punchy": (0.0, 0.0, 0.3, 0.6),
    "contrasty": (0.0, 0.0, 0.0, 0.6),
    "minimal": (0.2, 0.0, -0.2, -0.1),
    "minimalist": (0.2, 0.0, -0.2, -0.1),
    "luxury": (-0.3, 0.1, -0.1, 0.4),
    "luxurious": (-0.3, 0.1, -0.1, 0.4),
    "elegant": (-0.1, 0.0, -0.2, 0.2),
    "premium": (-0.2, 0.0, -0.1, 0.3),
    "natural": (0.1, 0.1, -0.1, 0.0),
    "earthy": (-0.1, 0.4, -0.2, 0.0),
    "summer": (0.3, 0.3, 0.3, 0.1),
    "winter": (0.2, -0.5, -0.3, 0.0),
    "autumn": (-0.1, 0.5, 0.1, 0.1),
    "fall": (-0.1, 0.5, 0.1, 0.1),
}

# Colour names to sRGB; chosen to look right as a backdrop, not from a standard.
_COLORS: dict[str, RGB] = {
    "white": (245, 245, 243),
    "off_white": (240, 236, 226),
    "ivory": (242, 236, 218),
    "cream": (240, 228, 204),
    "beige": (222, 205, 178),
    "taupe": (176, 160, 142),
    "tan": (205, 170, 125),
    "brown": (120, 82, 55),
    "chocolate": (92, 58, 38),
    "terracotta": (196, 108, 72),
    "rust": (170, 80, 45),
    "orange": (240, 140, 50),
    "peach": (246, 190, 160),
    "apricot": (245, 180, 130),
    "coral": (242, 122, 100),
    "salmon": (240, 150, 130),
    "red": (200, 40, 45),
    "burgundy": (110, 30, 45),
    "maroon": (110, 35, 40),
    "wine": (115, 35, 55),
    "pink": (240, 170, 190),
    "blush": (238, 196, 196),
    "rose": (220, 140, 150),
    "dusty_rose": (200, 150, 150),
    "magenta": (210, 50, 140),
    "fuchsia": (215, 60, 160),
    "purple": (120, 70, 150),
    "plum": (110, 55, 90),
    "violet": (140, 100, 190),
    "lavender": (200, 185, 225),
    "lilac": (205, 175, 215),
    "mauve": (190, 150, 170),
    "blue": (60, 110, 190),
    "sky_blue": (150, 200, 235),
    "navy": (30, 45, 80),
    "cobalt": (40, 80, 170),
    "teal": (30, 120, 125),
    "turquoise": (60, 190, 190),
    "aqua": (110, 210, 210),
    "mint": (180, 225, 200),
    "sage": (165, 180, 150),
    "olive": (120, 120, 70),
    "green": (70, 140, 80),
    "emerald": (30, 130, 90),
    "forest_green": (40, 80, 50),
    "yellow": (245, 210, 70),
    "lemon": (248, 232, 120),
    "mustard": (205, 165, 50),
    "gold": (212, 175, 90),
    "grey": (150, 150, 150),
    "gray": (150, 150, 150),
    "charcoal": (55, 57, 60),
    "silver": (192, 194, 198),
    "black": (22, 22, 24),
}

_LIGHTNESS = {"light": 0.45, "pale": 0.55, "dark": -0.45, "deep": -0.35}

# word -> (setting, place)
_PLACES: dict[str, tuple[str, str]] = {
    "studio": ("studio", "studio"),
    "sweep": ("studio", "studio"),
    "seamless": ("studio", "studio"),
    "backdrop": ("studio", "studio"),
    "cyclorama": ("studio", "studio"),
    "table": ("tabletop", "table"),
    "tabletop": ("tabletop", "table"),
    "desk": ("tabletop", "desk"),
    "counter": ("tabletop", "counter"),
    "countertop": ("tabletop", "counter"),
    "kitchen": ("tabletop", "kitchen"),
    "shelf": ("tabletop", "shelf"),
    "bathroom": ("tabletop", "bathroom"),
    "vanity": ("tabletop", "bathroom"),
    "living_room": ("tabletop", "room"),
    "interior": ("tabletop", "room"),
    "cafe": ("tabletop", "cafe"),
    "outdoor": ("outdoor", ""),
    "outdoors": ("outdoor", ""),
    "outside": ("outdoor", ""),
    "nature": ("outdoor", "garden"),
    "beach": ("outdoor", "beach"),
    "sea": ("outdoor", "beach"),
    "ocean": ("outdoor", "beach"),
    "coast": ("outdoor", "beach"),
    "seaside": ("outdoor", "beach"),
    "sunset": ("outdoor", "sunset"),
    "sunrise": ("outdoor", "sunset"),
    "dusk": ("outdoor", "sunset"),
    "city": ("outdoor", "city"),
    "street": ("outdoor", "city"),
    "urban": ("outdoor", "city"),
    "downtown": ("outdoor", "city"),
    "city_night": ("outdoor", "city"),
    "garden": ("outdoor", "garden"),
    "park": ("outdoor", "garden"),
    "meadow": ("outdoor", "garden"),
    "field": ("outdoor", "garden"),
    "flowers": ("outdoor", "garden"),
    "forest": ("outdoor", "forest"),
    "woods": ("outdoor", "forest"),
    "jungle": ("outdoor", "forest"),
    "tropical": ("outdoor", "forest"),
    "mountain": ("outdoor", "mountain"),
    "mountains": ("outdoor", "mountain"),
    "alpine": ("outdoor", "mountain"),
    "snow": ("outdoor", "mountain"),
    "lake": ("outdoor", "mountain"),
    "pool": ("outdoor", "pool"),
    "poolside": ("outdoor", "pool"),
    "desert": ("outdoor", "desert"),
    "dunes": ("outdoor", "desert"),
}

_MATERIALS: dict[str, str] = {
    "marble": "marble",
    "wood": "wood",
    "wooden": "wood",
    "oak": "wood",
    "walnut": "walnut",
    "timber": "wood",
    "concrete": "concrete",
    "cement": "concrete",
    "plaster": "concrete",
    "linen": "linen",
    "fabric": "linen",
    "cloth": "linen",
    "cotton": "linen",
    "stone": "stone",
    "granite": "stone",
    "travertine": "stone",
    "terrazzo": "terrazzo",
    "paper": "paper",
    "velvet": "velvet",
    "silk": "velvet",
    "satin": "velvet",
    "sand": "sand",
    "sandy": "sand",
    "slate": "slate",
}

_LIGHTING: dict[str, str] = {
    "soft": "soft",
    "diffused": "soft",
    "diffuse": "soft",
    "softbox": "soft",
    "hard": "hard",
    "harsh": "hard",
    "sunny": "hard",
    "sunlight": "hard",
    "sunlit": "hard",
    "backlight": "backlight",
    "backlit": "backlight",
    "rim": "rim",
    "side": "side",
    "window": "window",
    "golden": "golden",
    "golden_hour": "golden",
    "overcast": "overcast",
    "cloudy": "overcast",
    "spotlight": "spotlight",
    "spot": "spotlight",
    "dappled": "dappled",
}

_FRAMING: dict[str, str] = {
    "close": "close",
    "closeup": "close",
    "macro": "close",
    "detail": "close",
    "tight": "close",
    "wide": "wide",
    "full": "wide",
    "centered": "centered",
    "centred": "centered",
    "center": "centered",
    "centre": "centered",
    "symmetrical": "centered",
    "thirds": "thirds",
    "negative_space": "minimal",
    "minimal": "minimal",
    "minimalist": "minimal",
    "flat_lay": "top",
    "flatlay": "top",
    "top_down": "top",
    "overhead": "top",
}

_OUTDOOR_PLACES = frozenset(
    place for setting, place in _PLACES.values() if setting == "outdoor" and place
)

# Words that cancel the next known word: "no sunset", "not dark".
_NEGATIONS = frozenset({"no", "not", "without", "non"})


def tokens(text: str) -> list[str]:
    """Lower-cased words of ``text`` with the known two-word phrases joined."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")

    words = [w for w in _SPLIT.split(text.lower()) if w]
    joined: list[str] = []
    for word in words:
        if joined and (joined[-1], word) in _PHRASES:
            joined[-1] = _PHRASES[(joined[-1], word)]
        else:
            joined.append(word)
    return [w for w in joined if w != "rule_of"]


def named_color(word: str) -> RGB | None:
    """The RGB of a colour name ("sage", "off white", "navy blue"), else None."""
    toks = tokens(word)
    if len(toks) == 1:
        return _COLORS.get(toks[0])
    if len(toks) == 2 and toks[0] in _LIGHTNESS and toks[1] in _COLORS:
        return _shade(_COLORS[toks[1]], _LIGHTNESS[toks[0]])
    return None


def _shade(color: RGB, amount: float) -> RGB:
    """Mix towards white (amount > 0) or black (amount < 0)."""
    target = 255.0 if amount > 0 else 0.0
    a = abs(amount)
    return tuple(int(round(c + (target - c) * a)) for c in color)  # type: ignore


def _is_known(word: str) -> bool:
    return any(
        word in table
        for table in (_MOOD, _COLORS, _PLACES, _MATERIALS, _LIGHTING, _FRAMING)
    )


def parse_style(*texts: str) -> Style:
    """Combine the texts, in order, into one :class:`Style`.

    "light"/"pale"/"dark"/"deep" right before a colour shade that colour instead of
    the mood ("light blue" is a colour, not a bright scene); "light" right after a
    lighting word ("window light") is part of that phrase. A material with no
    place implies a table top ("marble" alone), except sand, which implies a beach.
    """
    mood = [0.0, 0.0, 0.0, 0.0]
    colors: list[RGB] = []
    fields = {"setting": "", "place": "", "material": "", "lighting": "",
              "framing": ""}
    seen: list[str] = []

    for text in texts:
        if text is None:
            continue
        words = tokens(text)
        skip = False
        for i, word in enumerate(words):
            nxt = words[i + 1] if i + 1 < len(words) else ""
            prev = words[i - 1] if i > 0 else ""
            if word in _NEGATIONS:
                skip = True
                continue
            if skip and _is_known(word):
                skip = False
                continue
            if word in _LIGHTNESS and nxt in _COLORS:
                continue  # handled with the colour
            if word == "light" and (prev in _LIGHTING or prev in ("natural",)):
                continue

            known = False
            if word in _COLORS:
                color = _COLORS[word]
                if prev in _LIGHTNESS:
                    color = _shade(color, _LIGHTNESS[prev])
                colors.append(color)
                known = True
            if word in _MOOD:
                for k, v in enumerate(_MOOD[word]):
                    mood[k] += v
                known = True
            if word in _PLACES:
                setting, place = _PLACES[word]
                keep = setting == "outdoor" and not place and (
                    fields["place"] in _OUTDOOR_PLACES)
                # A sunset plate has its own sea and sand: "sunset beach" is a
                # sunset, whichever word comes first.
                keep = keep or (fields["place"] == "sunset" and place == "beach")
                fields["setting"] = setting
                if not keep:
                    fields["place"] = place
                known = True
            if word in _MATERIALS:
                fields["material"] = _MATERIALS[word]
                known = True
            if word in _LIGHTING:
                fields["lighting"] = _LIGHTING[word]
                known = True
            if word in _FRAMING:
                fields["framing"] = _FRAMING[word]
                known = True
            if known:
                seen.append(word)

    if not fields["setting"] and fields["material"]:
        if fields["material"] == "sand":
            fields["setting"], fields["place"] = "outdoor", "beach"
        elif fields["material"] == "paper":
            fields["setting"], fields["place"] = "studio", "studio"
        else:
            fields["setting"], fields["place"] = "tabletop", "table"
    if fields["setting"] == "outdoor" and not fields["place"]:
        fields["place"] = "garden"

    brightness, warmth, saturation, contrast = (
        max(-1.0, min(1.0, round(v, 3))) for v in mood
    )
    return Style(
        brightness=brightness,
        warmth=warmth,
        saturation=saturation,
        contrast=contrast,
        colors=tuple(colors),
        words=tuple(seen),
        **fields,
    )
