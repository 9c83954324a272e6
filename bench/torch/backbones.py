"""PyTorch's side of bench/backbones.ts: torchvision's ResNet-18, ResNet-50 and MobileNetV2 (random weights: speed
does not depend on them) on the same machine, batch and threads. Prints one JSON object a line:

  {"arch": "resnet18", "size": 224, "forward": <images/s, eval, no_grad>, "train": <images/s, SGD step>}

  /usr/bin/python3 bench/torch/backbones.py [--sizes 128,160,224] [--batch 16] [--threads 2] [--batches 3] [--train-batches 2]
"""
import argparse
import json
import time

import torch
from torchvision.models import mobilenet_v2, resnet18, resnet50

MODELS = {"resnet18": resnet18, "resnet50": resnet50, "mobilenetv2": mobilenet_v2}


def rate(fn, batch, batches):
    fn()  # warm-up
    t = time.perf_counter()
    for _ in range(batches):
        fn()
    return batch * batches / (time.perf_counter() - t)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="128,160,224")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batches", type=int, default=3)
    p.add_argument("--train-batches", type=int, default=2)
    p.add_argument("--archs", default=",".join(MODELS))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for arch in a.archs.split(","):
        model = MODELS[arch](num_classes=10)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        for size in (int(s) for s in a.sizes.split(",")):
            x = torch.randn(a.batch, 3, size, size)
            y = torch.randint(0, 10, (a.batch,))
            model.eval()

            def forward():
                with torch.no_grad():
                    model(x)

            fwd = rate(forward, a.batch, a.batches)
            model.train()

            def step():
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()

            train = rate(step, a.batch, a.train_batches)
            print(json.dumps({"arch": arch, "size": size, "forward": round(fwd, 2), "train": round(train, 2)}), flush=True)


if __name__ == "__main__":
    main()
