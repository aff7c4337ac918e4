#!/usr/bin/python3
"""Writes an ImageFolder tree of photo-like JPEGs for the image-reader benchmark
(bench/bench_images.cpp, bench/images_torchvision.py):

    /usr/bin/python3 bench/make_images.py OUT [--classes 4] [--per-class 100]
                                              [--size 500x375] [--quality 90] [--seed 0]

writes OUT/train/class_<k>/img_<i>.JPEG and a quarter as many under OUT/val/. The pictures are
coloured 1/f noise (the power spectrum of natural photographs falls as about 1/f^2) with a few
sharp-edged shapes, so that they compress to about ImageNet's file sizes (500x375, quality 90:
~100 KB) and decode at about the cost of real photographs; flat or random-noise pictures would
decode much faster or much slower.
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageDraw


def photo_like(rng, width, height):
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    amplitude = 1.0 / f ** 1.1
    amplitude[0, 0] = 0.0
    mix = rng.normal(size=(3, 3)) * 0.4 + np.eye(3)  # correlated colour channels
    planes = []
    for _ in range(3):
        phase = rng.uniform(0, 2 * np.pi, size=amplitude.shape)
        plane = np.fft.irfft2(amplitude * np.exp(1j * phase), s=(height, width))
        planes.append(plane / plane.std())
    rgb = np.tensordot(mix, np.stack(planes), axes=1)
    rgb = 128 + 40 * rgb + rng.normal(scale=6, size=rgb.shape)  # sensor noise
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8).transpose(1, 2, 0))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        x1, y1 = x0 + rng.integers(20, width // 2), y0 + rng.integers(20, height // 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    return image


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--size", default="500x375")
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(args.seed)
    total = 0
    for split, count in (("train", args.per_class), ("val", max(1, args.per_class // 4))):
        for k in range(args.classes):
            folder = os.path.join(args.out, split, f"class_{k:03d}")
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                path = os.path.join(folder, f"img_{i:05d}.JPEG")
                photo_like(rng, width, height).save(path, quality=args.quality)
                total += os.path.getsize(path)
    files = args.classes * (args.per_class + max(1, args.per_class // 4))
    print(f"{files} JPEGs of {width}x{height} in {args.out}, mean {total / files / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
