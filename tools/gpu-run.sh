#!/usr/bin/env bash
# run.sh of the GPU validation bundle (tools/gpu-bundle.sh copies this file into the bundle):
# the whole CUDA validation of rnn4j on a machine that has the NVIDIA driver and nothing else
# of ours: the bundle brings its Java runtime, jars, tests, C test binaries and data. PyTorch is
# used only by the peers step. See docs/gpu-validation.md.
#
# Steps (each timed; a failing step does not stop the others):
#   devices      rnn4j devices: the cuda line must say available, with GEMM on cuBLAS
#   conformance  every conformance file on the cuda backend
#   junit        every CUDA JUnit test (test/selectors.txt) with RNN4J_REQUIRE_CUDA=1 and
#                RNN4J_REQUIRE_CUBLAS=1: none may fail or skip
#   native-core, native-cuda   the C tests (test_cuda with RNN4J_REQUIRE_CUDA=1: GPU smoke test)
#   memcheck, racecheck        compute-sanitizer on the conformance run
#   bench        JMH: the layer and SRU-recurrence benchmarks on cuda
#   peers        bench/peers.py: cuDNN LSTM/GRU and the SRU reference kernel, FP32 (no TF32)
#
# Each step ends as PASS, FAIL, NO-DRIVER (it stopped at the CUDA runtime's
# cudaErrorInsufficientDriver (35) and at nothing else), or MISSING (a tool of the machine
# it needs, compute-sanitizer or PyTorch, is absent). Output: $OUT (else ./results/) holds
# report.txt (the summary) and logs.tar.gz (logs/: one log per step, the JUnit XML reports,
# bench.csv, any JVM crash report): two files, as the device tool brings back at most eight.
# Exit status 0 only if every step passed.
#
# Environment: OUT; STEPS="devices junit ..." to run only some; BENCH_JMH_ARGS to replace the
# JMH timing options; RNN4J_JAVA_OPTS (e.g. -Drnn4j.cuda.device=1) for every JVM.
set -uo pipefail

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd -P)"
out="${OUT:-$here/results}"
mkdir -p "$out"
out="$(cd "$out" && pwd -P)"
report="$out/report.txt"
: > "$report"
logs="$out/logs"
rm -rf "$logs" "$out/logs.tar.gz"
mkdir -p "$logs"
java="$here/jre/bin/java"
no_driver='cudaErrorInsufficientDriver (35)'
# shellcheck disable=SC2206
jvm=(--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss8m "-XX:ErrorFile=$logs/hs_err_pid%p.log" -Djava.io.tmpdir="$out/tmp" ${RNN4J_JAVA_OPTS:-})
mkdir -p "$out/tmp"
cp_main="$here/lib/rnn4j.jar"
for j in "$here"/lib/*.jar; do [ "$j" = "$here/lib/rnn4j.jar" ] || cp_main="$cp_main:$j"; done
rnn4j() { "$java" "${jvm[@]}" -cp "$cp_main" dev.rnn4j.cli.Main "$@"; }
steps="${STEPS:-devices conformance junit native-core native-cuda memcheck racecheck bench peers}"
failed=0

say() { echo "$*" | tee -a "$report"; }
# The first log line naming the missing driver, shortened, for the report.
driver_line() { grep -m 1 -o "[^:]*: *$no_driver[^\"<]*" "$1" | cut -c 1-200; }

# step NAME CHECK COMMAND...: runs COMMAND with its output in $logs/NAME.log, then CHECK NAME
# (a function) decides the outcome from the exit status ($rc) and the log.
step() {
  local name="$1" check="$2"; shift 2
  case " $steps " in *" $name "*) ;; *) return 0 ;; esac
  local log="$logs/$name.log" t0 t1 outcome detail
  echo "== $name: $*"
  t0=$(date +%s.%N)
  "$@" > "$log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  detail=""
  outcome="$("$check" "$name" "$log")"
  detail="${outcome#* }"; outcome="${outcome%% *}"
  [ "$detail" = "$outcome" ] && detail=""
  case "$outcome" in PASS) ;; *) failed=1 ;; esac
  say "$(printf '%-9s %-12s %6.1f s  %s' "$outcome" "$name" "$(echo "$t1 - $t0" | awk '{print $1 - $3}')" "$detail")"
}

# Generic outcome: PASS on exit 0, NO-DRIVER if the log names the missing driver, else FAIL.
plain() {
  if [ "$rc" -eq 0 ]; then echo "PASS"; return; fi
  if grep -q "$no_driver" "$2"; then echo "NO-DRIVER $(driver_line "$2")"; return; fi
  echo "FAIL exit $rc: $(grep -v '^\s*$' "$2" | tail -n 1 | cut -c 1-200) (log: $(basename "$2"))"
}

check_devices() {
  local line
  line="$(grep -E '^cuda ' "$2" | head -n 1)"
  if [ "$rc" -ne 0 ]; then plain "$@"; return; fi
  if echo "$line" | grep -Eq '^cuda +available .*GEMM: cuBLAS'; then echo "PASS $line"
  elif echo "$line" | grep -q "$no_driver"; then echo "NO-DRIVER $(echo "$line" | cut -c 1-200)"
  elif echo "$line" | grep -Eq '^cuda +available'; then echo "FAIL cuBLAS required: $line"
  else echo "FAIL ${line:-no cuda line}"; fi
}

check_conformance() {
  local files
  files="$(ls "$here"/conformance/*.safetensors | wc -l)"
  if [ "$rc" -eq 0 ]; then echo "PASS $files files: $(grep -v '^\s*$' "$2" | tail -n 1)"; else plain "$@"; fi
}

# JUnit: the XML reports say how every test ended; NO-DRIVER only if every failure is the driver's.
check_junit() {
  local xml="$logs/junit" tests failures drivers skipped
  tests="$(cat "$xml"/*.xml 2>/dev/null | grep -o '<testcase ' | wc -l)"
  failures="$(cat "$xml"/*.xml 2>/dev/null | grep -oE '<(failure|error)( |>)' | wc -l)"
  drivers="$(cat "$xml"/*.xml 2>/dev/null | grep -oE "<(failure|error) message=\"[^\"]*cudaErrorInsufficientDriver \\(35\\)" | wc -l)"
  skipped="$(cat "$xml"/*.xml 2>/dev/null | grep -o '<skipped' | wc -l)"
  local counts="$tests tests, $failures failed, $skipped skipped"
  if [ "$tests" -eq 0 ]; then echo "FAIL no test ran: $(grep -v '^\s*$' "$2" | tail -n 1)"
  elif [ "$rc" -eq 0 ] && [ "$failures" -eq 0 ] && [ "$skipped" -eq 0 ]; then echo "PASS $counts"
  elif [ "$skipped" -eq 0 ] && [ "$failures" -gt 0 ] && [ "$failures" -eq "$drivers" ]; then
    echo "NO-DRIVER $counts, every failure at $no_driver"
  else echo "FAIL $counts ($drivers of the failures at the missing driver; log: $(basename "$2"), XML: junit/)"; fi
}

junit() {
  local console selectors=()
  console="$(ls "$here"/test/junit-platform-console-standalone-*.jar)"
  mapfile -t selectors < "$here/test/selectors.txt"
  # from src/, where CudaNativeTest finds native/include/rnn4j.h (it checks the binding table against it)
  (cd "$here/src" && RNN4J_REQUIRE_CUDA=1 RNN4J_REQUIRE_CUBLAS=1 "$java" "${jvm[@]}" \
    -Drnn4j.conformance.dir="$here/conformance" -Drnn4j.native.build.dir="$here/test" \
    -Drnn4j.project.version="$(sed -n 's/^version: //p' "$here/BUNDLE.txt")" \
    -jar "$console" execute --disable-banner --disable-ansi-colors --details=tree --fail-if-no-tests \
    --class-path "$here/test/rnn4j-tests.jar:$cp_main" --reports-dir "$logs/junit" "${selectors[@]}")
}

native_cuda() {
  RNN4J_REQUIRE_CUDA=1 "$here/native/rnn4j_test_cuda"
}

sanitizer() {
  local cs=""
  for c in "$(command -v compute-sanitizer 2>/dev/null)" /usr/local/cuda/bin/compute-sanitizer \
           /usr/local/cuda/compute-sanitizer/compute-sanitizer /opt/nvidia/compute-sanitizer/compute-sanitizer; do
    [ -n "$c" ] && [ -x "$c" ] && { cs="$c"; break; }
  done
  if [ -z "$cs" ]; then echo "rnn4j run.sh: compute-sanitizer not found (PATH, /usr/local/cuda)"; return 127; fi
  "$cs" --version | tail -n 1
  # The JVM's own signals and memory are not CUDA's: only device-side errors count.
  "$cs" --tool "$1" --target-processes all --error-exitcode 86 --print-limit 50 \
    "$java" "${jvm[@]}" -cp "$cp_main" dev.rnn4j.cli.Main conformance --backend cuda "$here/conformance"
}
check_sanitizer() {
  if grep -q '^rnn4j run.sh: compute-sanitizer not found' "$2"; then echo "MISSING compute-sanitizer not found"; return; fi
  if [ "$rc" -eq 0 ] && grep -q 'ERROR SUMMARY: 0 errors' "$2"; then echo "PASS $(grep -m 1 'ERROR SUMMARY' "$2")"; return; fi
  plain "$@"
}

bench() {
  local shapes="35x32x910,32x32x256,128x32x512,35x1x910"
  # shellcheck disable=SC2206
  local timing=(${BENCH_JMH_ARGS:--f 1 -wi 1 -w 1s -i 2 -r 1s})
  "$java" "${jvm[@]}" -cp "$here/bench/rnn4j-bench.jar:$here/bench/lib/*:$cp_main" org.openjdk.jmh.Main \
    'dev\.rnn4j\.bench\.(LayerBench|SruKernelBench)\.' -p backend=cuda -p shape="$shapes" "${timing[@]}" -foe true \
    -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss8m" -rf csv -rff "$logs/bench.csv"
}

peers() {
  if ! command -v python3 >/dev/null 2>&1; then echo "rnn4j run.sh: no python3"; return 127; fi
  PYTHONUNBUFFERED=1 python3 "$here/bench/peers.py" --iters 50
}
check_peers() {
  local m
  m="$(grep -m 1 -E '^rnn4j run.sh: no python3|^peers: no PyTorch' "$2")"
  if [ -n "$m" ]; then echo "MISSING $m"; return; fi
  if [ "$rc" -eq 0 ]; then echo "PASS $(grep -c '^| ' "$2") table lines"; return; fi
  # PyTorch's own words for a missing driver; anything else is a failure.
  m="$(grep -m 1 '^peers: no CUDA driver or device' "$2")"
  if [ -n "$m" ] && echo "${m#*): }" | grep -qi 'driver'; then echo "NO-DRIVER $(echo "$m" | cut -c 1-200)"; return; fi
  plain "$@"
}

say "rnn4j GPU validation, $(date -u +%Y-%m-%dT%H:%M:%SZ), on $(uname -n) ($(uname -m))"
sed -n 's/^\(version\|commit\|built\|cuda architectures\): /bundle \1: /p' "$here/BUNDLE.txt" | tee -a "$report"
if command -v nvidia-smi >/dev/null 2>&1; then
  say "GPU: $(nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader 2>&1 | paste -sd ';' -)"
else
  say "GPU: nvidia-smi not found"
fi
say "java: $("$java" -version 2>&1 | head -n 1) (bundled)"
say "python3: $(python3 -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo none), torch: $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null || echo none)"
say ""

step devices check_devices rnn4j devices
step conformance check_conformance rnn4j conformance --backend cuda "$here/conformance"
step junit check_junit junit
step native-core plain "$here/native/rnn4j_test_core"
step native-cuda plain native_cuda
step memcheck check_sanitizer sanitizer memcheck
step racecheck check_sanitizer sanitizer racecheck
step bench plain bench
step peers check_peers peers

crashes="$(ls "$logs"/hs_err_pid*.log 2>/dev/null | wc -l)"
[ "$crashes" -eq 0 ] || { say "JVM crash reports: $crashes (hs_err_pid*.log)"; failed=1; }
say ""
missing="$(awk '$1 == "MISSING" {print $2}' "$report" | paste -sd ' ' -)"
if [ "$failed" -eq 0 ]; then say "RESULT: every step passed"
elif ! grep -qE '^FAIL ' "$report" && grep -qE '^NO-DRIVER ' "$report" && [ "$crashes" -eq 0 ]; then
  say "RESULT: no CUDA driver on this machine: every GPU step stopped at $no_driver${missing:+; not run for lack of a tool here: $missing}"
else say "RESULT: FAILED (see the FAIL${missing:+ and MISSING} lines above and their logs in logs.tar.gz)"; fi
rm -rf "$out/tmp"
tar -czf "$out/logs.tar.gz" -C "$out" logs && rm -rf "$logs"
exit "$failed"
