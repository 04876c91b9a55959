package dev.rnn4j.train;

import dev.rnn4j.Device;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.fail;

/** The backends the training tests run on: every available one; under CI's RNN4J_REQUIRE_* a missing cpu/OpenCL backend fails. */
final class Backends {
    private Backends() {}

    static List<String> available() {
        List<String> out = new ArrayList<>();
        for (Device.BackendInfo b : Device.backends()) {
            if (b.available()) out.add(b.name());
            else if (("cpu".equals(b.name()) && "1".equals(System.getenv("RNN4J_REQUIRE_CPU")))
                    || ("opencl".equals(b.name()) && "1".equals(System.getenv("RNN4J_REQUIRE_OPENCL"))))
                fail(b.name() + " backend is required here but unavailable: " + b.detail());
        }
        return out;
    }

    static void assertClose(String what, float[] expected, float[] actual, double rtol, double atol) {
        if (expected.length != actual.length) fail(what + ": length " + actual.length + ", expected " + expected.length);
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs((double) actual[i] - expected[i]);
            if (!(d <= atol + rtol * Math.abs(expected[i])))
                fail(what + ": element " + i + " is " + actual[i] + ", expected " + expected[i] + " (rtol " + rtol + ", atol " + atol + ")");
        }
    }
}
