"""How well a trained run's model reads the pictures people really give `infer`, one condition at
a time, on pictures it never trained on (it trained on MNIST only). Each condition is written as
labelled pictures (`<digit>-<n>[-<variant>].<ext>`, or `none-<n>.<ext>` for a picture holding no
digit) into its own folder under --out, sent to `infer --json` and scored:

  clean               handwriting-font digits, black on white, evenly lit, PNG, 100-400 px
                      canvases
  photo               the same as photographed: grey or off-white paper (150-240), black, grey
                      or blue ink, thinner or thicker strokes, blur, sensor noise, JPEG (60-90)
                      or PNG
  uneven_light        photo, with the light falling off across the page (paper ~230 down to ~90)
  canvas_alpha        an HTML canvas export: white (3 in 4) or black strokes on a transparent
                      RGBA PNG
  exif_rotated        clean's kind of picture as a phone JPEG whose pixels lie rotated, with EXIF
                      Orientation 6, 8 or 3 turning it upright in a viewer (compare with clean)
  scans               real handwriting, scikit-learn's load_digits (8x8, 43 writers) as dark ink
                      on light paper, scaled to 32-64 px like a low-resolution scan
  mnist_format        MNIST test images as 28x28 grey PNGs, white on black, as MNIST stores them
  number_clean        numbers of 2-6 digits in one handwriting font, each digit its own size and
                      slant, spaced as handwriting is (a few touching), black on white
  number_photo        the same numbers as photographed (photo's paper, ink, blur, noise, JPEG)
  number_scans        numbers of 3-5 real low-resolution handwritten digits (scans' load_digits,
                      one writer's digits side by side), scaled to 32-64 px tall
  scans_tight         scans' digits cut tight to the ink (no paper around) and enlarged smoothly
                      (bicubic) to 32-64 px on the longer side, as a cropped low-resolution scan
                      is (compare with scans)
  nondigit_letters    no digit: a letter (upper or lower case, none that passes for a digit: no
                      O o l I i Z z S s B b g q G) or a short word of 2-5 such letters, in the
                      handwriting fonts, half as clean's pictures, half as photo's
  nondigit_symbols    no digit: one to three symbols (+ = # @ & % ? ! * / $ < > ~ ^ - _ × ÷)
                      in the fonts that have them, half clean, half photographed
  nondigit_scribbles  no digit: a free-hand scribble (a smooth curve through random points,
                      loops, a zig-zag or hatching) by a round pen 2-12 px wide (thinner on a
                      small one), half clean, half photographed
  nondigit_noise      no digit: noise filling the picture (Gaussian on grey, salt and pepper,
                      smooth blotches, colour), PNG or JPEG
  nondigit_scenes     no digit: a photo-like scene, 3-8 filled coloured rectangles, ellipses and
                      polygons on a gradient, blurred half the time, sensor noise, JPEG
  nondigit_drawings   no digit: a line drawing (a smiley, a cat's face, a house, a sun, a tree, a
                      star, a heart, a stick figure), a little wobbly, of random size, place,
                      tilt and pen width (as scribbles'), half clean, half photographed
  nondigit_paper      no digit: photographed paper with nothing written on it, but smudges, tea
                      stains, fold creases and, half the time, uneven light
  page_on_table       photo's pictures as a page lying on a darker table (grey or wood-toned,
                      with streaks), photographed from above: the page turned up to 10 degrees
                      and covering a quarter to two thirds of the frame, JPEG (a note on a desk)
  number_display      numbers of 1-6 digits as a meter, clock or scale shows them: a seven-segment
                      font (Debian's fonts-dseg: DSEG7 Classic and Modern, in their weights and
                      italics), 40-120 px tall, half as clean's pictures, half as photo's

A number is read right when `infer --json`'s "number" is exactly it: every digit right, none
missing, none extra. A picture holding no digit is read right when `infer` says so: it answers
"number": null ("not a digit") or refuses the picture.

    cargo build --release
    python3 bench/real_pictures.py --run artifacts/<run> --per-condition 200 --seed 1
    python3 bench/real_pictures.py --run artifacts/<run> --json --out /tmp/pictures
    python3 bench/real_pictures.py --save-only --out /tmp/pictures --conditions photo,scans

Prints, per condition, the pictures, the share read correctly, how many `infer` answered "not a
digit" ("number": null) and how many it refused (an error, no answer): both count as wrong for a
picture of digits and as right for one of none; the reasons follow the table. Needs numpy,
Pillow and scikit-learn, MNIST's t10k IDX files (--mnist-dir, raw or .gz) and handwriting fonts
from Debian:

    apt-get install -y fonts-dkg-handwriting fonts-breip fonts-rufscript fonts-sjfonts \\
        fonts-humor-sans fonts-kristi fonts-comic-neue fonts-bwht fonts-dancingscript \\
        fonts-kaushanscript fonts-dseg

(fonts-dseg: the seven-segment fonts of number_display.)
"""

import argparse
import functools
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A condition's place in this list seeds its pictures: new conditions go at the end, so that
# the others' pictures stay the same for the same --seed.
CONDITIONS = ["clean", "photo", "uneven_light", "canvas_alpha", "exif_rotated", "scans",
              "mnist_format", "number_clean", "number_photo", "number_scans", "scans_tight",
              "nondigit_letters", "nondigit_symbols", "nondigit_scribbles", "nondigit_noise",
              "nondigit_scenes", "nondigit_drawings", "nondigit_paper", "page_on_table",
              "number_display"]
# The conditions drawn without the handwriting fonts.
WITHOUT_FONTS = {"scans", "mnist_format", "number_scans", "scans_tight", "nondigit_scribbles",
                 "nondigit_noise", "nondigit_scenes", "nondigit_drawings", "nondigit_paper",
                 "number_display"}
