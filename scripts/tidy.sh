#!/usr/bin/env bash
# clang-tidy (.clang-tidy's checks) over the project's sources, using build/'s compile commands.
#   usage: scripts/tidy.sh [files...]   (default: every .cpp of the modules)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f build/compile_commands.json ]] || bash scripts/build.sh
files=("$@")
((${#files[@]})) || mapfile -t files < <(git ls-files 'common/*.cpp' 'mi/*.cpp' 'trials/*.cpp' \
  'search/*.cpp' 'storage/*.cpp' 'experiments/*.cpp' 'report/*.cpp' 'engine/*.cpp' 'engine/cli/*.cpp' |
  grep -v -e step_graph_cuda.cpp -e mi/ksg_cpu.cpp)
# step_graph_cuda.cpp needs a CUDA LibTorch; ksg_cpu.cpp's SIMD kernels use GCC vector builtins
# that clang does not parse.
findings=$(clang-tidy -p build --quiet "${files[@]}" 2>&1 | grep -E "warning:|error:" || true)
if [[ -n "$findings" ]]; then
  echo "$findings"
  exit 1
fi
echo "clang-tidy: clean"
