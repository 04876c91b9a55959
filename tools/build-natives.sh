#!/usr/bin/env bash
# Builds rnn4j's native libraries (the C shim, the cpu backend's kernels librnn4j_cpu.so and,
# where nvcc is found, librnn4j_cuda.so) with
# CMake during the Maven build, when CMake and a C compiler are on the PATH. Without them the
# jar is built without native libraries: this prints why, writes the reason to the status files
# the tests read, and exits 0. At run time the CUDA backend then reports that the library was not
# built and the cpu backend runs its Java kernels; reference, cpu and opencl need no library of ours.
# Usage: build-natives.sh SOURCE_DIR BUILD_DIR OUTPUT_DIR VERSION [CMAKE]
set -euo pipefail
src="$1" build="$2" out="$3" version="$4" cmake="${5:-cmake}"
mkdir -p "$build"
missing=""
if ! command -v "$cmake" >/dev/null 2>&1; then
  missing="$cmake not found on the PATH"
elif ! command -v "${CC:-cc}" >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1 && ! command -v clang >/dev/null 2>&1; then
  missing="no C compiler (cc, gcc or clang) on the PATH"
fi
if [ -n "$missing" ]; then
  rm -f "$out"/*.so   # a library left by an earlier build with CMake would contradict the note below
  printf 'not built: %s\n' "$missing" > "$build/rnn4j-cuda-status.txt"
  printf 'not built: %s\n' "$missing" > "$build/rnn4j-native-status.txt"
  # Packed into the jar, so that the backends' reasons can say why at run time.
  mkdir -p "$out"
  printf 'this jar was built without native libraries: %s\n' "$missing" > "$out/build-status.txt"
  echo "[rnn4j] WARNING: building the jar without native libraries ($missing)."
  echo "[rnn4j] WARNING: the CUDA backend will report that its library was not built; the cpu backend runs its Java kernels; reference, cpu and opencl work as usual."
  exit 0
fi
"$cmake" -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRNN4J_OUTPUT_DIR="$out" -DRNN4J_VERSION="$version"
"$cmake" --build "$build" --parallel 2
rm -f "$out/build-status.txt"
printf 'built\n' > "$build/rnn4j-native-status.txt"
