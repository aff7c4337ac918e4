#!/usr/bin/python3
"""Writes the paper's LeNet as a TorchScript file: the same layers as the built-in `lenet`
(trials/models.cpp), with `forward_layers` for layer-wise MI-SGD (docs/trials.md, "TorchScript
models"). bench_train --torchscript trains it next to the native LeNet; the tests script it too.

    /usr/bin/python3 bench/script_lenet.py lenet.pt [--no-forward-layers] [--classes 10]
                                          [--channels 1] [--size 28] [--seed 0]
"""
import argparse
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    """conv1 5x5 (padding 2) + ReLU, max pool 2, conv2 5x5 + ReLU, max pool 2, fc1 + ReLU,
    dropout, fc2: layer by layer the built-in lenet with its default options."""

    def __init__(self, channels=1, size=28, classes=10, c1=6, c2=16, hidden=120, dropout=0.5):
        super().__init__()
        flat = ((size // 2 - 4) // 2) ** 2 * c2
        self.conv1 = nn.Conv2d(channels, c1, 5, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, 5)
        self.fc1 = nn.Linear(flat, hidden)
        self.fc2 = nn.Linear(hidden, classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(self.dropout(x))

    # The post-activation output of every trainable child (conv1, conv2, fc1, fc2, in the order
    # they are defined), the last being forward(x).
    @torch.jit.export
    def forward_layers(self, x) -> List[torch.Tensor]:
        a1 = F.relu(self.conv1(x))
        a2 = F.relu(self.conv2(F.max_pool2d(a1, 2)))
        a3 = F.relu(self.fc1(F.max_pool2d(a2, 2).flatten(1)))
        return [a1, a2, a3, self.fc2(self.dropout(a3))]


class LeNetWithoutLayers(LeNet):
    """The same network without forward_layers: model-wise MI-SGD only."""

    @torch.jit.ignore
    def forward_layers(self, x) -> List[torch.Tensor]:
        raise NotImplementedError


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--no-forward-layers", action="store_true")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    kind = LeNetWithoutLayers if args.no_forward_layers else LeNet
    net = kind(channels=args.channels, size=args.size, classes=args.classes)
    torch.jit.script(net).save(args.out)


if __name__ == "__main__":
    main()
