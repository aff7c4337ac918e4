"""Your own network and data, tuned by automl (README.md, "Tune your own model").

    /usr/bin/python3 model.py       # Debian's python3-torch; writes the three files below

- model.pt: a small CNN, scripted with torch.jit.script and saved (experiment.yaml's
  model.torchscript). forward(x) gives the class logits; forward_layers(x) gives the output of
  each trainable child module in order, the last being forward(x): the per-layer T that
  layer-wise MI-SGD measures, one learning rate per child.
- data/train.pt, data/test.pt: Fashion-MNIST images as tensors (data.format: tensors), each
  torch.save({"x": X, "y": Y}) with X float32 [N, 1, 28, 28] in [0, 1] and Y int64 labels 0..9.
  Your own data go the same way: float X [N, F] or [N, C, H, W]; integer Y for classes, float Y
  ([N] or [N, T]) for regression (then data.task: regression).
"""
import argparse
import gzip
import os
from typing import List

import numpy as np
import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        # Each trainable child is one layer for layer-wise MI-SGD (its own LR).
        self.conv1 = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(16 * 5 * 5, 64), nn.ReLU())
        self.out = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(x)[-1]

    @torch.jit.export
    def forward_layers(self, x: torch.Tensor) -> List[torch.Tensor]:
        a = self.conv1(x)
        b = self.conv2(a)
        c = self.hidden(b)
        return [a, b, c, self.out(c)]


def read_idx(path: str, header_bytes: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


def fashion_mnist(directory: str, split: str, n: int, seed: int):
    """n images of the split, drawn by seed, as (float32 [n, 1, 28, 28] in [0, 1], int64 [n])."""
    images = read_idx(os.path.join(directory, f"{split}-images-idx3-ubyte.gz"), 16)
    labels = read_idx(os.path.join(directory, f"{split}-labels-idx1-ubyte.gz"), 8)
    x = torch.from_numpy(images.reshape(-1, 1, 28, 28).copy()).float().div_(255)
    y = torch.from_numpy(labels.astype(np.int64))
    pick = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:n]
    return x[pick].contiguous(), y[pick].contiguous()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist",
                        help="directory of the IDX files (Debian's dataset-fashion-mnist)")
    parser.add_argument("--train", type=int, default=2000, help="training images")
    parser.add_argument("--test", type=int, default=1000, help="test images")
    parser.add_argument("--out", default=here, help="where model.pt and data/ go")
    args = parser.parse_args()

    # The file's weights are every trial's initial weights (a trial's seed draws its data order,
    # not new weights): seed them so that the example gives the same numbers on every machine.
    torch.manual_seed(1)
    torch.jit.script(SmallCNN()).save(os.path.join(args.out, "model.pt"))
    os.makedirs(os.path.join(args.out, "data"), exist_ok=True)
    for split, prefix, n in [("train", "train", args.train), ("test", "t10k", args.test)]:
        x, y = fashion_mnist(args.fashion_mnist, prefix, n, seed=0)
        torch.save({"x": x, "y": y}, os.path.join(args.out, "data", split + ".pt"))
    print(f"wrote {args.out}/model.pt and {args.out}/data/{{train,test}}.pt "
          f"({args.train} + {args.test} Fashion-MNIST images)")


if __name__ == "__main__":
    main()
