#!/usr/bin/env python3
"""The Python PyTorch twin of `bench_train`: the same LeNet-5 model (trials/models.cpp), the same
batch, optimizer and loop (data held on the device, shuffled by index, no host sync inside the
epoch), for an images/s comparison with the C++ engine on the same machine.

    python3 bench/train_lenet.py --device cuda --epochs 5 --batch 256
"""
import argparse
import gzip
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class LeNet(nn.Module):
    def __init__(self, c1=6, c2=16, hidden=120, outputs=10, dropout=0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 5, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, 5)
        self.fc1 = nn.Linear(c2 * 5 * 5, hidden)
        self.fc2 = nn.Linear(hidden, outputs)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(self.dropout(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    images = torch.from_numpy(read_idx(f"{args.data}/train-images-idx3-ubyte.gz").copy())
    labels = torch.from_numpy(read_idx(f"{args.data}/train-labels-idx1-ubyte.gz").copy())
    x = images.unsqueeze(1).float().div_(255).to(device)
    y = labels.long().to(device)
    torch.manual_seed(1)
    net = LeNet().to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    n = x.shape[0]
    for epoch in range(1, args.epochs + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        net.train()
        order = torch.randperm(n, device=device)
        loss_sum = torch.zeros((), device=device)
        for begin in range(0, n, args.batch):
            idx = order[begin : begin + args.batch]
            inputs, targets = x.index_select(0, idx), y.index_select(0, idx)
            opt.zero_grad()
            loss = F.cross_entropy(net(inputs), targets)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * idx.numel()
        mean_loss = (loss_sum / n).item()
        seconds = time.perf_counter() - start
        print(f"python epoch {epoch}: {seconds:.3f} s, {n / seconds:,.0f} images/s, loss {mean_loss:.4f}")


if __name__ == "__main__":
    main()
