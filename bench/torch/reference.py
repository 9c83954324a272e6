#!/usr/bin/python3
"""PyTorch reference for Kiln's benchmark: same architectures and recipe as the tfjs engine.

Kiln's `npm run bench` runs this as a subprocess and parses the JSON lines it prints on stdout;
anything human-readable goes to stderr so that stdout stays machine-parseable.

Run it with Debian's interpreter (`/usr/bin/python3`, which has `python3-torch`); uses only the
standard library, torch and numpy.

Subcommands:
  params     --arch A                      -> {"arch","trainableParams"}
  throughput --arch A [--batch --threads --steps --warmup --seconds --device cpu|cuda]
                                           -> {"arch","trainImagesPerSec","inferImagesPerSec","threads","torch",...}
  train      --data DIR_OR_TARBALL --arch A [recipe flags]
                                           -> one {"type":"epoch",...} line per epoch, then {"type":"done",...}
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import sys
import tarfile
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ARCHS = ("resnet-9", "resnet-9-s", "wrn-22")
NUM_CLASSES = 10
RECORD_BYTES = 3073  # 1 label byte + 3 * 1024 channel-planar pixel bytes
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILE = "test_batch.bin"


def emit(obj: dict) -> None:
    """One JSON object per line, flushed, so the parent can stream progress epoch by epoch."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def fail(msg: str) -> None:
    """Bad input ends with one line on stderr and exit status 2, never a traceback."""
    log(f"reference.py: {msg}")
    sys.exit(2)


# --------------------------------------------------------------------------------------------
# Architectures
# --------------------------------------------------------------------------------------------

def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    # The recipe's convs carry no bias: BN right after makes one redundant.
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


