#!/usr/bin/env bash
# Builds .jre/ (git-ignored): a Java runtime made by jlink with only the modules rnn4j, its
# command line and its JUnit tests need: java.base, java.logging, java.management (the test
# runner) and jdk.unsupported. tools/gpu-validate.sh runs the CUDA validation on it, so that a
# GPU machine needs a JDK only to build, or not at all if .jre/ is copied over.
#
# Usage: tools/make-jre.sh            (JAVA_HOME, else the newest JDK >= 25 under /usr/lib/jvm)
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd -P)"
min_java=25
modules=java.base,java.logging,java.management,jdk.unsupported

die() { echo "make-jre: $*" >&2; exit 1; }

major() { "$1" -version 2>&1 | sed -n 's/^.* version "\([^"]*\)".*$/\1/p' | head -n 1 | sed 's/^1\.//; s/[^0-9].*$//'; }

jdk=""
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/jlink" ] && [ "$(major "$JAVA_HOME/bin/java")" -ge "$min_java" ] 2>/dev/null; then
  jdk="$JAVA_HOME"
else
  best=0
  for cand in /usr/lib/jvm/*; do
    [ -x "$cand/bin/jlink" ] && [ -x "$cand/bin/java" ] || continue
    m="$(major "$cand/bin/java")"
    if [ -n "$m" ] && [ "$m" -ge "$min_java" ] && [ "$m" -gt "$best" ]; then jdk="$cand"; best="$m"; fi
  done
fi
[ -n "$jdk" ] || die "needs a JDK $min_java or newer with jlink (set JAVA_HOME)"

rm -rf "$root/.jre"
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --output "$root/.jre"
echo "make-jre: $root/.jre from $jdk ($modules)"
"$root/.jre/bin/java" -version
