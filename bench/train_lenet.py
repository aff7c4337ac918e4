#!/usr/bin/env python3
"""The Python PyTorch twin of `bench_train`'s training loop, for an images/s comparison with the
C++ engine on the same machine (bench/train_vs_python.sh runs both, alternately). Like for like
with the trial loop (trials/trial.cpp):

- the same LeNet-5 (trials/models.cpp), batch, SGD (lr 0.05, momentum 0.9, Nesterov) and data
  (all 60k Fashion-MNIST images as one float tensor in [0, 1] on the device);
- each epoch: a fresh shuffle, batches gathered with index_select, zero_grad(set_to_none=True)
  (what the trial does, and PyTorch 2's default), forward, cross-entropy, backward, step, and the
  loss and accuracy sums the trial records, kept on the device: one host sync, at the epoch's end;
- timed the same: from the epoch's start to its metrics on the host;
- threads: --threads N sets LibTorch's pool to N (0 = one per core, as `bench_train --threads 0`)
  and OpenBLAS's pool to N as well, as the engine's set_threads does (--blas-threads overrides;
  -1 leaves OpenBLAS at its default of one thread per core).

    /usr/bin/python3 bench/train_lenet.py [--device cuda] [--epochs 5] [--batch 256] [--threads N]
"""
import argparse
import ctypes
import gzip
import os
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


def set_blas_threads(n):
    """OpenBLAS keeps one thread per core whatever torch.set_num_threads says (the engine pins
    it too: trials/trial.cpp, set_threads). Returns whether an OpenBLAS was found."""
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(n)
        return True
    except (OSError, AttributeError):
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--blas-threads", type=int, default=None)
    args = parser.parse_args()
    threads = args.threads if args.threads > 0 else os.cpu_count()
    torch.set_num_threads(threads)
    blas = threads if args.blas_threads is None else args.blas_threads
    if blas > 0:
        set_blas_threads(blas)
    device = torch.device(args.device)
    images = torch.from_numpy(read_idx(f"{args.data}/train-images-idx3-ubyte.gz").copy())
    labels = torch.from_numpy(read_idx(f"{args.data}/train-labels-idx1-ubyte.gz").copy())
    x = images.unsqueeze(1).float().div_(255).to(device)
    y = labels.long().to(device)
    torch.manual_seed(1)
    net = LeNet().to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    n = x.shape[0]
    print(f"python lenet fashion-mnist device={args.device} batch={args.batch} train={n} "
          f"threads={threads} blas_threads={blas if blas > 0 else 'default'}")
    for epoch in range(1, args.epochs + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        net.train()
        order = torch.randperm(n, device=device)
        loss_sum, correct = None, None
        for begin in range(0, n, args.batch):
            idx = order[begin : begin + args.batch]
            inputs, targets = x.index_select(0, idx), y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            outputs = net(inputs)
            loss = F.cross_entropy(outputs, targets)
            loss.backward()
            opt.step()
            batch_loss = loss.detach() * idx.numel()
            batch_correct = outputs.detach().argmax(1).eq(targets).sum()
            loss_sum = batch_loss if loss_sum is None else loss_sum.add_(batch_loss)
            correct = batch_correct if correct is None else correct.add_(batch_correct)
        mean_loss, accuracy = loss_sum.item() / n, correct.item() / n
        seconds = time.perf_counter() - start
        print(f"python epoch {epoch}: {seconds:.3f} s, {n / seconds:.0f} images/s, "
              f"loss {mean_loss:.4f} acc {accuracy:.4f}")


if __name__ == "__main__":
    main()
