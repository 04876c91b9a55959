package dev.rnn4j.backend.opencl;

import dev.rnn4j.Device;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.conformance.CaseFiles;
import dev.rnn4j.conformance.CaseResult;
import dev.rnn4j.conformance.ConformanceCase;
import dev.rnn4j.conformance.ConformanceRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every conformance file (RNN, LSTM, GRU, the cells and SRU) through
 * {@link ConformanceRunner} on the OpenCL backend, within each file's own tolerances.
 * An empty conformance directory fails; only an absent OpenCL skips (see {@link OpenClTestSupport}).
 */
class OpenClConformanceTest {
    private static Device cl;

    /** Every conformance file; an empty or missing directory fails (never skips). */
    static List<String> cases() { return CaseFiles.names(); }

    @BeforeAll
    static void open() {
        OpenClTestSupport.assumeOpenCl();
        cl = Device.open("opencl");
    }

    @AfterAll
    static void close() {
        if (cl != null) cl.close();
    }

    @Test
    void coversSruAndEveryPyTorchMode() {
        List<String> names = cases();
        for (String prefix : new String[]{"rnn_", "lstm_", "gru_", "rnncell", "lstmcell", "grucell", "sru_"})
            assertTrue(names.stream().anyMatch(n -> n.startsWith(prefix)), "no " + prefix + "* conformance file");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void passesOnOpenCl(String fileName) throws IOException {
        ConformanceCase c = ConformanceCase.load(CaseFiles.dir().resolve(fileName));
        long before = DeviceAccess.backend(cl).liveBuffers();
        CaseResult r = ConformanceRunner.run(c, cl);
        String report = r.line() + r.tensors().stream().map(t -> "\n    " + t.describe()).collect(Collectors.joining());
        assertEquals("opencl", r.backend());
        assertTrue(r.passed(), report);
        assertEquals(before, DeviceAccess.backend(cl).liveBuffers(), "OpenCL buffers still open after " + c.name());
    }
}
