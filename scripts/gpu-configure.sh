#!/usr/bin/env bash
# Prepares a GPU machine (python3 with a CUDA PyTorch, nvcc, CMake, ninja; no Debian -dev
# packages) and configures build-gpu/ against PyTorch's CUDA LibTorch. Debian's -dev packages
# travel as .deb files in .gpu/debs (extracted to /opt/deps), Fashion-MNIST in .gpu/fashion-mnist.
#   usage: bash scripts/gpu-configure.sh OUT_DIR [extra cmake arguments]
set -uo pipefail
cd "$(dirname "$0")/.."
out=$1
shift
mkdir -p "$out" /opt/deps /usr/share/datasets/fashion-mnist
for f in .gpu/debs/*.deb; do dpkg -x "$f" /opt/deps; done
cp -n .gpu/fashion-mnist/*.gz /usr/share/datasets/fashion-mnist/ 2>/dev/null || true
libdir=/opt/deps/usr/lib/x86_64-linux-gnu
# zlib's runtime is the machine's own: point the carried dev symlink at it.
system_libz=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')
[[ -n "$system_libz" ]] && ln -sf "$system_libz" "$libdir/libz.so"
torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix;/opt/deps/usr" -DCMAKE_LIBRARY_PATH="$libdir" \
  -DCMAKE_INCLUDE_PATH=/opt/deps/usr/include -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
  -DCMAKE_CUDA_ARCHITECTURES=90 "$@" >"$out/configure.log" 2>&1 ||
  { tail -30 "$out/configure.log"; exit 1; }
grep "automl:" "$out/configure.log"
