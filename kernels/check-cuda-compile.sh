#!/usr/bin/env bash
# Checks that every kernel source in this directory also compiles as CUDA C++ through
# rnn4j_compat.h, the way the CUDA build will use them: each .cl file alone
# (`nvcc -x cu -c`), then all of them in one translation unit (to catch name clashes).
# Usage: kernels/check-cuda-compile.sh [extra nvcc flags...]   (NVCC=... to pick the compiler)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nvcc="${NVCC:-nvcc}"
command -v "$nvcc" >/dev/null 2>&1 || { echo "check-cuda-compile: $nvcc not found" >&2; exit 2; }
arch="${CUDA_ARCH:-sm_80}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0
all="$tmp/all_kernels.cu"
: > "$all"
for f in "$here"/*.cl; do
    name="$(basename "$f" .cl)"
    if "$nvcc" -x cu -arch="$arch" -Werror all-warnings -c "$f" -o "$tmp/$name.o" "$@"; then
        echo "ok    $name.cl"
    else
        echo "FAIL  $name.cl" >&2
        status=1
    fi
    echo "#include \"$f\"" >> "$all"
done
if "$nvcc" -arch="$arch" -Werror all-warnings -c "$all" -o "$tmp/all_kernels.o" "$@"; then
    echo "ok    all kernels in one translation unit"
else
    echo "FAIL  all kernels in one translation unit" >&2
    status=1
fi
exit $status
