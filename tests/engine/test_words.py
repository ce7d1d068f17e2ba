"""The text vocabulary: known words map to numbers and fields, others to nothing."""

from __future__ import annotations

import pytest

from lightbox.engine.types import Style
from lightbox.engine.words import named_color, parse_style, tokens


def test_unknown_words_leave_every_default():
    assert parse_style("qwerty zorblax 42 !!", "") == Style()


def test_tokens_join_phrases_and_split_on_punctuation():
    assert tokens("Golden-hour, RULE of thirds; off white") == [
        "golden_hour", "thirds", "off_white"
    ]


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("seamless sweep", "setting", "studio"),
        ("on a table top", "setting", "tabletop"),
        ("kitchen counter", "place", "counter"),
        ("sandy beach", "place", "beach"),
        ("sunset at the beach", "place", "sunset"),
        ("city street", "place", "city"),
        ("walnut desk", "material", "walnut"),
        ("oak", "material", "wood"),
        ("terrazzo", "material", "terrazzo"),
        ("golden hour", "lighting", "golden"),
        ("backlit", "lighting", "backlight"),
        ("window light", "lighting", "window"),
        ("close up", "framing", "close"),
        ("rule of thirds", "framing", "thirds"),
        ("flat lay", "framing", "top"),
        ("negative space", "framing", "minimal"),
    ],
)
def test_known_words_set_fields(text, field, value):
    assert getattr(parse_style(text), field) == value


def test_mood_words_move_numbers_in_the_right_direction():
    dark = parse_style("dark moody dramatic")
    bright = parse_style("bright airy")
    assert dark.brightness < -0.5 < 0.5 < bright.brightness
    assert dark.contrast > 0 > bright.contrast
    assert parse_style("warm").warmth > 0 > parse_style("cool").warmth
    assert parse_style("pastel").saturation < 0 < parse_style("vivid").saturation
    assert -1.0 <= parse_style("dark " * 10).brightness


def test_colours_are_named_in_order_and_shaded_by_a_modifier():
    style = parse_style("sage green walls, terracotta and navy blue")
    assert style.colors == (named_color("sage"), named_color("terracotta"),
                            named_color("navy"))
    assert named_color("beige") == (222, 205, 178)
    assert named_color("unobtainium") is None

    light_blue = parse_style("light blue").colors[0]
    assert sum(light_blue) > sum(named_color("blue"))
    # "light" shaded the colour, so it did not brighten the scene as well.
    assert parse_style("light blue").brightness == 0.0


def test_later_texts_refine_earlier_ones():
    style = parse_style("studio, soft light, warm", "wooden table", "warm")
    assert (style.setting, style.material, style.lighting) == (
        "tabletop", "wood", "soft")
    assert style.warmth == pytest.approx(1.0)


def test_a_material_alone_implies_a_table_top_and_sand_a_beach():
    assert parse_style("marble").setting == "tabletop"
    assert (parse_style("sand").setting, parse_style("sand").place) == (
        "outdoor", "beach")


def test_negation_cancels_the_next_known_word():
    style = parse_style("not dark, bright")
    assert style.brightness > 0
    assert "dark" not in style.words


def test_a_generic_outdoor_keeps_the_specific_place():
    assert parse_style("beach, outdoor").place == "beach"
    assert parse_style("studio then outdoor").place == "garden"
