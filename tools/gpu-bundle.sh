#!/usr/bin/env bash
# Builds the GPU validation bundle: one git-ignored folder (default target/gpu-bundle/, under
# 64 MiB) that runs the whole CUDA validation on a machine with nothing but the NVIDIA driver
# (PyTorch only for the peers): no JDK, Maven, CMake or ~/.m2 there. See docs/gpu-validation.md.
#
# Needs here: a JDK >= 25 with jlink, Maven (its ~/.m2 filled or Maven Central reachable), CMake
# and nvcc. The folder holds:
#   jre/          a jlinked runtime with only the modules the jars below need (jdeps decides)
#   lib/          rnn4j.jar (with librnn4j_cuda.so for sm_80 and sm_90 + compute_90 PTX) and its
#                 runtime dependencies
#   test/         the compiled tests as a jar, the standalone JUnit launcher, selectors.txt (every
#                 CUDA test, from tools/GpuTestSelection.java) and the CMake CUDA status file
#   src/          native/include/rnn4j.h, which a test compares with the library's binding table
#   native/       the C tests as binaries that find their libraries beside them ($ORIGIN)
#   conformance/  the conformance files
#   bench/        the JMH benchmark jar with the jars it needs for the rnn4j benchmarks, and peers.py
#   run.sh        the validation (tools/gpu-run.sh)
#   BUNDLE.txt    what was built from which commit
#
# Usage: tools/gpu-bundle.sh [OUTPUT_DIR]      (SKIP_BENCH=1 leaves bench/ out, e.g. in CI)
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd -P)"
cd "$root"
out="$(readlink -m "${1:-$root/target/gpu-bundle}")"
min_java=25
# The JUnit Platform console launcher matching the pom's junit.version (5.11.4 = Platform 1.11.4).
junit_console=org.junit.platform:junit-platform-console-standalone:1.11.4
dependency_plugin=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
limit_mib=64

die() { echo "gpu-bundle: $*" >&2; exit 1; }
say() { echo "== gpu-bundle: $*"; }

major() { "$1" -version 2>&1 | sed -n 's/^.* version "\([^"]*\)".*$/\1/p' | head -n 1 | sed 's/^1\.//; s/[^0-9].*$//'; }
jdk=""
for cand in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
  [ -n "$cand" ] && [ -x "$cand/bin/jlink" ] && [ -x "$cand/bin/jdeps" ] || continue
  m="$(major "$cand/bin/java")"
  if [ -n "$m" ] && [ "$m" -ge "$min_java" ]; then jdk="$cand"; break; fi
done
[ -n "$jdk" ] || die "needs a JDK $min_java or newer with jlink and jdeps (set JAVA_HOME)"
command -v mvn >/dev/null || die "needs Maven (mvn)"
command -v cmake >/dev/null || die "needs CMake"
export JAVA_HOME="$jdk"

say "building rnn4j (mvn package, tests compiled, not run)"
mvn -B -q -DskipTests package
grep -qx built target/native/rnn4j-cuda-status.txt ||
  die "librnn4j_cuda.so was not built ($(cat target/native/rnn4j-cuda-status.txt 2>/dev/null || echo 'no status file')): CMake must find nvcc"
jar="$(ls target/rnn4j-*.jar | grep -v -e '-sources' -e '-javadoc' -e '-tests' | head -n 1)"
version="$(unzip -p "$jar" META-INF/MANIFEST.MF | sed -n 's/^Implementation-Version: *//p' | tr -d '\r')"
[ -n "$version" ] || die "no Implementation-Version in $jar"

rm -rf "$out"
mkdir -p "$out"/{lib,test,native,conformance,bench/lib}

