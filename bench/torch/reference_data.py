"""CIFAR-10's binary layout read from a folder or the tarball, normalised and augmented (bench/torch/reference.py)."""
from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass

import numpy as np

from reference_io import fail
from reference_models import NUM_CLASSES

RECORD_BYTES = 3073  # 1 label byte + 3 * 1024 channel-planar pixel bytes
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILE = "test_batch.bin"


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

@dataclass
class Split:
    images: np.ndarray  # uint8, N x 3 x 32 x 32 (the file's own channel-planar layout)
    labels: np.ndarray  # int64, N


def parse_records(blob: bytes, source: str) -> Split:
    if len(blob) % RECORD_BYTES != 0:
        fail(f"{source}: size {len(blob)} is not a multiple of the {RECORD_BYTES}-byte CIFAR-10 record")
    rec = np.frombuffer(blob, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = rec[:, 0].astype(np.int64)
    if labels.max(initial=0) >= NUM_CLASSES:
        fail(f"{source}: label byte {int(labels.max())} is outside 0..9")
    return Split(rec[:, 1:].reshape(-1, 3, 32, 32).copy(), labels)


def read_cifar_files(path: str) -> dict[str, bytes]:
    """Returns file name -> bytes for the six batch files, from a .tar.gz (read in memory) or a folder."""
    wanted = set(TRAIN_FILES + [TEST_FILE])
    found: dict[str, bytes] = {}
    if os.path.isfile(path):
        try:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    name = os.path.basename(member.name)
                    if member.isfile() and name in wanted:
                        found[name] = tar.extractfile(member).read()
        except tarfile.TarError as e:
            fail(f"{path}: not a readable .tar.gz of the CIFAR-10 binary layout ({str(e).splitlines()[0]})")
    elif os.path.isdir(path):
        # Accept either the unpacked folder itself or its parent.
        for root in (path, os.path.join(path, "cifar-10-batches-bin")):
            for name in wanted - found.keys():
                p = os.path.join(root, name)
                if os.path.isfile(p):
                    with open(p, "rb") as f:
                        found[name] = f.read()
    else:
        fail(f"--data: {path} is neither a file nor a folder")
    missing = sorted(wanted - found.keys())
    if missing:
        fail(f"{path}: missing CIFAR-10 binary files {', '.join(missing)}")
    return found


def load_cifar(path: str) -> tuple[Split, Split]:
    files = read_cifar_files(path)
    parts = [parse_records(files[n], n) for n in TRAIN_FILES]
    train = Split(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]))
    return train, parse_records(files[TEST_FILE], TEST_FILE)


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and population std on the 0..1 scale, matching src-main/datasets/channel-stats.ts."""
    x = images.astype(np.float64) / 255.0
    return x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))


def normalise(images: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32) / 255.0
    return ((x - mean.reshape(1, 3, 1, 1)) / std.reshape(1, 3, 1, 1)).astype(np.float32)


def augment(x: np.ndarray, rng: np.random.Generator, cutout: int) -> np.ndarray:
    """Fresh per-image augmentation: reflect-pad 4, random 32x32 crop, flip p=0.5, optional cutout.

    Vectorised with gather indices rather than a Python loop per image, so it costs a few ms per
    batch and does not distort the timing comparison.
    """
    n = x.shape[0]
    padded = np.pad(x, ((0, 0), (0, 0), (4, 4), (4, 4)), mode="reflect")
    dy = rng.integers(0, 9, size=n)
    dx = rng.integers(0, 9, size=n)
    flip = rng.random(n) < 0.5
    ar = np.arange(32)
    rows = dy[:, None] + ar[None, :]                                    # n x 32
    cols = dx[:, None] + np.where(flip[:, None], 31 - ar[None, :], ar[None, :])  # flip = read columns backwards
    out = padded[np.arange(n)[:, None, None, None], np.arange(3)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    if cutout > 0:
        cy = rng.integers(0, 32, size=n)
        cx = rng.integers(0, 32, size=n)
        half = cutout // 2
        in_y = (ar[None, :] >= (cy - half)[:, None]) & (ar[None, :] < (cy + cutout - half)[:, None])
        in_x = (ar[None, :] >= (cx - half)[:, None]) & (ar[None, :] < (cx + cutout - half)[:, None])
        mask = in_y[:, :, None] & in_x[:, None, :]                     # n x 32 x 32, clipped at edges for free
        out[np.broadcast_to(mask[:, None], out.shape)] = 0.0
    return np.ascontiguousarray(out, dtype=np.float32)
