#!/usr/bin/env python3
"""GPU sharing figure (issue 6), PyTorch twin of bench_gpu_share.cpp for a GPU machine without
the C++ build's Debian packages: N processes each train the LeNet of trials/models.cpp (conv 6,
conv 16, fc 120, dropout 0.5, fc 10; SGD momentum 0.9, batch 256) on 60000 28x28 images held on
the device, as the engine's workers do. Prints aggregate training images/s for N = 1, 4, 8 and
the ratio to N = 1. Epoch 1 (CUDA start-up, cuDNN autotuning) is left out: the window runs from
the first process ending epoch 1 to the last one ending its last epoch. Random pixels: the
throughput does not depend on the values.

    python3 bench/gpu_share.py [--epochs 12] [--train 60000] [--batch 256] [--n 1,4,8]
"""
import argparse
import multiprocessing as mp
import time


def trial(index, args, queue):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(index)
    device = torch.device(args.device)

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(400, 120)
            self.fc2 = nn.Linear(120, 10)
            self.dropout = nn.Dropout(0.5)

        def forward(self, x):
            a = F.max_pool2d(F.relu(self.conv1(x)), 2)
            a = F.max_pool2d(F.relu(self.conv2(a)), 2)
            a = F.relu(self.fc1(a.flatten(1)))
            return self.fc2(self.dropout(a))

    net = LeNet().to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(args.train, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (args.train,), device=device)
    stamps = []
    for epoch in range(args.epochs):
        order = torch.randperm(args.train, device=device)
        loss_sum = torch.zeros((), device=device)
        for begin in range(0, args.train, args.batch):
            idx = order[begin:begin + args.batch]
            opt.zero_grad()
            loss = F.cross_entropy(net(x.index_select(0, idx)), y.index_select(0, idx))
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
        loss_sum.item()  # one host synchronisation per epoch, as the C++ trial loop does
        stamps.append(time.monotonic())
    queue.put((stamps[0], stamps[-1]))


def run(n, args):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=trial, args=(i, args, queue)) for i in range(n)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a trial process failed ({p.exitcode})")
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    return n * args.train * (args.epochs - 1) / (end - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--train", type=int, default=60000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--n", default="1,4,8")
    args = parser.parse_args()
    args.epochs = max(2, args.epochs)
    print(f"LeNet, {args.train} images, batch {args.batch}, {args.epochs} epochs "
          f"(epoch 1 left out), {args.device}", flush=True)
    alone = None
    for n in [int(v) for v in args.n.split(",")]:
        rate = run(n, args)
        alone = alone or rate
        print(f"N={n} concurrent trials: {rate:.0f} images/s aggregate "
              f"({rate / alone:.2f}x one trial alone)", flush=True)


if __name__ == "__main__":
    main()