# The label of a picture holding no digit.
NONE = "none"
# Letters that pass for no digit (O, o, l, I, i, Z, z, S, s, B, b, g, q and G pass for 0, 1, 2,
# 5, 6, 8 or 9), and short words made of them only.
LETTERS = "ACDEFHJKLMNPQRTUVWXYacdefhjkmnprtuvwxy"
WORDS = ["we", "me", "up", "at", "an", "ah", "ex", "cat", "hat", "pen", "run", "key", "day",
         "map", "cup", "yet", "fun", "hey", "the", "and", "car", "tree", "what", "mark", "hand",
         "name", "next", "text", "jump", "thank", "water", "dance", "happy", "candy", "heart"]
# Symbols people write; none alone is a digit's look-alike (no '.', '|', '(' or ')'), and no
# currency sign but $ (Humor Sans draws € and £ as little pictures).
SYMBOLS = "+=#@&%?!*/$<>~^-_×÷"
# Font files whose digits look handwritten, and the Debian package shipping each.
FONTS = {
    "dkg.ttf": "fonts-dkg-handwriting", "dkgBd.ttf": "fonts-dkg-handwriting",
    "dkgBI.ttf": "fonts-dkg-handwriting", "breipfont.ttf": "fonts-breip",
    "Rufscript010.ttf": "fonts-rufscript", "Delphine.ttf": "fonts-sjfonts",
    "SteveHand.ttf": "fonts-sjfonts", "Humor-Sans.ttf": "fonts-humor-sans",
    "Kristi.ttf": "fonts-kristi", "ComicNeue-Regular.otf": "fonts-comic-neue",
    "ComicNeue-Italic.otf": "fonts-comic-neue", "BecauseWeBuild-Regular.otf": "fonts-bwht",
    "BecauseWeConnect-Regular.otf": "fonts-bwht", "BecauseWeCreate-Regular.otf": "fonts-bwht",
    "BecauseWeLearn-Regular.otf": "fonts-bwht", "BecauseWeMentor-Regular.otf": "fonts-bwht",
    "BecauseWeOrganize-Regular.otf": "fonts-bwht",
    "DancingScript-Regular.otf": "fonts-dancingscript",
    "KaushanScript-Regular.otf": "fonts-kaushanscript",
}
# How `restroke` may change a picture's strokes, drawn at random: "thin" only where they are
# big enough to stay.
RESTROKES = ("thin", "same", "same", "thick", "thicker")
# How a viewer honouring EXIF turns the stored pixels upright, per Orientation value, and the
# turn that stores an upright picture that way (its inverse).
STORE_TURN = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270,
              3: Image.Transpose.ROTATE_180}


def find_fonts():
    """Paths of the FONTS found under /usr/share/fonts, sorted; exits naming the packages if none."""
    found = {}
    for folder, _, names in os.walk("/usr/share/fonts"):
        for name in names:
            if name in FONTS:
                found.setdefault(name, os.path.join(folder, name))
    if not found:
        sys.exit("no handwriting fonts under /usr/share/fonts: apt-get install -y "
                 + " ".join(sorted(set(FONTS.values()))))
    return [found[name] for name in sorted(found)]


def display_fonts():
    """Paths of the seven-segment fonts (DSEG7 Classic's and Modern's; not SEGG-chan's, whose
    digits are faces) under /usr/share/fonts, sorted; exits naming the package if there are none."""
    found = sorted(os.path.join(folder, name) for folder, _, names in os.walk("/usr/share/fonts")
                   for name in names if name.startswith(("DSEG7Classic", "DSEG7Modern"))
                   and name.endswith(".ttf"))
    if not found:
        sys.exit("no seven-segment fonts under /usr/share/fonts: apt-get install -y fonts-dseg")
    return found


def render(text, font_path, size):
    """The text in that font at `size` px (the font's em) as a grey image, white ink on black,
    cropped to its ink."""
    font = ImageFont.truetype(font_path, size)
    x0, y0, x1, y1 = font.getbbox(text)
    image = Image.new("L", (x1 - x0 + 8, y1 - y0 + 8), 0)
    ImageDraw.Draw(image).text((4 - x0, 4 - y0), text, fill=255, font=font)
    return image.crop(image.getbbox())


def tilted(image, rng):
    """The rendered ink turned by up to 6 degrees either way, as an ink mask (float 0-1,
    1 = ink) cropped to its ink."""
    image = image.rotate(rng.uniform(-6, 6), resample=Image.Resampling.BICUBIC, expand=True)
    return np.asarray(image.crop(image.getbbox()), dtype=np.float32) / 255


def glyph(digit, font_path, height, rng):
    """The digit in that font as an ink mask about `height` px tall, slightly rotated and
    cropped to its ink."""
    probe = render(str(digit), font_path, 200)
    return tilted(render(str(digit), font_path, max(8, round(200 * height / probe.height))), rng)


def lettering(text, font_path, size, rng):
    """Letters or symbols in that font at `size` px (the em, not the ink's height: a dash
    stays a dash) as an ink mask, slightly rotated and cropped to its ink."""
    return tilted(render(text, font_path, max(8, round(size))), rng)


@functools.cache
def drawable(char, font_path):
    """Whether the font draws the character: some have no glyph for it and draw their empty
    box (the glyph of an unassigned code point) or nothing."""
    def pixels(text):
        font = ImageFont.truetype(font_path, 40)
        image = Image.new("L", (120, 80), 0)
        ImageDraw.Draw(image).text((10, 10), text, fill=255, font=font)
        return image.tobytes()
    drawn = pixels(char)
    return any(drawn) and drawn != pixels("\u0378")


