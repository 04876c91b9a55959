#!/usr/bin/env bash
# Runs a GPU validation bundle (tools/gpu-bundle.sh) as a bare GPU machine would, to prove that
# it needs nothing of ours beyond itself: an empty environment (env -i), HOME a fresh temporary
# folder (no ~/.m2), and a PATH of the system's commands without any JDK, Maven, CMake or CTest.
# On a machine without an NVIDIA driver every GPU step must then end at the CUDA runtime's
# cudaErrorInsufficientDriver (35); this script checks that the report says exactly that.
#
# Usage: tools/gpu-bundle-bare.sh [BUNDLE_DIR] [OUT_DIR]
#   (defaults target/gpu-bundle and target/gpu-bundle-bare-results)
# Exit status 0 if the report is the expected no-driver one; on a machine with a GPU, use run.sh.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd -P)"
bundle="$(readlink -f "${1:-$root/target/gpu-bundle}")"
out="$(readlink -m "${2:-$root/target/gpu-bundle-bare-results}")"
[ -x "$bundle/run.sh" ] || { echo "gpu-bundle-bare: no bundle at $bundle (run tools/gpu-bundle.sh)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home" "$tmp/bin"
# The system's commands, minus every build tool the bundle must not need (first of a name wins,
# in PATH order; linked with one ln call, as thousands of forks are slow on a busy machine).
declare -A seen=()
links=()
for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
  for f in "$dir"/*; do
    name="${f##*/}"
    [ -z "${seen[$name]:-}" ] && [ -x "$f" ] && [ ! -d "$f" ] || continue
    seen[$name]=1
    case "$name" in
      java|javac|javadoc|javap|jar|jarsigner|jlink|jdeps|jshell|jcmd|jps|jstack|jmap|jstat|jfr|jhsdb|jimage|jmod|jpackage|keytool|rmiregistry|serialver|jwebserver|jconsole|jdb|jinfo|jrunscript|jstatd|jdeprscan|jnativescan) continue ;;
      mvn|mvnDebug|mvnyjp|cmake|ctest|cpack|ccmake|cmake-gui|gradle|ant) continue ;;
    esac
    links+=("$f")
  done
done
ln -s "${links[@]}" "$tmp/bin/"
for tool in java mvn cmake ctest jlink; do
  if PATH="$tmp/bin" command -v "$tool" >/dev/null 2>&1; then echo "gpu-bundle-bare: $tool is still on the PATH" >&2; exit 1; fi
done

rm -rf "$out"
mkdir -p "$out"
echo "== running $bundle/run.sh with env -i, HOME=$tmp/home, PATH without JDK/Maven/CMake"
set +e
env -i HOME="$tmp/home" PATH="$tmp/bin" LANG=C.UTF-8 OUT="$out" ${STEPS:+STEPS="$STEPS"} "$bundle/run.sh"
rc=$?
set -e
report="$out/report.txt"
echo "== run.sh exit status $rc; checking $report"
[ -f "$report" ] || { echo "gpu-bundle-bare: no report" >&2; exit 1; }
# What the device tool brings back: the report and one archive of the logs.
[ "$(ls -A "$out" | sort | paste -sd ' ' -)" = "logs.tar.gz report.txt" ] ||
  { echo "gpu-bundle-bare: $out holds $(ls -A "$out" | paste -sd ' ' -), not just report.txt and logs.tar.gz" >&2; exit 1; }
# Nothing may have looked for Maven's repository (caches, e.g. Python's, may appear).
[ ! -e "$tmp/home/.m2" ] || { echo "gpu-bundle-bare: the run made $tmp/home/.m2" >&2; exit 1; }

bad=0
# Every step but native-core (the C tests of librnn4j.so) needs the GPU: each must have stopped
# at the missing driver, except where this machine lacks a tool that a GPU machine has
# (compute-sanitizer, PyTorch with CUDA).
while read -r outcome name _; do
  case "$outcome" in
    NO-DRIVER) ;;
    PASS) [ "$name" = native-core ] || { echo "unexpected: $outcome $name" >&2; bad=1; } ;;  # needs no GPU
    MISSING) case "$name" in memcheck|racecheck|peers) ;; *) echo "unexpected: $outcome $name" >&2; bad=1 ;; esac ;;
    *) echo "unexpected: $outcome $name" >&2; bad=1 ;;
  esac
done < <(grep -E '^(PASS|FAIL|NO-DRIVER|MISSING) ' "$report")
steps_run="$(grep -cE '^(PASS|FAIL|NO-DRIVER|MISSING) ' "$report")"
[ "$steps_run" -gt 0 ] || { echo "gpu-bundle-bare: the report lists no step" >&2; bad=1; }
grep -q '^RESULT: no CUDA driver on this machine: every GPU step stopped at cudaErrorInsufficientDriver (35)' "$report" ||
  { echo "gpu-bundle-bare: the result line is not the no-driver one" >&2; bad=1; }
[ "$rc" -ne 0 ] || { echo "gpu-bundle-bare: run.sh passed without a GPU" >&2; bad=1; }
if [ "$bad" -eq 0 ]; then echo "gpu-bundle-bare: OK, $steps_run steps, each at the missing driver (or a tool absent here)"; fi
exit "$bad"
