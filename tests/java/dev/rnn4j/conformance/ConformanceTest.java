package dev.rnn4j.conformance;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.io.SafeTensors;
import dev.rnn4j.nn.RNN;
import dev.rnn4j.nn.RecurrentOutput;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The conformance test: every case file in the conformance directory ({@link CaseFiles#dir()})
 * runs through {@link ConformanceRunner} on every backend, one test per (backend, file). A case
 * must pass, every result the file stores must have been compared, and the case must leave no
 * device buffer behind. An empty or missing directory fails the tests; nothing is skipped.
 *
 * <p>The backends are the reference backend and every other backend that
 * {@link Device#backends()} reports available on this machine. A new backend needs no change
 * here: once its provider is in {@code Device.PROVIDERS} and its probe says available, every
 * case runs on it. Each backend's device is opened once and shared by its cases.
 */
class ConformanceTest {
    private static final Map<String, Device> DEVICES = new LinkedHashMap<>();

    /** The names of the backends to run: the reference always, then every other available backend. */
    static List<String> backends() {
        List<String> names = new ArrayList<>(List.of("reference"));
        for (Device.BackendInfo b : Device.backends())
            if (b.available() && !names.contains(b.name())) names.add(b.name());
        // -Drnn4j.test.backends=cpu,...: only those (the build's run on the cpu backend's Java kernels)
        String only = System.getProperty("rnn4j.test.backends");
        if (only != null && !only.isBlank()) names.retainAll(List.of(only.strip().split("\\s*,\\s*")));
        return names;
    }

    /** (backend, file name) for every backend and every case; throws if there is no case. */
    static Stream<Arguments> cases() {
        List<String> files = CaseFiles.names();
        return backends().stream().flatMap(b -> files.stream().map(f -> Arguments.of(b, f)));
    }

    private static synchronized Device device(String backend) {
        return DEVICES.computeIfAbsent(backend, Device::open);
    }

    @AfterAll
    static synchronized void closeDevices() {
        DEVICES.values().forEach(Device::close);
        DEVICES.clear();
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void passes(String backend, String fileName) throws IOException {
        ConformanceCase c = ConformanceCase.load(CaseFiles.dir().resolve(fileName));
        Device device = device(backend);
        long before = DeviceAccess.backend(device).liveBuffers();
        CaseResult r = ConformanceRunner.run(c, device);
        String report = r.line() + r.tensors().stream().map(t -> "\n    " + t.describe()).collect(Collectors.joining());
        System.out.println(backend + ": " + r.line());
        assertTrue(r.passed(), backend + ": " + report);
        // Nothing the file stores as a result is left unexamined.
        assertEquals(storedResults(c), r.tensors().stream().map(TensorResult::name).collect(Collectors.toCollection(TreeSet::new)),
                c.name() + ": compared tensors");
        assertEquals(before, DeviceAccess.backend(device).liveBuffers(), "device buffers still open after the case " + c.name() + " on " + backend);
    }

    /** The tensors of the file that are results to check, not inputs: output, h_n, c_n and every gradient but the upstream ones. */
    static Set<String> storedResults(ConformanceCase c) {
        Set<String> upstream = Set.of("grad_output", "grad_h_n", "grad_c_n");
        Set<String> results = new TreeSet<>();
        for (String t : c.tensors().keySet())
            if (t.equals("output") || t.equals("h_n") || t.equals("c_n") || (t.startsWith("grad") && !upstream.contains(t)))
                results.add(t);
        return results;
    }

    @Test
    void directoryHasCasesForEveryMode() throws IOException {
        Set<ConformanceCase.Mode> seen = EnumSet.noneOf(ConformanceCase.Mode.class);
        for (String n : CaseFiles.names()) seen.add(ConformanceCase.load(CaseFiles.dir().resolve(n)).mode());
        Set<ConformanceCase.Mode> absent = EnumSet.complementOf(EnumSet.copyOf(seen));
        assertTrue(absent.isEmpty(), "no conformance case for " + absent);
    }

    @Test
    void everyShippedCaseIsFound() {
        List<String> names = CaseFiles.names();
        // 7 RNN + 6 LSTM + 4 GRU + 6 cell cases ship with the repository; a silent short run would hide them.
        assertEquals(23, names.stream().filter(n -> n.startsWith("rnn_") || n.startsWith("lstm_") || n.startsWith("gru_")
                || n.contains("cell")).count());
        assertEquals(List.of("sru_bidir_k3", "sru_bidir_k4_2layer", "sru_highway_bias_m3", "sru_identity_seedinit_2layer",
                        "sru_k3_tanh", "sru_k4_tanh_noh0", "sru_relu_k4", "sru_seq1_batch1"),
                names.stream().filter(n -> n.startsWith("sru_")).map(n -> n.replaceFirst("\\.safetensors$", "")).toList());
    }

    @Test
    void handworkedReluIsExact() throws IOException {
        SafeTensors.Contents f = SafeTensors.read(CaseFiles.source("rnn_relu_handworked"));
        Device dev = device("reference");
        try (RNN m = RNN.builder(2, 1).nonlinearity("relu").bias(false).build(dev);
             Tensor x = dev.tensor(f.tensor("input")); Tensor h0 = dev.tensor(f.tensor("h0"))) {
            m.loadStateDict(Map.of("weight_ih_l0", f.tensor("weight_ih_l0"), "weight_hh_l0", f.tensor("weight_hh_l0")));
            try (RecurrentOutput out = m.forward(x, h0)) {
                assertArrayEquals(new float[] {5, 8, 16, 18}, out.output().toArray());
            }
        }
    }
}
