#!/usr/bin/env python3
# Shares of a cpu-backend recurrent forward's JFR execution samples by what the stack is doing
# (the recurrence's step products, its pointwise steps, the input product, bias adds, copies),
# as in docs/performance.md. Record one layer's forward alone in a steady state first, e.g.
#   java -cp 'bench/target/classes:bench/target/lib/*' org.openjdk.jmh.Main 'LayerBench.forward$' \
#        -p backend=cpu -p model=LSTM -p shape=35x32x910 -f 1 -wi 0 -i 1 -r 40s -jvmArgsAppend \
#        "--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Drnn4j.cpu.threads=1
#         -XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints
#         -XX:StartFlightRecording=delay=15s,filename=/tmp/f.jfr,settings=profile"
# then: bench/tools/jfr-shares.py /tmp/f.jfr   (the JDK's `jfr` from JAVA_HOME, else from PATH)
import collections, os, subprocess, sys

if len(sys.argv) != 2:
    sys.exit("usage: jfr-shares.py RECORDING.jfr")
jfr = os.path.join(os.environ["JAVA_HOME"], "bin", "jfr") if "JAVA_HOME" in os.environ else "jfr"
out = subprocess.run([jfr, "print", "--stack-depth", "64", "--events", "jdk.ExecutionSample", sys.argv[1]],
                     capture_output=True, text=True, check=True).stdout
shares, total = collections.Counter(), 0
for st in out.split("jdk.ExecutionSample")[1:]:
    if "dev.rnn4j" not in st:
        continue
    total += 1
    if "recurrentForward" in st:
        if any(w in st for w in ("Pointwise", "lstmCell", "sigmoidAt", "tanhAt")):
            c = "steps: pointwise"
        elif any(w in st for w in ("VectorGemm", "productPacked", "VectorRecurrence.product")):
            c = "steps: products"
        else:
            c = "steps: other"
    elif "CpuBackend.gemm" in st:
        c = "other products (input product, backward)"
    elif "addRowVector" in st or "axpy" in st:
        c = "bias adds"
    elif any(w in st.lower() for w in ("copy", "upload", "download", "fill")):
        c = "copies, fills"
    else:
        c = "other"
    shares[c] += 1
for c, n in shares.most_common():
    print(f"{c}: {n} ({100 * n / max(1, total):.0f}%)")
print("samples:", total)
