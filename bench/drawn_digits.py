"""How well a served model reads digits drawn the way people draw them: strokes, not MNIST
digits scaled up. Each digit is a few pen strokes (a template per digit, written by hand here),
drawn with random stroke width, size, aspect, slant, rotation, position and wobble on a white
280x280 canvas, as the page's drawing area is, sent to a running `serve` as PNG, and scored.

    cargo run --release -- serve --run artifacts/<run> --port 8080 &
    python3 bench/drawn_digits.py --url http://127.0.0.1:8080 --per-digit 100 --seed 1

Prints the accuracy per digit and overall, and (with --save DIR) writes the drawings as PNGs.
Needs numpy.
"""

import argparse
import json
import math
import struct
import urllib.request
import zlib

import numpy as np

SIDE = 280


def arc(cx, cy, rx, ry, start, end, steps=24):
    """Points on an ellipse from angle `start` to `end` (degrees; 0 is right, 90 is down)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(start, end, steps)]


# Each digit: a list of strokes, each a list of points in the unit square (y down).
TEMPLATES = {
    0: [arc(0.5, 0.5, 0.28, 0.42, -90, 270, 40)],
    1: [[(0.38, 0.22), (0.52, 0.08), (0.52, 0.92)]],
    2: [arc(0.5, 0.3, 0.25, 0.2, 190, 360) + [(0.7, 0.48), (0.25, 0.9), (0.78, 0.9)]],
    3: [arc(0.48, 0.28, 0.24, 0.19, 200, 450) + arc(0.48, 0.7, 0.28, 0.22, -90, 150)],
    4: [[(0.6, 0.08), (0.2, 0.62), (0.8, 0.62)], [(0.62, 0.35), (0.62, 0.92)]],
    5: [[(0.75, 0.1), (0.32, 0.1), (0.28, 0.45)] + arc(0.5, 0.66, 0.26, 0.24, -120, 150)],
    6: [[(0.68, 0.08), (0.42, 0.3), (0.28, 0.6)] + arc(0.5, 0.7, 0.22, 0.2, 180, 540)],
    7: [[(0.2, 0.12), (0.8, 0.12), (0.42, 0.92)]],
    8: [arc(0.5, 0.28, 0.2, 0.18, 90, 450) + arc(0.5, 0.7, 0.24, 0.22, -90, 270)],
    9: [arc(0.5, 0.3, 0.22, 0.2, 0, 360) + [(0.72, 0.3), (0.66, 0.92)]],
}


def draw(digit, rng):
    """One drawing of `digit`: 280x280 grey levels, dark ink on white."""
    width = rng.uniform(8, 30)             # stroke width in canvas pixels
    size = rng.uniform(0.35, 0.9) * SIDE   # the digit's height on the canvas
    aspect = rng.uniform(0.7, 1.25)
    slant = rng.uniform(-0.3, 0.3)
    angle = math.radians(rng.uniform(-15, 15))
    cos, sin = math.cos(angle), math.sin(angle)
    margin = size / 2 + width
    cx = rng.uniform(margin, SIDE - margin) if SIDE > 2 * margin else SIDE / 2
    cy = rng.uniform(margin, SIDE - margin) if SIDE > 2 * margin else SIDE / 2

    def place(point):
        x, y = point[0] - 0.5, point[1] - 0.5
        x, y = (x + slant * -y) * aspect * size, y * size
        return cx + cos * x - sin * y, cy + sin * x + cos * y

    ys, xs = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) + 0.5
    distance = np.full((SIDE, SIDE), np.inf, dtype=np.float32)
    for stroke in TEMPLATES[digit]:
        points = [place((x + rng.normal(0, 0.015), y + rng.normal(0, 0.015))) for x, y in stroke]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            dx, dy = x1 - x0, y1 - y0
            length2 = dx * dx + dy * dy or 1e-9
            t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0, 1)
            d = np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy))
            np.minimum(distance, d, out=distance)
    # Ink where within half the stroke width, with a one-pixel soft edge.
    ink = np.clip(width / 2 - distance + 0.5, 0, 1)
    return (255 * (1 - ink)).astype(np.uint8)


def png(grey):
    """A greyscale PNG, written with the standard library only."""
    height, width = grey.shape
    raw = b"".join(b"\x00" + grey[row].tobytes() for row in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def predict(url, body):
    request = urllib.request.Request(url + "/api/predict", data=body, method="POST",
                                     headers={"Content-Type": "image/png"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--per-digit", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", help="folder to write the drawings into, as <digit>-<n>.png")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with urllib.request.urlopen(args.url + "/api/model", timeout=30) as response:
        model = json.load(response)
    correct = [0] * 10
    for digit in range(10):
        for n in range(args.per_digit):
            body = png(draw(digit, rng))
            if args.save:
                with open(f"{args.save}/{digit}-{n}.png", "wb") as f:
                    f.write(body)
            correct[digit] += predict(args.url, body)["class"] == digit
    total = sum(correct) / (10 * args.per_digit)
    print(f"model {model['model']} from {model['run']}: drawn digits read correctly, "
          f"{args.per_digit} per digit, seed {args.seed}")
    print("  ".join(f"{d}: {100 * c / args.per_digit:.0f}%" for d, c in enumerate(correct)))
    print(f"overall: {100 * total:.1f}%")


if __name__ == "__main__":
    main()
