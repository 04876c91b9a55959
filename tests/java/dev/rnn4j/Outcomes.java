package dev.rnn4j;

import dev.rnn4j.DeviceOutOfMemoryException;
import dev.rnn4j.backend.cpu.CpuTestSupport;
import dev.rnn4j.backend.cuda.CudaTestSupport;
import dev.rnn4j.backend.opencl.OpenClTestSupport;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.RecurrentOutput;

import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * What the storm tests allow an invalid call to do (docs/reliability.md): return normally (the
 * arguments happened to be valid), or throw one of the documented exceptions with a message
 * written by rnn4j. A JVM-made exception (an array index, a negative array size, a helpful NPE
 * message, an arithmetic overflow) shows a check that is missing, and fails the test.
 */
public final class Outcomes {
    private final Map<String, Integer> counts = new TreeMap<>();
    private int calls;

    /**
     * Opens a device of the named backend for a test; skips or fails as the backend's own tests do
     * when it is absent (OpenCL is required in CI; cpu is always there, with its vector kernels where RNN4J_REQUIRE_CPU=1;
     * CUDA where RNN4J_REQUIRE_CUDA=1, i.e. on a GPU).
     */
    public static Device open(String backend) {
        if (backend.equals("opencl")) OpenClTestSupport.assumeOpenCl();
        if (backend.equals("cpu")) CpuTestSupport.assumeCpu();
        if (backend.equals("cuda")) CudaTestSupport.assumeCuda();
        return Device.open(backend);
    }

    /** Runs one call and records its outcome; fails the test on anything but the documented ones. */
    public void run(String what, Runnable call) {
        calls++;
        try {
            call.run();
            counts.merge("returned", 1, Integer::sum);
        } catch (Throwable t) {
            check(what, t);
            counts.merge(t.getClass().getSimpleName(), 1, Integer::sum);
        }
    }

    /** The documented exception types, each with a message of rnn4j's own. */
    public static void check(String what, Throwable t) {
        boolean documented = t.getClass() == NullPointerException.class
                || t.getClass() == IllegalStateException.class
                || t.getClass() == IndexOutOfBoundsException.class
                || t instanceof IllegalArgumentException && !(t instanceof NumberFormatException)
                || t instanceof DeviceOutOfMemoryException;
        String m = t.getMessage();
        boolean ownMessage = m != null && !m.isBlank()
                && !(t instanceof NullPointerException && (m.startsWith("Cannot ") || !m.contains("null")));
        if (!documented || !ownMessage) fail(what + ": undocumented outcome " + t, t);
    }

    public int calls() { return calls; }

    public int count(String outcome) { return counts.getOrDefault(outcome, 0); }

    @Override
    public String toString() { return calls + " calls: " + counts; }

    /** A small LSTM forward with fixed weights and input, compared bit for bit before and after. */
    public static float[] lstmOutput(Device dev) {
        float[] x = new float[5 * 2 * 3];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i);
        try (LSTM lstm = LSTM.builder(3, 4).numLayers(2).seed(7).build(dev);
             Tensor in = dev.tensor(x, 5, 2, 3);
             RecurrentOutput o = lstm.forward(in)) {
            return o.output().toArray();
        }
    }
}