def place(ink, rng, fill=(0.3, 0.8)):
    """A canvas 100-400 px a side holding the font digit `ink(height)` at a random position,
    its height a random share `fill` of the canvas; returns the canvas's ink mask."""
    width, height = (int(v) for v in rng.integers(100, 401, size=2))
    mask = ink(rng.uniform(*fill) * min(width, height))
    if mask.shape[0] > 0.95 * height or mask.shape[1] > 0.95 * width:
        scale = 0.95 * min(height / mask.shape[0], width / mask.shape[1])
        size = (max(1, int(mask.shape[1] * scale)), max(1, int(mask.shape[0] * scale)))
        mask = np.asarray(Image.fromarray(mask).resize(size, Image.Resampling.LANCZOS))
    canvas = np.zeros((height, width), dtype=np.float32)
    margin = [min(int(0.04 * min(width, height)), (side - ink_side) // 2)   # off the edges
              for side, ink_side in ((height, mask.shape[0]), (width, mask.shape[1]))]
    top = int(rng.integers(margin[0], height - mask.shape[0] - margin[0] + 1))
    left = int(rng.integers(margin[1], width - mask.shape[1] - margin[1] + 1))
    canvas[top:top + mask.shape[0], left:left + mask.shape[1]] = mask
    return np.clip(canvas, 0, 1)


def number_mask(number, font_path, rng):
    """The digits of `number` in one font as an ink mask: each glyph 60-90 px tall (+-10%),
    slanted a little on its own, bottoms on one wavy line, gaps of -5% to 45% of the height
    (a negative gap: touching), on a canvas with a margin of paper around."""
    height = rng.uniform(60, 90)
    glyphs = [glyph(int(d), font_path, height * rng.uniform(0.9, 1.1), rng) for d in number]
    gaps = [int(height * rng.uniform(-0.05, 0.45)) for _ in glyphs[1:]] + [0]
    width = sum(g.shape[1] for g in glyphs) + sum(gaps)
    tall = max(g.shape[0] for g in glyphs)
    margin = int(rng.uniform(0.2, 0.8) * height)
    canvas = np.zeros((tall + 2 * margin + 10, max(width, 1) + 2 * margin), dtype=np.float32)
    left = margin
    for ink, gap in zip(glyphs, gaps):
        top = margin + tall - ink.shape[0] + int(rng.integers(0, 6))
        region = canvas[top:top + ink.shape[0], left:left + ink.shape[1]]
        np.maximum(region, ink[:region.shape[0], :region.shape[1]], out=region)
        left += ink.shape[1] + gap
    return canvas


def random_number(rng, shortest, longest):
    """A number of `shortest` to `longest` digits, as a string; leading zeros allowed."""
    return "".join(str(d) for d in rng.integers(0, 10, size=int(rng.integers(shortest, longest + 1))))


def restroke(mask, rng, choices=RESTROKES):
    """The ink mask with strokes made thinner (erosion, only on big digits) or thicker (dilation)."""
    choice = choices[rng.integers(len(choices))]
    rows = np.flatnonzero(mask.max(axis=1) > 0.5)
    if choice == "same" or (choice == "thin" and rows.size and rows[-1] - rows[0] < 90):
        return mask
    size = {"thin": 3, "thick": 3, "thicker": 5, "pen": 7}[choice]
    image = Image.fromarray((mask * 255).astype(np.uint8))
    image = image.filter(ImageFilter.MinFilter(size) if choice == "thin" else ImageFilter.MaxFilter(size))
    return np.asarray(image, dtype=np.float32) / 255


def photograph(mask, rng, paper, uneven=False, restrokes=RESTROKES):
    """The ink mask as a phone photo (uint8 RGB): tinted paper of a grey level drawn from
    `paper`, black, grey or blue ink, strokes varied by one of `restrokes`, blur and sensor
    noise; with `uneven`, light falling off across the page."""
    mask = restroke(mask, rng, restrokes)
    paper = rng.uniform(*paper)
    paper = paper + np.array([4, 1, -4]) * rng.uniform(0, 1.5)           # warm or neutral
    ink = [rng.uniform(10, 40, size=1).repeat(3), rng.uniform(50, 80, size=1).repeat(3),
           np.array([rng.uniform(20, 50), rng.uniform(30, 70), rng.uniform(100, 150)])]
    ink = ink[rng.integers(3)]
    picture = paper * (1 - mask[..., None]) + ink * mask[..., None]
    if uneven:
        h, w = mask.shape
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        along = xs * np.cos(angle) + ys * np.sin(angle)
        along = (along - along.min()) / (along.max() - along.min())
        light = 1 - (1 - rng.uniform(0.35, 0.5)) * along                # the far side at 35-50%
        if rng.random() < 0.5:                                           # and a vignette
            r2 = ((xs - w / 2) ** 2 + (ys - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
            light *= 1 - rng.uniform(0.1, 0.3) * r2
        picture *= light[..., None]
    blurred = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8))
    blurred = blurred.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.5)))
    noisy = np.asarray(blurred, dtype=np.float32) + rng.normal(0, rng.uniform(2, 8), picture.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def read_idx(folder, name):
    """The bytes of an MNIST IDX file, raw or gzipped."""
    for path in (os.path.join(folder, name), os.path.join(folder, name + ".gz")):
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
            return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    sys.exit(f"no {name} (or .gz) in {folder}: name MNIST's folder with --mnist-dir")


def balanced(labels, count, rng):
    """Indices of `count` items of `labels`, the digits in turn (0, 1, ..., 9, 0, ...), drawn
    at random without replacement; returns (index, digit) pairs."""
    wanted = [i % 10 for i in range(count)]
    picks = {d: iter(rng.permutation(np.flatnonzero(labels == d))) for d in range(10)}
    return [(int(next(picks[d])), d) for d in wanted]


def photo_file(rng, jpeg=0.75):
    """How a photographed picture is saved, as `save`'s options: JPEG of quality 60-90 with
    probability `jpeg`, PNG otherwise."""
    if rng.random() < jpeg:
        return {"ext": "jpg", "quality": int(rng.integers(60, 91))}
    return {}


def canvas_shape(rng):
    """The (height, width) of a picture, each 100-400 px."""
    return tuple(int(v) for v in rng.integers(100, 401, size=2))


def on_table(page, rng):
    """`page` (a photo, uint8 RGB) lying on a darker table, photographed from above: turned up to
    10 degrees either way, covering a quarter to two thirds of the frame, the table grey or
    wood-toned (40-140) with streaks along it and light falling across it; blur, noise, JPEG
    (see `photo_file`)."""
    turned = Image.fromarray(page).convert("RGBA").rotate(rng.uniform(-10, 10), Image.Resampling.BICUBIC, expand=True)
    h, w = page.shape[:2]
    scale = 1 / np.sqrt(rng.uniform(0.25, 0.65))
    width = max(int(w * scale * rng.uniform(0.9, 1.1)), turned.width + 8)
    height = max(int(h * scale * rng.uniform(0.9, 1.1)), turned.height + 8)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    tone = np.array([1.0, 0.78, 0.58]) if rng.random() < 0.5 else np.ones(3)
    streaks = 8 * np.sin(ys / rng.uniform(3, 9) + 2 * np.sin(xs / rng.uniform(20, 60)))
    light = 1 - rng.uniform(0, 0.3) * xs / width
    level = (rng.uniform(40, 140) + streaks) * light
    table = Image.fromarray(np.clip(level[..., None] * tone, 0, 255).astype(np.uint8))
    left = int(rng.integers(0, width - turned.width + 1))
    top = int(rng.integers(0, height - turned.height + 1))
    table.paste(turned, (left, top), turned)
    blurred = table.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    noisy = np.asarray(blurred, dtype=np.float32) + rng.normal(0, rng.uniform(1, 5), (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def on_paper(mask, rng, restrokes=RESTROKES):
    """The ink mask as clean's picture (black on white, PNG) or, one time in two, as photo's
    (photographed, strokes varied by one of `restrokes`, JPEG 3 times in 4); returns (image,
    save options)."""
    if rng.random() < 0.5:
        return Image.fromarray((255 * (1 - mask)).astype(np.uint8)), {}
    return Image.fromarray(photograph(mask, rng, (150, 240), restrokes=restrokes)), photo_file(rng)


def pen(shape, strokes, width):
    """An ink mask of `shape` (height, width) with each stroke (an array of x, y points; one
    point is a dot) drawn by a round pen `width` px wide, smoothed: drawn 4 times larger and
    shrunk."""
    scale = 4
    image = Image.new("L", (shape[1] * scale, shape[0] * scale), 0)
    draw = ImageDraw.Draw(image)
    radius = width * scale / 2
    for stroke in strokes:
        points = [(float(x) * scale, float(y) * scale) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=255, width=max(1, round(width * scale)), joint="curve")
        for x, y in points:                                              # round ends and turns
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    image = image.resize((shape[1], shape[0]), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float32) / 255


def fitted(strokes, shape, margin, rng, share=(0.4, 0.9)):
    """The strokes (in any units, y down) turned by up to 15 degrees either way and stretched
    a little, then scaled to fill a random `share` of the canvas `shape` (height, width),
    `margin` px clear of its edges, at a random place."""
    angle = np.radians(rng.uniform(-15, 15))
    turn = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    stretch = np.array([rng.uniform(0.8, 1.25), 1.0])
    strokes = [(np.asarray(s, dtype=np.float64) * stretch) @ turn for s in strokes]
    low = np.min([s.min(axis=0) for s in strokes], axis=0)
    extent = np.max([s.max(axis=0) for s in strokes], axis=0) - low
    room = np.array([shape[1], shape[0]]) - 2 * margin
    scale = rng.uniform(*share) * np.min(room / np.maximum(extent, 1e-6))
    offset = margin + rng.uniform(0, 1, size=2) * (room - extent * scale)
    return [(s - low) * scale + offset for s in strokes]


def catmull_rom(points, steps=16):
    """The Catmull-Rom spline through the points (n, 2), `steps` points a span: a smooth
    curve that passes through each."""
    p = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, steps, endpoint=False)[:, None]
    spans = [0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                    + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3)
             for p0, p1, p2, p3 in zip(p, p[1:], p[2:], p[3:])]
    return np.vstack(spans + [points[-1:]])


def arc(cx, cy, rx, ry, start=0, end=360, steps=48):
    """Points along an ellipse's arc from `start` to `end` degrees (clockwise on screen)."""
    t = np.radians(np.linspace(start, end, steps))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def scribble(kind, rng):
    """The strokes of a free-hand scribble of one kind: "curve" (a smooth curve through 6-10
    random points: through fewer it often passes for a 2, 6 or 7), "loops" (3-7 loops along a
    line, as a pen is tried out), "zigzag" or "hatching" (4-12 parallel strokes, crossed by
    as many half the time)."""
    if kind == "curve":
        return [catmull_rom(rng.uniform(0, 1, size=(int(rng.integers(6, 11)), 2)))]
    if kind == "loops":
        # A prolate cycloid: a point on a wheel's spoke beyond its rim traces loops.
        t = np.linspace(0, 2 * np.pi * int(rng.integers(3, 8)), 400)
        reach = rng.uniform(1.5, 3) * (1 + 0.2 * np.sin(t / rng.uniform(2, 5)))
        return [np.stack([t - reach * np.sin(t), -reach * np.cos(t)], axis=1)]
    if kind == "zigzag":
        corners = int(rng.integers(5, 15))
        xs = np.arange(corners) + rng.uniform(-0.2, 0.2, corners)
        ys = (np.arange(corners) % 2) * rng.uniform(1.5, 5) + rng.uniform(-0.3, 0.3, corners)
        return [np.stack([xs, ys], axis=1)]
    if kind == "hatching":
        strokes, lines, length = [], int(rng.integers(4, 13)), rng.uniform(3, 10)
        for angle in [rng.uniform(30, 60)] + ([rng.uniform(110, 150)] if rng.random() < 0.5 else []):
            along = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
            across = np.array([-along[1], along[0]])
            for k in range(lines):
                start = k * across + rng.uniform(-0.5, 0.5) * along
                strokes.append(np.stack([start, start + length * rng.uniform(0.7, 1) * along]))
        return strokes
    raise ValueError(kind)


def star():
    """A five-pointed star, drawn in one closed stroke."""
    angles = np.radians(-90 + 36 * np.arange(11))
    radii = np.where(np.arange(11) % 2 == 0, 0.5, 0.2)
    return [np.stack([0.5 + radii * np.cos(angles), 0.5 + radii * np.sin(angles)], axis=1)]


def tree():
    """A tree: a trunk of two lines under a round, bumpy crown left open where they meet."""
    t = np.radians(np.linspace(110, 430, 90))
    bumps = 0.3 + 0.04 * np.sin(7 * t)
    crown = np.stack([0.5 + bumps * np.cos(t), 0.36 + bumps * np.sin(t)], axis=1)
    return [[[0.44, 0.95], [0.45, 0.62]], [[0.56, 0.95], [0.55, 0.62]], crown]


def sun():
    """A sun: a circle and ten rays."""
    directions = np.radians(np.arange(0, 360, 36))
    rays = [np.array([[np.cos(a), np.sin(a)]]) * [[0.3], [0.48]] + 0.5 for a in directions]
    return [arc(0.5, 0.5, 0.22, 0.22)] + rays


def heart():
    """A heart, the classic curve, drawn in one stroke."""
    t = np.linspace(0, 2 * np.pi, 80)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return [np.stack([x, -y], axis=1) / 34 + 0.5]


# Line drawings, each its strokes in a unit square (y down).
DRAWINGS = {
    "smiley": [arc(0.5, 0.5, 0.45, 0.45), [[0.35, 0.38]], [[0.65, 0.38]],
               arc(0.5, 0.55, 0.25, 0.2, 20, 160, 24)],
    "cat": [arc(0.5, 0.58, 0.4, 0.35, -50, 230),                                # face
            [[0.23, 0.32], [0.2, 0.05], [0.4, 0.25]], [[0.6, 0.25], [0.8, 0.05], [0.77, 0.32]],
            arc(0.36, 0.52, 0.05, 0.05, steps=16), arc(0.64, 0.52, 0.05, 0.05, steps=16),
            [[0.46, 0.64], [0.54, 0.64], [0.5, 0.69], [0.46, 0.64]],               # nose
            [[0.4, 0.68], [0.05, 0.6]], [[0.4, 0.71], [0.05, 0.73]], [[0.4, 0.74], [0.08, 0.85]],
            [[0.6, 0.68], [0.95, 0.6]], [[0.6, 0.71], [0.95, 0.73]], [[0.6, 0.74], [0.92, 0.85]]],
    "house": [[[0.15, 0.45], [0.15, 0.95], [0.85, 0.95], [0.85, 0.45]],
              [[0.08, 0.5], [0.5, 0.1], [0.92, 0.5]],
              [[0.42, 0.95], [0.42, 0.7], [0.58, 0.7], [0.58, 0.95]],
              [[0.22, 0.55], [0.36, 0.55], [0.36, 0.67], [0.22, 0.67], [0.22, 0.55]],
              [[0.29, 0.55], [0.29, 0.67]], [[0.22, 0.61], [0.36, 0.61]]],
    "sun": sun(),
    "tree": tree(),
    "star": star(),
    "heart": heart(),
    "stick_figure": [arc(0.5, 0.14, 0.1, 0.1), [[0.5, 0.24], [0.5, 0.6]],
                     [[0.28, 0.48], [0.5, 0.34], [0.72, 0.48]],
                     [[0.32, 0.95], [0.5, 0.6], [0.68, 0.95]]],
}


def letters_picture(n, fonts, rng):
    """A letter (even `n`) or a short word in one of the fonts, cased at random."""
    font = fonts[int(rng.integers(len(fonts)))]
    if n % 2 == 0:
        text, fill = LETTERS[int(rng.integers(len(LETTERS)))], (0.3, 0.8)
    else:
        word = WORDS[int(rng.integers(len(WORDS)))]
        text = [word, word.capitalize(), word.upper()][int(rng.integers(3))]
        fill = (0.2, 0.5)                                                # smaller: it is wide
    return on_paper(place(lambda size: lettering(text, font, size, rng), rng, fill), rng)


def symbols_picture(n, fonts, rng):
    """One symbol (two times in three) or two or three, in a font that draws them all."""
    count = 1 if rng.random() < 2 / 3 else int(rng.integers(2, 4))
    text = "".join(rng.choice(list(SYMBOLS), size=count))
    able = [font for font in fonts if all(drawable(char, font) for char in text)]
    font = able[int(rng.integers(len(able)))]
    fill = (0.3, 0.8) if count == 1 else (0.2, 0.5)
    return on_paper(place(lambda size: lettering(text, font, size, rng), rng, fill), rng)


def penned(strokes, rng):
    """The strokes drawn at a random size and place on a canvas by a round pen 2-12 px wide,
    but at most a 25th of the drawing's size (a thick pen fills a small drawing in), as
    on_paper writes it, never thinned (a 2 px pen's line would vanish)."""
    shape, width = canvas_shape(rng), rng.uniform(2, 12)
    strokes = fitted(strokes, shape, width, rng)
    size = np.ptp(np.vstack(strokes), axis=0).max()
    width = min(width, max(2, size / 25))
    return on_paper(pen(shape, strokes, width), rng, RESTROKES[1:])


def scribbles_picture(n, fonts, rng):
    """A scribble, the kinds in turn."""
    return penned(scribble(["curve", "loops", "zigzag", "hatching"][n % 4], rng), rng)


def drawings_picture(n, fonts, rng):
    """A line drawing, the DRAWINGS in turn, a little wobbly as by hand."""
    strokes = list(DRAWINGS.values())[n % len(DRAWINGS)]
    return penned([np.asarray(s) + rng.normal(0, 0.005, np.shape(s)) for s in strokes], rng)


def noise_picture(n, fonts, rng):
    """Noise filling a picture, the kinds in turn: Gaussian pixel noise on grey, salt and pepper,
    smooth blotches (a random grey every 10-40 px, enlarged smoothly) and colour noise."""
    height, width = canvas_shape(rng)
    kind = n % 4
    if kind == 0:
        pixels = rng.uniform(60, 200) + rng.normal(0, rng.uniform(10, 60), (height, width))
    elif kind == 1:
        pixels = np.full((height, width), rng.uniform(80, 220))
        speck = rng.random((height, width))
        share = rng.uniform(0.01, 0.2)
        pixels[speck < share / 2], pixels[speck > 1 - share / 2] = 0, 255
    elif kind == 2:
        cell = rng.uniform(10, 40)
        small = rng.random((max(2, round(height / cell)), max(2, round(width / cell))))
        smooth = Image.fromarray((255 * small).astype(np.uint8))
        smooth = smooth.resize((width, height), Image.Resampling.BICUBIC)
        low, high = sorted(rng.uniform(0, 255, size=2))
        pixels = low + (high - low) * np.asarray(smooth, dtype=np.float32) / 255
    else:
        pixels = rng.uniform(0, 255, size=3) + rng.normal(0, rng.uniform(30, 80), (height, width, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image, photo_file(rng, jpeg=0.5)


def scenes_picture(n, fonts, rng):
    """A photo-like scene: 3-8 filled shapes of random colours (rectangles, ellipses,
    polygons, each turned at random) on a two-colour gradient, blurred half the time, sensor
    noise, JPEG."""
    height, width = canvas_shape(rng)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    along = xs * np.cos(angle) + ys * np.sin(angle)
    along = ((along - along.min()) / (along.max() - along.min()))[..., None]
    background = rng.uniform(0, 255, size=3) * (1 - along) + rng.uniform(0, 255, size=3) * along
    image = Image.fromarray(background.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 9))):
        size = rng.uniform(0.1, 0.6) * min(height, width)
        centre = rng.uniform(0, 1, size=2) * [width, height]
        kind = int(rng.integers(3))
        if kind == 0:
            outline = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [1, rng.uniform(0.3, 1)] / 2
        elif kind == 1:
            outline = arc(0, 0, 0.5, rng.uniform(0.15, 0.5), steps=40)
        else:
            corners = int(rng.integers(3, 7))
            turns = np.sort(rng.uniform(0, 2 * np.pi, corners))
            outline = np.stack([np.cos(turns), np.sin(turns)], axis=1)
            outline *= rng.uniform(0.25, 0.5, size=(corners, 1))
        turn = rng.uniform(0, np.pi)
        outline = outline @ [[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]]
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.polygon([tuple(p) for p in outline * size + centre], fill=colour)
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 3)))
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, rng.uniform(2, 6), (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)), photo_file(rng, jpeg=1)