class WideBlock(nn.Module):
    """Pre-activation block of the fast.ai DAWNBench WRN: the shortcut branches off after bn1/relu."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = conv3x3(c_in, c_out, stride)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = conv3x3(c_out, c_out)
        needs_proj = c_in != c_out or stride != 1
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False) if needs_proj else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x2 = F.relu(self.bn1(x))
        r = self.shortcut(x2) if self.shortcut is not None else x
        h = self.conv1(x2)
        h = self.conv2(F.relu(self.bn2(h)))
        return h + r


class WideResNet(nn.Module):
    def __init__(self, k: int = 6, groups: int = 3, blocks_per_group: int = 3, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.stem = conv3x3(3, 16)
        layers: list[nn.Module] = []
        c_in = 16
        for g in range(groups):
            width = 16 * k * 2 ** g
            for b in range(blocks_per_group):
                stride = 2 if (g > 0 and b == 0) else 1
                layers.append(WideBlock(c_in, width, stride))
                c_in = width
        self.blocks = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(c_in)
        self.fc = nn.Linear(c_in, num_classes, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        h = F.relu(self.bn(h))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(conv3x3(c_in, c_out), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(c, c), conv_bn(c, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet9(nn.Module):
    """David Page's DAWNBench ResNet-9; the 0.125 output scale keeps initial logits small."""

    def __init__(self, widths: tuple[int, int, int, int], num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths
        self.features = nn.Sequential(
            conv_bn(3, w0),
            conv_bn(w0, w1), nn.MaxPool2d(2), Residual(w1),
            conv_bn(w1, w2), nn.MaxPool2d(2),
            conv_bn(w2, w3), nn.MaxPool2d(2), Residual(w3),
        )
        self.fc = nn.Linear(w3, num_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.flatten(F.adaptive_max_pool2d(self.features(x), 1), 1)
        return self.fc(h) * 0.125


def init_weights(model: nn.Module) -> None:
    """Recipe init, stated explicitly so it does not drift with torch's own defaults (kaiming_uniform(a=√5))."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_in))
        elif isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.in_features)
            nn.init.uniform_(m.weight, -bound, bound)
            if m.bias is not None:
                nn.init.uniform_(m.bias, -bound, bound)
        elif isinstance(m, nn.BatchNorm2d):
            # torch defaults already match the recipe (eps 1e-5, momentum 0.1); set them anyway to be explicit.
            m.eps, m.momentum = 1e-5, 0.1
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_model(arch: str) -> nn.Module:
    if arch == "wrn-22":
        model: nn.Module = WideResNet(k=6, groups=3, blocks_per_group=3)
    elif arch == "resnet-9":
        model = ResNet9((64, 128, 256, 512))
    elif arch == "resnet-9-s":
        model = ResNet9((16, 32, 64, 128))
    else:
        fail(f"--arch: expected one of {', '.join(ARCHS)}, got {arch!r}")
    init_weights(model)
    return model


def trainable_params(model: nn.Module) -> int:
    # BN running stats are buffers, not parameters, so they are excluded as recipe.md requires.
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


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


# --------------------------------------------------------------------------------------------
# Recipe: schedule, loss, optimiser
# --------------------------------------------------------------------------------------------

@dataclass
class Schedule:
    lr_max: float
    total_steps: int
    warmup: float = 0.25
    shape: str = "linear"
    start_div: float = 20.0
    final_div: float = 1000.0
    mom_max: float = 0.95
    mom_min: float = 0.85

    def shape_fn(self) -> Callable[[float], float]:
        if self.shape == "cosine":
            return lambda a: (1.0 - math.cos(math.pi * a)) / 2.0
        return lambda a: a

    def at(self, step: int) -> tuple[float, float]:
        """(lr, momentum) for the optimiser step with 0-based index `step` (p = step / T, as recipe.md)."""
        s = self.shape_fn()
        p = step / self.total_steps
        lr_start, lr_end = self.lr_max / self.start_div, self.lr_max / self.final_div
        if p < self.warmup:
            a = s(p / self.warmup)
            return lr_start + (self.lr_max - lr_start) * a, self.mom_max - (self.mom_max - self.mom_min) * a
        a = s((p - self.warmup) / (1.0 - self.warmup))
        return self.lr_max - (self.lr_max - lr_end) * a, self.mom_min + (self.mom_max - self.mom_min) * a


def make_optimizer(model: nn.Module, weight_decay: float, nesterov: bool, exclude_bn_bias: bool) -> torch.optim.SGD:
    """torch's SGD is exactly the recipe's update (its first-step buf = g equals v = μ·0 + g)."""
    if not exclude_bn_bias:
        groups = [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    else:
        # 1-D parameters are exactly the BN gammas/betas and the biases in these nets.
        decay = [p for p in model.parameters() if p.ndim > 1]
        no_decay = [p for p in model.parameters() if p.ndim <= 1]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=0.0, momentum=0.9, dampening=0.0, nesterov=nesterov)


def set_hyper(opt: torch.optim.Optimizer, lr: float, momentum: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr
        g["momentum"] = momentum


# --------------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------------

def batches(n: int, batch: int, order: np.ndarray | None, drop_last: bool) -> Iterator[np.ndarray]:
    idx = order if order is not None else np.arange(n)
    end = (n // batch) * batch if drop_last else n
    for i in range(0, end, batch):
        yield idx[i:min(i + batch, end)]


@torch.no_grad()
def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 500) -> dict[str, float]:
    """Plain CE loss, accuracy, and flip-TTA accuracy (argmax of mean softmax), BN on running stats."""
    model.eval()
    loss_sum, correct, tta_correct = 0.0, 0, 0
    for idx in batches(len(y), batch, None, drop_last=False):
        xb, yb = torch.from_numpy(x[idx]), torch.from_numpy(y[idx])
        logits = model(xb)
        flipped = model(torch.flip(xb, dims=[3]))
        loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
        probs = (F.softmax(logits, 1) + F.softmax(flipped, 1)) / 2.0
        tta_correct += (probs.argmax(1) == yb).sum().item()
    n = len(y)
    return {"loss": loss_sum / n, "acc": correct / n, "tta": tta_correct / n}


def train_epoch(model: nn.Module, opt: torch.optim.Optimizer, sched: Schedule, step0: int,
                x: np.ndarray, y: np.ndarray, args: argparse.Namespace, rng: np.random.Generator) -> tuple[float, float, int]:
    """One pass; returns (mean smoothed loss, train accuracy on the augmented batches, steps taken)."""
    model.train()
    order = rng.permutation(len(y))
    loss_sum, correct, seen, step = 0.0, 0, 0, step0
    for idx in batches(len(y), args.batch, order, drop_last=True):
        lr, mom = sched.at(step)
        set_hyper(opt, lr, mom)
        # Augmenting per batch keeps memory at one batch (the whole 50k split padded would be ~2 GB);
        # its cost is counted in the epoch time, as Kiln's batch assembly is.
        xb, yb = torch.from_numpy(augment(x[idx], rng, args.cutout)), torch.from_numpy(y[idx])
        logits = model(xb)
        # torch's label_smoothing target is (1-ε)·onehot + ε/K, exactly recipe.md's.
        loss = F.cross_entropy(logits, yb, label_smoothing=args.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * len(idx)
        correct += (logits.argmax(1) == yb).sum().item()
        seen += len(idx)
        step += 1
    return loss_sum / max(seen, 1), correct / max(seen, 1), step - step0


def cmd_train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t_load = time.perf_counter()
    train, test = load_cifar(args.data)
    n_train = len(train.labels) if args.train_limit is None else min(args.train_limit, len(train.labels))
    # recipe.md takes stats from the full training split; "subset" matches an engine that imported only
    # the first N records as its dataset (the difference is ~0.001 on the 0..1 scale, kept selectable anyway).
    mean, std = channel_stats(train.images if args.stats_from == "full" else train.images[:n_train])
    n_test = len(test.labels) if args.test_limit is None else min(args.test_limit, len(test.labels))
    x_train, y_train = normalise(train.images[:n_train], mean, std), train.labels[:n_train]
    x_test, y_test = normalise(test.images[:n_test], mean, std), test.labels[:n_test]
    log(f"loaded {n_train} train / {n_test} test in {time.perf_counter() - t_load:.1f}s; mean {mean.round(4)} std {std.round(4)}")

    steps_per_epoch = n_train // args.batch
    if steps_per_epoch == 0:
        fail(f"--batch {args.batch} is larger than the {n_train} training images; no full batch to train on")
    model = build_model(args.arch)
    opt = make_optimizer(model, args.weight_decay, args.nesterov, args.exclude_bn_bias)
    sched = Schedule(args.lr_max, args.epochs * steps_per_epoch, args.warmup, args.shape, args.start_div, args.final_div)

    t0 = time.perf_counter()
    step, ev = 0, {"acc": float("nan"), "tta": float("nan")}
    for epoch in range(1, args.epochs + 1):
        te = time.perf_counter()
        tl, ta, taken = train_epoch(model, opt, sched, step, x_train, y_train, args, rng)
        step += taken
        ev = evaluate(model, x_test, y_test)
        emit({"type": "epoch", "epoch": epoch, "trainLoss": tl, "trainAcc": ta, "valLoss": ev["loss"],
              "valAcc": ev["acc"], "ttaAcc": ev["tta"], "seconds": time.perf_counter() - te})
    emit({"type": "done", "valAcc": ev["acc"], "ttaAcc": ev["tta"], "seconds": time.perf_counter() - t0,
          "torch": torch.__version__, "arch": args.arch, "trainImages": n_train, "testImages": n_test,
          "steps": step, "threads": torch.get_num_threads()})


# --------------------------------------------------------------------------------------------
# Throughput
# --------------------------------------------------------------------------------------------

# Default (warmup, steps) per arch: sized so each arch takes roughly 10-20 s on a 2-core CPU.
DEFAULT_STEPS = {"resnet-9-s": (3, 20), "resnet-9": (1, 3), "wrn-22": (1, 3)}


def timed(fn: Callable[[], None], warmup: int, steps: int) -> list[float]:
    """Per-call seconds for `steps` calls after `warmup` untimed ones (first calls pay allocator/oneDNN set-up).

    Each call is timed on its own so the caller can take the median: the 2 cores are shared with other
    jobs, and a median shrugs off the bursts of contention that would drag a plain mean down.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def cmd_throughput(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    # On a GPU, channels-last: cuDNN's fastest layout (and the one Kiln's WebGPU kernels use). The CPU figures
    # keep the default layout they have always been measured in.
    layout = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    model = build_model(args.arch).to(device, memory_format=layout)
    x = torch.randn(args.batch, 3, 32, 32).to(device).contiguous(memory_format=layout)
    y = torch.randint(0, NUM_CLASSES, (args.batch,)).to(device)
    # A GPU runs asynchronously: a step is over when the device says so.
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    opt = make_optimizer(model, 5e-4, True, False)
    set_hyper(opt, 0.01, 0.9)  # small lr so random data cannot blow the weights up across steps
    warmup, steps = DEFAULT_STEPS[args.arch]
    warmup = args.warmup if args.warmup is not None else warmup
    steps = args.steps if args.steps is not None else steps

    def train_step() -> None:
        loss = F.cross_entropy(model(x), y, label_smoothing=0.2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync()

    @torch.no_grad()
    def infer_step() -> None:
        model(x)
        sync()

    model.train()
    timed(train_step, warmup, 0)
    cpu0 = time.process_time()
    train_t = timed(train_step, 0, steps)
    # CPU seconds of all threads per timed step: on a shared machine images per CPU-second is what the work itself
    # cost, while wall time also measures the neighbours.
    train_cpu = (time.process_time() - cpu0) / steps
    model.eval()
    infer_t = timed(infer_step, warmup, steps)
    # Headline figures use the median step; the mean-based ones are kept to show how noisy the run was.
    emit({"arch": args.arch, "trainImagesPerSec": args.batch / statistics.median(train_t),
          "inferImagesPerSec": args.batch / statistics.median(infer_t), "threads": torch.get_num_threads(),
          "torch": torch.__version__, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
          "batch": args.batch, "steps": steps, "warmup": warmup,
          "trainImagesPerSecMean": args.batch * steps / sum(train_t),
          "inferImagesPerSecMean": args.batch * steps / sum(infer_t),
          "trainCpuSecondsPerStep": train_cpu,
          "trainStepSeconds": [round(t, 4) for t in train_t], "inferStepSeconds": [round(t, 4) for t in infer_t]})


def cmd_params(args: argparse.Namespace) -> None:
    emit({"arch": args.arch, "trainableParams": trainable_params(build_model(args.arch))})


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

def positive_int(s: str) -> int:
    v = int(s)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s}")
    return v


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="reference.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--arch", required=True, choices=ARCHS)

    common(sub.add_parser("params", help="trainable parameter count"))

    tp = sub.add_parser("throughput", help="images/s for a training step and for inference")
    common(tp)
    tp.add_argument("--batch", type=positive_int, default=128)
    tp.add_argument("--threads", type=positive_int, default=2)
    tp.add_argument("--device", default="cpu", help="cpu, or cuda for a GPU (channels-last fp32, default cuDNN settings)")
    tp.add_argument("--steps", type=positive_int, default=None, help="timed steps (default per arch)")
    tp.add_argument("--warmup", type=int, default=None, help="untimed steps first (default per arch)")
    tp.add_argument("--seed", type=int, default=0)

    tr = sub.add_parser("train", help="train on CIFAR-10 with the recipe in recipe.md")
    common(tr)
    tr.add_argument("--data", required=True, help="cifar-10-binary.tar.gz or a folder with the .bin files")
    tr.add_argument("--train-limit", type=positive_int, default=None, help="use the first N training records")
    tr.add_argument("--test-limit", type=positive_int, default=None, help="evaluate on the first N test records")
    tr.add_argument("--epochs", type=positive_int, default=4)
    tr.add_argument("--batch", type=positive_int, default=128)
    tr.add_argument("--lr-max", type=float, default=0.1)
    tr.add_argument("--weight-decay", type=float, default=5e-4)
    tr.add_argument("--exclude-bn-bias", action="store_true", help="no weight decay on BN params and biases")
    tr.add_argument("--label-smoothing", type=float, default=0.2)
    tr.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=True)
    tr.add_argument("--warmup", type=float, default=0.25)
    tr.add_argument("--shape", choices=("linear", "cosine"), default="linear")
    tr.add_argument("--start-div", type=float, default=20.0)
    tr.add_argument("--final-div", type=float, default=1000.0)
    tr.add_argument("--cutout", type=int, choices=(0, 8), default=0)
    tr.add_argument("--stats-from", choices=("full", "subset"), default="full",
                    help="normalisation stats from all 50,000 training images or only the --train-limit ones")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--threads", type=positive_int, default=2)
    args = p.parse_args(argv)
    if args.cmd == "train" and not 0.0 <= args.warmup < 1.0:
        fail(f"--warmup: expected a fraction in [0, 1), got {args.warmup}")
    return args


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if hasattr(args, "threads"):
        torch.set_num_threads(args.threads)
    {"params": cmd_params, "throughput": cmd_throughput, "train": cmd_train}[args.cmd](args)


if __name__ == "__main__":
    main(sys.argv[1:])
