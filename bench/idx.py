"""MNIST IDX files (raw or gzipped) as numpy arrays, for the PyTorch baselines."""

import gzip
import os

import numpy as np


def _read(path):
    for candidate in (path, path + ".gz"):
        if os.path.exists(candidate):
            with open(candidate, "rb") as f:
                data = f.read()
            return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    raise FileNotFoundError(path)


def load_split(data_dir, prefix):
    """prefix: 'train' or 't10k'. Returns (uint8 [n, 28, 28], uint8 [n])."""
    images = _read(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte"))
    labels = _read(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte"))
    count = int.from_bytes(images[4:8], "big")
    # Copies: torch refuses to share read-only buffers.
    pixels = np.frombuffer(images, dtype=np.uint8, offset=16).reshape(count, 28, 28).copy()
    return pixels, np.frombuffer(labels, dtype=np.uint8, offset=8).copy()
