package dev.rnn4j.backend.cuda;

import dev.rnn4j.Device;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.conformance.CaseFiles;
import dev.rnn4j.conformance.CaseResult;
import dev.rnn4j.conformance.ConformanceCase;
import dev.rnn4j.conformance.ConformanceRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every conformance file (SRU, RNN, LSTM, GRU, cells) through {@link ConformanceRunner} on
 * {@code Device.open("cuda")}: forward results and every gradient within the file's tolerances,
 * no device buffer left open. Skips only as {@link CudaTestSupport} allows.
 */
class CudaConformanceTest {
    private static Device device;

    /** Every conformance file; an empty or missing directory fails (never skips). */
    static List<String> cases() { return CaseFiles.names(); }

    private static synchronized Device device() {
        CudaTestSupport.assumeCuda();
        if (device == null) device = Device.open("cuda");
        return device;
    }

    @AfterAll
    static void close() {
        if (device != null) device.close();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void passesOnCuda(String fileName) throws IOException {
        Device d = device();
        ConformanceCase c = ConformanceCase.load(CaseFiles.dir().resolve(fileName));
        long before = DeviceAccess.backend(d).liveBuffers();
        CaseResult r = ConformanceRunner.run(c, d);
        String report = r.line() + r.tensors().stream().map(t -> "\n    " + t.describe()).collect(Collectors.joining());
        assertEquals("cuda", r.backend());
        assertTrue(r.passed(), report);
        assertEquals(before, DeviceAccess.backend(d).liveBuffers(), "device buffers still open after the case: " + c.name());
    }
}
