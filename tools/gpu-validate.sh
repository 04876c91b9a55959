#!/usr/bin/env bash
# Validates the CUDA backend on a machine with an NVIDIA GPU (see docs/gpu-validation.md).
#
#  1. builds rnn4j with the JDK (needs nvcc: CMake builds librnn4j_cuda.so only when it finds it)
#  2. makes the jlinked runtime .jre/ (tools/make-jre.sh) and runs everything below on it
#  3. ./rnn4j devices                                  the cuda line must say "available"
#  4. ./rnn4j conformance --backend cuda tests/conformance   every conformance file on the GPU
#  5. the CUDA JUnit tests (every primitive vs the reference on awkward shapes, both GEMM paths,
#     lifecycle, the conformance files through ConformanceRunner) with RNN4J_REQUIRE_CUDA=1, so
#     a test that would skip for lack of CUDA fails instead
#  6. the C tests of the native build (ctest), whose CUDA test adds a GPU smoke test (required)
#
# Output goes to the terminal and to target/gpu-validation/ (one log per step and summary.txt,
# which is what to copy into docs/gpu-validation.md). Exits non-zero if any step fails.
# Environment: CUDA_VISIBLE_DEVICES / RNN4J_JAVA_OPTS (e.g. -Drnn4j.cuda.device=1) as usual;
# SKIP_BUILD=1 reuses the existing target/ (e.g. a build copied from another machine).
set -uo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd -P)"
cd "$root"
out="$root/target/gpu-validation"
mkdir -p "$out"
summary="$out/summary.txt"
: > "$summary"
failed=0

say() { echo "$*" | tee -a "$summary"; }

# step NAME COMMAND...: runs the command with its output in $out/NAME.log, records PASS/FAIL.
step() {
  local name="$1"; shift
  echo "== $name: $*"
  local t0=$SECONDS
  if "$@" 2>&1 | tee "$out/$name.log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    say "PASS  $name ($((SECONDS - t0)) s)"
  else
    say "FAIL  $name ($((SECONDS - t0)) s), log: $out/$name.log"
    failed=1
  fi
}

say "rnn4j CUDA validation, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
if command -v nvidia-smi >/dev/null 2>&1; then
  say "GPU(s): $(nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader | paste -sd ';' -)"
else
  say "nvidia-smi not found: is this a GPU machine with the NVIDIA driver installed?"
fi
say "nvcc: $(command -v nvcc >/dev/null 2>&1 && nvcc --version | tail -n 2 | head -n 1 || echo 'not found')"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  # The launcher builds with the full JDK (it finds one >= 25) and marks the jar current.
  step build ./rnn4j version
  if ! grep -qx built target/native/rnn4j-cuda-status.txt 2>/dev/null; then
    say "FAIL  build: librnn4j_cuda.so was not built ($(cat target/native/rnn4j-cuda-status.txt 2>/dev/null || echo 'no status file')); install the CUDA toolkit (CMake must find nvcc: PATH or CUDACXX), or build elsewhere and use SKIP_BUILD=1"
    exit 1
  fi
fi

step jre tools/make-jre.sh
jre="$root/.jre"

step devices env JAVA_HOME="$jre" ./rnn4j devices
if ! grep -Eq '^cuda +available ' "$out/devices.log"; then
  say "FAIL  devices check: the cuda line does not say available (see $out/devices.log)"
  failed=1
fi
grep -E '^cuda ' "$out/devices.log" >> "$summary"

step conformance env JAVA_HOME="$jre" ./rnn4j conformance --backend cuda tests/conformance
tail -n 1 "$out/conformance.log" >> "$summary"

# surefire:test runs the compiled tests in a JVM started from .jre/bin/java (the jvm parameter).
step junit env RNN4J_REQUIRE_CUDA=1 mvn -B surefire:test -Djvm="$jre/bin/java" \
  -Dtest='Cuda*,ConformanceTest' -Dsurefire.failIfNoSpecifiedTests=false
grep -E 'Tests run:.*(Cuda|ConformanceTest)|^\[(WARNING|ERROR)\] Tests run:' "$out/junit.log" >> "$summary"

step ctest env RNN4J_REQUIRE_CUDA=1 ctest --test-dir target/native --output-on-failure --verbose
grep -E 'test_cuda:' "$out/ctest.log" >> "$summary"

if [ "$failed" -eq 0 ]; then say "RESULT: all steps passed"; else say "RESULT: FAILED"; fi
echo "summary: $summary"
exit "$failed"