def soft(shape, draw, blur):
    """A mask of `shape` (height, width), float 0-1: what `draw(ImageDraw)` draws in 255,
    blurred by a Gaussian of radius `blur` px."""
    image = Image.new("L", (shape[1], shape[0]), 0)
    draw(ImageDraw.Draw(image))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(float(blur))), dtype=np.float32) / 255


def smudge(shape, rng):
    """A smudge's factor on the light off a page (height, width): a soft dark grey blob,
    round or smeared up to 3 times as long as wide."""
    x, y = rng.uniform(0, shape[1]), rng.uniform(0, shape[0])
    rx, ry = rng.uniform(0.05, 0.2) * min(shape) * np.array([rng.uniform(1, 3), 1])
    blob = soft(shape, lambda draw: draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=255),
                rng.uniform(0.3, 0.8) * ry)
    return 1 - rng.uniform(0.15, 0.45) * blob[..., None]


def stain(shape, rng):
    """A tea stain's factor on the light off a page: a brown ring (from most of one to a whole
    one) where a cup stood."""
    x, y, r = rng.uniform(0, shape[1]), rng.uniform(0, shape[0]), rng.uniform(0.1, 0.3) * min(shape)
    start, span, width = rng.uniform(0, 360), rng.uniform(220, 360), int(rng.integers(2, 7))
    ring = soft(shape, lambda draw: draw.arc((x - r, y - r, x + r, y + r), start, start + span,
                                             fill=255, width=width), rng.uniform(1, 3))
    return 1 - rng.uniform(0.2, 0.5) * ring[..., None] * np.array([0.3, 0.5, 0.8])  # brown


