#!/usr/bin/python3
"""The torchvision twin of `bench_images`: decoded, augmented images/s of an ImageFolder tree
through torchvision's usual ImageNet training pipeline (ImageFolder + DataLoader,
RandomResizedCrop + RandomHorizontalFlip + ToTensor + Normalize), batches collated as a
training loop receives them. Prints one line: `torchvision <images/s> images/s ...`.

    /usr/bin/python3 bench/images_torchvision.py ROOT [--workers 2] [--size 224] [--batch 64]
                                                      [--epochs 2]
"""
import argparse
import time

import torch
from torchvision import datasets, transforms


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    transform = transforms.Compose([
        transforms.RandomResizedCrop(args.size),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    dataset = datasets.ImageFolder(args.root + "/train", transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, shuffle=True,
                                         num_workers=args.workers,
                                         persistent_workers=args.workers > 0)
    rates = []
    for epoch in range(args.epochs):
        start, images, checksum = time.perf_counter(), 0, 0.0
        for inputs, targets in loader:
            images += inputs.shape[0]
            checksum += float(inputs[:, :, 0, 0].sum())  # touch the batch, as training would
        rates.append(images / (time.perf_counter() - start))
    # The first epoch includes starting the workers; report the best epoch and all of them.
    print(f"torchvision {max(rates):.1f} images/s (epochs: "
          f"{', '.join(f'{r:.1f}' for r in rates)}; {len(dataset)} images, "
          f"{args.workers} workers, batch {args.batch}, size {args.size})")


if __name__ == "__main__":
    main()