say "jar and runtime dependencies"
cp "$jar" "$out/lib/rnn4j.jar"
cp target/lib/*.jar "$out/lib/"

say "tests: compiled classes, JUnit console launcher ($junit_console), CUDA test selectors"
"$jdk/bin/jar" --create --file "$out/test/rnn4j-tests.jar" -C target/test-classes .
mvn -B -q "$dependency_plugin:copy" -Dartifact="$junit_console" -DoutputDirectory="$out/test" -Dmdep.stripVersion=false
console="$(ls "$out"/test/junit-platform-console-standalone-*.jar)"
"$jdk/bin/java" -cp "target/test-classes:target/classes:$console" tools/GpuTestSelection.java target/test-classes \
  > "$out/test/selectors.txt"
# CudaNativeTest checks the library's binding table against the public header.
mkdir -p "$out/src/native/include"
cp native/include/rnn4j.h native/include/rnn4j_cuda_ops.h "$out/src/native/include/"
# CudaTestSupport reads this to tell "not built" from "built but missing"; the build made it.
cp target/native/rnn4j-cuda-status.txt "$out/test/"

say "native C tests (from the Maven build; their run paths are \$ORIGIN-relative)"
libdir=target/classes/dev/rnn4j/native/linux-x86_64
cp target/native/rnn4j_test_core target/native/rnn4j_test_cuda "$libdir/librnn4j.so" "$libdir/librnn4j_cuda.so" "$out/native/"
cp native/tests/lsan-cuda.supp "$out/native/"

say "conformance files"
cp tests/conformance/*.safetensors tests/conformance/README.md "$out/conformance/"

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  say "benchmarks (mvn install of the rnn4j jar, then bench/ package)"
  mvn -B -q -DskipTests install
  mvn -B -q -f bench/pom.xml -DskipTests package
  cp bench/target/rnn4j-bench-*.jar "$out/bench/rnn4j-bench.jar"
  # JMH and what it needs; the CPU peer (ONNX Runtime) and the chart library stay here: the GPU
  # run times rnn4j's own benchmarks and leaves the peers to peers.py.
  for a in jmh-core jopt-simple commons-math3; do
    ls bench/target/lib/"$a"-*.jar >/dev/null 2>&1 || die "bench/target/lib has no $a jar"
    cp bench/target/lib/"$a"-*.jar "$out/bench/lib/"
  done
fi
cp bench/gpu/peers.py "$out/bench/"

say "jlink"
# What rnn4j, its tests and JMH use (jdeps over those jars, below, must find nothing else):
# java.logging (System.Logger's backend, JOCL), java.management and jdk.management (JMH reads
# the JVM's state), jdk.unsupported (JMH's Unsafe), java.xml (the JUnit launcher's XML reports,
# which run.sh reads). Left out on purpose: java.desktop (the bench chart, not run there) and
# java.sql (optional type converters of the JUnit launcher's option parser).
# jdk.incubator.vector: the cpu backend's vector kernels (it falls back to plain Java without it).
modules=java.base,java.logging,java.management,jdk.management,jdk.unsupported,java.xml,jdk.incubator.vector
jars=("$out"/lib/*.jar "$out/test/rnn4j-tests.jar")
[ -f "$out/bench/rnn4j-bench.jar" ] && jars+=("$out"/bench/lib/jmh-core-*.jar "$out"/bench/lib/jopt-simple-*.jar)
# The rnn4j jar is the module dev.rnn4j, which requires jocl: jdeps resolves it from lib/.
needed="$("$jdk/bin/jdeps" --module-path "$out/lib" --print-module-deps --ignore-missing-deps --multi-release "$min_java" -q "${jars[@]}" 2>/dev/null | tail -n 1)"
for m in ${needed//,/ }; do
  # jdk.compiler: only JavadocCoverageTest uses it, which is not a CUDA test and never runs there.
  [ "$m" = jdk.compiler ] && continue
  case ",$modules," in *",$m,"*) ;; *) die "jdeps says the jars need module $m, which the runtime leaves out" ;; esac
done
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress zip-9 \
  --output "$out/jre"
# The JDK's native libraries keep their symbol tables (about 5 MB); the bundle does not need them.
if command -v strip >/dev/null 2>&1; then
  find "$out/jre" -name '*.so' -exec strip --strip-unneeded {} +
fi
"$out/jre/bin/java" -version >/dev/null 2>&1 || die "the jlinked runtime does not start"

cp tools/gpu-run.sh "$out/run.sh"
chmod +x "$out/run.sh"

commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
git diff --quiet 2>/dev/null || commit="$commit (with local changes)"
{
  echo "rnn4j GPU validation bundle"
  echo "version: $version"
  echo "commit: $commit"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m) with $("$jdk/bin/java" -version 2>&1 | head -n 1), $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo 'nvcc ?')"
  echo "cuda architectures: $(sed -n 's/^RNN4J_CUDA_ARCHITECTURES:STRING=//p' target/native/CMakeCache.txt)"
  echo "jre modules: $modules"
  echo "cuda tests: $(wc -l < "$out/test/selectors.txt") selectors (test/selectors.txt)"
} > "$out/BUNDLE.txt"

size_kib="$(du -sk "$out" | cut -f1)"
echo "size: $((size_kib / 1024)) MiB ($size_kib KiB)" >> "$out/BUNDLE.txt"
cat "$out/BUNDLE.txt"
[ "$size_kib" -lt $((limit_mib * 1024)) ] || die "the bundle is $size_kib KiB, over the device tool's $limit_mib MiB"
say "done: $out (run it there as: OUT=... $(basename "$out")/run.sh)"
