"""How well a trained run's model reads the pictures people really give `infer`, one condition at
a time, on pictures it never trained on (it trained on MNIST only). Each condition is written as
labelled pictures (`<digit>-<n>[-<variant>].<ext>`) into its own folder under --out, sent to
`infer --json` and scored:

  clean          handwriting-font digits, black on white, evenly lit, PNG, 100-400 px canvases
  photo          the same as photographed: grey or off-white paper (150-240), black, grey or
                 blue ink, thinner or thicker strokes, blur, sensor noise, JPEG (60-90) or PNG
  uneven_light   photo, with the light falling off across the page (paper ~230 down to ~90)
  canvas_alpha   an HTML canvas export: white (3 in 4) or black strokes on a transparent RGBA PNG
  exif_rotated   clean's kind of picture as a phone JPEG whose pixels lie rotated, with EXIF
                 Orientation 6, 8 or 3 turning it upright in a viewer (compare with clean)
  scans          real handwriting, scikit-learn's load_digits (8x8, 43 writers) as dark ink on
                 light paper, scaled to 32-64 px like a low-resolution scan
  mnist_format   MNIST test images as 28x28 grey PNGs, white on black, as MNIST stores them
  number_clean   numbers of 2-6 digits in one handwriting font, each digit its own size and
                 slant, spaced as handwriting is (a few touching), black on white
  number_photo   the same numbers as photographed (photo's paper, ink, blur, noise, JPEG)
  number_scans   numbers of 3-5 real low-resolution handwritten digits (scans' load_digits,
                 one writer's digits side by side), scaled to 32-64 px tall

A number is read right when `infer --json`'s "number" is exactly it: every digit right, none
missing, none extra.

    cargo build --release
    python3 bench/real_pictures.py --run artifacts/<run> --per-condition 200 --seed 1
    python3 bench/real_pictures.py --run artifacts/<run> --json --out /tmp/pictures
    python3 bench/real_pictures.py --save-only --out /tmp/pictures --conditions photo,scans

Prints, per condition, the pictures, the share read correctly and how many `infer` refused (a
refusal counts as wrong; the reasons follow the table). Needs numpy, Pillow and scikit-learn,
MNIST's t10k IDX files (--mnist-dir, raw or .gz) and handwriting fonts from Debian:

    apt-get install -y fonts-dkg-handwriting fonts-breip fonts-rufscript fonts-sjfonts \\
        fonts-humor-sans fonts-kristi fonts-comic-neue fonts-bwht fonts-dancingscript \\
        fonts-kaushanscript
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONDITIONS = ["clean", "photo", "uneven_light", "canvas_alpha", "exif_rotated", "scans",
              "mnist_format", "number_clean", "number_photo", "number_scans"]
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


def glyph(digit, font_path, height, rng):
    """The digit in that font as an ink mask (float 0-1, 1 = ink) about `height` px tall,
    slightly rotated and cropped to its ink."""
    def render(size):
        font = ImageFont.truetype(font_path, size)
        x0, y0, x1, y1 = font.getbbox(str(digit))
        image = Image.new("L", (x1 - x0 + 8, y1 - y0 + 8), 0)
        ImageDraw.Draw(image).text((4 - x0, 4 - y0), str(digit), fill=255, font=font)
        return image.crop(image.getbbox())
    probe = render(200)
    image = render(max(8, round(200 * height / probe.height)))
    image = image.rotate(rng.uniform(-6, 6), resample=Image.Resampling.BICUBIC, expand=True)
    return np.asarray(image.crop(image.getbbox()), dtype=np.float32) / 255


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


def restroke(mask, rng, choices=("thin", "same", "same", "thick", "thicker")):
    """The ink mask with strokes made thinner (erosion, only on big digits) or thicker (dilation)."""
    choice = choices[rng.integers(len(choices))]
    rows = np.flatnonzero(mask.max(axis=1) > 0.5)
    if choice == "same" or (choice == "thin" and rows.size and rows[-1] - rows[0] < 90):
        return mask
    size = {"thin": 3, "thick": 3, "thicker": 5, "pen": 7}[choice]
    image = Image.fromarray((mask * 255).astype(np.uint8))
    image = image.filter(ImageFilter.MinFilter(size) if choice == "thin" else ImageFilter.MaxFilter(size))
    return np.asarray(image, dtype=np.float32) / 255


def photograph(mask, rng, paper, uneven=False):
    """The ink mask as a phone photo (uint8 RGB): tinted paper of a grey level drawn from
    `paper`, black, grey or blue ink, varying strokes, blur and sensor noise; with `uneven`,
    light falling off across the page."""
    mask = restroke(mask, rng)
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


def generate(condition, folder, count, fonts, mnist_dir, rng):
    """Writes `count` labelled pictures of one condition into `folder`; returns [(path, label)],
    the label a digit (an int) or, for the number conditions, the number (a str)."""
    os.makedirs(folder, exist_ok=True)
    written = []

    def save(image, digit, n, variant="", ext="png", **options):
        path = os.path.join(folder, f"{digit}-{n:04d}{variant}.{ext}")
        image.save(path, **options)
        written.append((path, digit))
        return path

    if condition == "scans":
        from sklearn.datasets import load_digits
        digits = load_digits()
        for n, (i, d) in enumerate(balanced(digits.target, count, rng)):
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
    if condition in ("number_clean", "number_photo"):
        for n in range(count):
            number, font = random_number(rng, 2, 6), fonts[n % len(fonts)]
            mask = number_mask(number, font, rng)
            if condition == "number_clean":
                save(Image.fromarray((255 * (1 - mask)).astype(np.uint8)), number, n)
                continue
            image = Image.fromarray(photograph(mask, rng, (150, 240)))
            if rng.random() < 0.75:
                save(image, number, n, ext="jpg", quality=int(rng.integers(60, 91)))
            else:
                save(image, number, n)
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
            if rng.random() < 0.75:
                save(image, digit, n, ext="jpg", quality=int(rng.integers(60, 91)))
            else:
                save(image, digit, n)
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
    """Runs `infer --json` on the pictures, `batch` files a call; returns (correct, refusal
    reasons: {reason: count}). A picture without an answer is a refusal."""
    correct, refusals = 0, {}
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
        for path, digit in chunk:
            if path in answers:
                # A number is read right when every digit is; a digit when its class is.
                field = "number" if isinstance(digit, str) else "class"
                correct += answers[path][field] == digit
                continue
            reason = next((line[len(f"error: {path}: "):] for line in errors
                           if line.startswith(f"error: {path}: ")), "no answer")
            refusals[reason] = refusals.get(reason, 0) + 1
    return correct, refusals


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
    needs_fonts = set(conditions) - {"scans", "mnist_format", "number_scans"}
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
            correct, refusals = score(args.binary, args.run, pictures, args.batch)
            rows.append({"condition": condition, "pictures": len(pictures), "correct": correct,
                         "accuracy": round(100 * correct / max(1, len(pictures)), 2),
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
    print(f"{'condition':<14} {'pictures':>8} {'correct':>8} {'refused':>8}")
    for row in rows:
        print(f"{row['condition']:<14} {row['pictures']:>8} {row['accuracy']:>7.1f}% {row['refused']:>8}")
    for row in rows:
        for reason, count in sorted(row["refusals"].items(), key=lambda item: -item[1]):
            print(f"  {row['condition']}: {count} refused: {reason}")


if __name__ == "__main__":
    main()