def crease(shape, rng):
    """A fold crease's factor on the light off a page: a dark line across it, a light one
    beside it (the fold's two faces)."""
    x, y, angle = rng.uniform(0, shape[1]), rng.uniform(0, shape[0]), rng.uniform(0, np.pi)
    dx, dy = 2 * max(shape) * np.cos(angle), 2 * max(shape) * np.sin(angle)
    sx, sy = np.array([-np.sin(angle), np.cos(angle)]) * rng.uniform(2, 4)
    dark = soft(shape, lambda draw: draw.line((x - dx, y - dy, x + dx, y + dy), fill=255, width=2), 1)
    bright = soft(shape, lambda draw: draw.line((x - dx + sx, y - dy + sy, x + dx + sx, y + dy + sy),
                                                fill=255, width=3), 1.5)
    return ((1 - rng.uniform(0.1, 0.3) * dark) * (1 + rng.uniform(0.04, 0.12) * bright))[..., None]


def paper_picture(n, fonts, rng):
    """Paper with nothing written on it, photographed (light falling off across it half the
    time), with 1-4 marks: smudges, tea stains, creases."""
    shape = canvas_shape(rng)
    uneven = rng.random() < 0.5
    paper = (200, 240) if uneven else (150, 240)
    page = photograph(np.zeros(shape, dtype=np.float32), rng, paper, uneven)
    marks = [smudge, stain, crease]
    for kind in rng.integers(len(marks), size=int(rng.integers(1, 5))):
        page = page * marks[kind](shape, rng)
    pixels = np.clip(page, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels), photo_file(rng)


