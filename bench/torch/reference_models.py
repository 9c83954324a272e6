"""Kiln's architectures in PyTorch (bench/torch/reference.py): WideResNet-22 and the ResNet-9s, Kiln's initialisation."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from reference_io import fail

ARCHS = ("resnet-9", "resnet-9-s", "wrn-22")
NUM_CLASSES = 10


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