# The pictures holding no digit, one kind a condition: each gives (image, save options) for the
# n-th picture.
NON_DIGITS = {"nondigit_letters": letters_picture, "nondigit_symbols": symbols_picture,
              "nondigit_scribbles": scribbles_picture, "nondigit_noise": noise_picture,
              "nondigit_scenes": scenes_picture, "nondigit_drawings": drawings_picture,
              "nondigit_paper": paper_picture}


def tight_scan(strength, rng):
    """A load_digits digit (strength 0-1, 8x8) cut to its ink's bounding box, as dark ink on
    light paper, enlarged with bicubic smoothing to 32-64 px on its longer side."""
    rows, cols = np.flatnonzero(strength.max(axis=1) > 0), np.flatnonzero(strength.max(axis=0) > 0)
    strength = strength[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    paper, ink = rng.uniform(215, 250), rng.uniform(20, 70)
    grey = Image.fromarray((paper - (paper - ink) * strength).astype(np.uint8))
    scale = int(rng.integers(32, 65)) / max(grey.size)
    size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
    return grey.resize(size, Image.Resampling.BICUBIC)


def generate(condition, folder, count, fonts, mnist_dir, rng):
    """Writes `count` labelled pictures of one condition into `folder`; returns [(path, label)],
    the label a digit (an int), for the number conditions the number (a str), for the
    conditions of no digit NONE."""
    os.makedirs(folder, exist_ok=True)
    written = []

    def save(image, digit, n, variant="", ext="png", **options):
        path = os.path.join(folder, f"{digit}-{n:04d}{variant}.{ext}")
        image.save(path, **options)
        written.append((path, digit))
        return path

    if condition in NON_DIGITS:
        for n in range(count):
            image, options = NON_DIGITS[condition](n, fonts, rng)
            save(image, NONE, n, **options)
        return written
    if condition in ("scans", "scans_tight"):
        from sklearn.datasets import load_digits
        digits = load_digits()
        for n, (i, d) in enumerate(balanced(digits.target, count, rng)):
            if condition == "scans_tight":
                save(tight_scan(digits.images[i] / 16, rng), d, n)
                continue
            strength = np.pad(digits.images[i] / 16, 1)                 # a little paper around
            paper, ink = rng.uniform(215, 250), rng.uniform(20, 70)
            grey = Image.fromarray((paper - (paper - ink) * strength).astype(np.uint8))
            side = int(rng.integers(32, 65))
            resample = Image.Resampling.BILINEAR if rng.random() < 0.5 else Image.Resampling.NEAREST
            grey = grey.resize((side, side), resample)
            save(grey, d, n)
        return written
    if condition == "number_scans":
        from sklearn.datasets import load_digits
        digits = load_digits()
        for n in range(count):
            number = random_number(rng, 3, 5)
            # Digits in the same writer's hand where load_digits has them (about 180 per digit).
            strengths = [digits.images[rng.choice(np.flatnonzero(digits.target == int(d)))] / 16
                         for d in number]
            row = np.pad(np.hstack([np.pad(s, ((0, 0), (0, 1))) for s in strengths]), 1)
            paper, ink = rng.uniform(215, 250), rng.uniform(20, 70)
            grey = Image.fromarray((paper - (paper - ink) * row).astype(np.uint8))
            tall = int(rng.integers(32, 65))
            size = (round(grey.width * tall / grey.height), tall)
            grey = grey.resize(size, Image.Resampling.BICUBIC)
            save(grey, number, n)
        return written
    if condition == "number_display":
        segment_fonts = display_fonts()
        for n in range(count):
            number = random_number(rng, 1, 6)
            font = segment_fonts[int(rng.integers(len(segment_fonts)))]
            ink = tilted(render(number, font, int(rng.integers(40, 121))), rng)
            margin = int(rng.uniform(0.2, 0.8) * ink.shape[0])
            mask = np.pad(ink, margin)
            image, options = on_paper(mask, rng, ("same", "thick"))
            save(image, number, n, **options)
        return written
    if condition in ("number_clean", "number_photo"):
        for n in range(count):
            number, font = random_number(rng, 2, 6), fonts[n % len(fonts)]
            mask = number_mask(number, font, rng)
            if condition == "number_clean":
                save(Image.fromarray((255 * (1 - mask)).astype(np.uint8)), number, n)
                continue
            save(Image.fromarray(photograph(mask, rng, (150, 240))), number, n, **photo_file(rng))
        return written
    if condition == "mnist_format":
        images = read_idx(mnist_dir, "t10k-images-idx3-ubyte")
        labels = np.frombuffer(read_idx(mnist_dir, "t10k-labels-idx1-ubyte"), np.uint8, offset=8)
        pixels = np.frombuffer(images, np.uint8, offset=16).reshape(-1, 28, 28)
        for n, (i, d) in enumerate(balanced(labels, count, rng)):
            save(Image.fromarray(pixels[i]), d, n)
        return written

    for n in range(count):
        digit, font = n % 10, fonts[(n // 10) % len(fonts)]
        mask = place(lambda height: glyph(digit, font, height, rng), rng)
        if condition == "clean":
            save(Image.fromarray((255 * (1 - mask)).astype(np.uint8)), digit, n)
        elif condition in ("photo", "uneven_light"):
            uneven = condition == "uneven_light"
            image = Image.fromarray(photograph(mask, rng, (200, 240) if uneven else (150, 240), uneven))
            save(image, digit, n, **photo_file(rng))
        elif condition == "page_on_table":
            save(on_table(photograph(mask, rng, (190, 245)), rng), digit, n, **photo_file(rng))
        elif condition == "canvas_alpha":
            alpha = (255 * restroke(mask, rng, ("same", "thick", "thicker", "pen"))).astype(np.uint8)
            white = rng.random() < 0.75
            # A canvas exports fully transparent pixels as (0, 0, 0, 0); strokes keep their colour.
            rgb = np.where(alpha[..., None] > 0, 255 if white else 0, 0).repeat(3, axis=2)
            rgba = np.dstack([rgb, alpha]).astype(np.uint8)
            save(Image.fromarray(rgba, "RGBA"), digit, n, "-white" if white else "-black")
        elif condition == "exif_rotated":
            upright = Image.fromarray((255 * (1 - mask)).astype(np.uint8)).convert("RGB")
            orientation = [6, 8, 3][n % 3]
            exif = Image.Exif()
            exif[0x0112] = orientation
            exif[0x010F], exif[0x0110] = "Phone", "Camera"
            path = save(upright.transpose(STORE_TURN[orientation]), digit, n, f"-o{orientation}",
                        "jpg", quality=int(rng.integers(70, 91)), exif=exif)
            with Image.open(path) as check:                              # a viewer shows it upright
                shown = np.asarray(ImageOps.exif_transpose(check).convert("L"), np.float32)
            assert shown.shape == mask.shape and np.abs(shown - 255 * (1 - mask)).mean() < 8, path
        else:
            raise ValueError(condition)
    return written


def score(binary, run, pictures, batch):
    """Runs `infer --json` on the pictures, `batch` files a call; returns (correct, the reasons
    of the "not a digit" answers ("number": null): {reason: count}, the refusals' reasons:
    {reason: count}). A picture without an answer is a refusal. A picture of no digit is read
    right when answered "not a digit" or refused; one of digits when read exactly."""
    correct, not_digit, refusals = 0, {}, {}
    for start in range(0, len(pictures), batch):
        chunk = pictures[start:start + batch]
        try:
            done = subprocess.run([binary, "infer", "--run", run, "--json"]
                                  + [path for path, _ in chunk], capture_output=True, text=True)
        except FileNotFoundError:
            sys.exit(f"no trainer at {binary}: `cargo build --release`, or name it with --binary")
        answers = {}
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                answer = json.loads(line)
                answers[answer["file"]] = answer
        if not answers and done.returncode != 0 and "error: " + chunk[0][0] not in done.stderr:
            sys.exit(f"infer failed: {done.stderr.strip()}")
        errors = done.stderr.splitlines()
        for path, label in chunk:
            answer = answers.get(path)
            if answer is None:
                reason = next((line[len(f"error: {path}: "):] for line in errors
                               if line.startswith(f"error: {path}: ")), "no answer")
                refusals[reason] = refusals.get(reason, 0) + 1
                correct += label == NONE
            elif answer["number"] is None:
                reason = answer.get("reason") or "not a digit"
                not_digit[reason] = not_digit.get(reason, 0) + 1
                correct += label == NONE
            elif label != NONE:
                # A number is read right when every digit is; a digit when its class is.
                field = "number" if isinstance(label, str) else "class"
                correct += answer[field] == label
    return correct, not_digit, refusals


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="the run whose model reads the pictures")
    parser.add_argument("--binary", help="the trainer (default: cargo's release build of this "
                        "repo, wherever its target folder is)")
    parser.add_argument("--mnist-dir", default=os.path.join(REPO, "../shared/data/mnist"),
                        help="folder of MNIST's t10k IDX files (default: ../shared/data/mnist of this repo)")
    parser.add_argument("--out", help="folder for the pictures, one sub-folder per condition "
                        "(default: a temporary folder, removed afterwards)")
    parser.add_argument("--per-condition", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help="comma-separated subset of: " + ", ".join(CONDITIONS))
    parser.add_argument("--batch", type=int, default=200, help="files per infer call")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    parser.add_argument("--save-only", action="store_true", help="write the pictures, score nothing")
    args = parser.parse_args()
    conditions = [c for c in args.conditions.split(",") if c]
    unknown = sorted(set(conditions) - set(CONDITIONS))
    if unknown:
        parser.error(f"unknown condition {', '.join(unknown)}; choose from {', '.join(CONDITIONS)}")
    if args.save_only and not args.out:
        parser.error("--save-only needs --out")
    if not args.save_only and not args.run:
        parser.error("name the run with --run (or pass --save-only)")
    if not args.save_only and not args.binary:
        from seeds import binary  # cargo's target folder, wherever it is
        args.binary = binary()
    needs_fonts = set(conditions) - WITHOUT_FONTS
    fonts = find_fonts() if needs_fonts else []

    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.abspath(args.out or scratch)
        rows = []
        for condition in conditions:
            rng = np.random.default_rng([args.seed, CONDITIONS.index(condition)])
            pictures = generate(condition, os.path.join(out, condition), args.per_condition,
                                fonts, args.mnist_dir, rng)
            if args.save_only:
                continue
            correct, not_digit, refusals = score(args.binary, args.run, pictures, args.batch)
            rows.append({"condition": condition, "pictures": len(pictures), "correct": correct,
                         "accuracy": round(100 * correct / max(1, len(pictures)), 2),
                         "not_digit": sum(not_digit.values()), "not_digit_reasons": not_digit,
                         "refused": sum(refusals.values()), "refusals": refusals})
    if args.save_only:
        print(f"wrote {args.per_condition} pictures for each of {', '.join(conditions)} under {out}")
        return
    if args.json:
        print(json.dumps({"run": args.run, "seed": args.seed, "per_condition": args.per_condition,
                          "fonts": [os.path.basename(f) for f in fonts], "conditions": rows}, indent=1))
        return
    fonts_used = f", {len(fonts)} fonts" if fonts else ""
    print(f"run {args.run}: pictures read correctly, seed {args.seed}{fonts_used}")
    print(f"{'condition':<18} {'pictures':>8} {'correct':>8} {'not a digit':>12} {'refused':>8}")
    for row in rows:
        print(f"{row['condition']:<18} {row['pictures']:>8} {row['accuracy']:>7.1f}% "
              f"{row['not_digit']:>12} {row['refused']:>8}")
    for row in rows:
        for reason, count in sorted(row["not_digit_reasons"].items(), key=lambda item: -item[1]):
            print(f"  {row['condition']}: {count} answered: {reason}")
        for reason, count in sorted(row["refusals"].items(), key=lambda item: -item[1]):
            print(f"  {row['condition']}: {count} refused: {reason}")


if __name__ == "__main__":
    main()
