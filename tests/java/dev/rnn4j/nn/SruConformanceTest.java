package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.SruTestSupport.Vectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static dev.rnn4j.nn.SruTestSupport.assertAllClose;
import static org.junit.jupiter.api.Assertions.*;

/** The SRU module against every sru_*.safetensors conformance file: forward results and all gradients. */
class SruConformanceTest {

    static final String[] FILES = {
            "sru_bidir_k3", "sru_bidir_k4_2layer", "sru_highway_bias_m3", "sru_identity_seedinit_2layer",
            "sru_k3_tanh", "sru_k4_tanh_noh0", "sru_relu_k4", "sru_seq1_batch1"};

    @Test
    void everySruFileIsCovered() throws IOException {
        try (Stream<Path> s = Files.list(SruTestSupport.conformanceDir())) {
            List<String> found = s.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("sru_") && n.endsWith(".safetensors"))
                    .map(n -> n.substring(0, n.length() - ".safetensors".length())).sorted().toList();
            assertEquals(Arrays.asList(FILES), found);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "sru_bidir_k3", "sru_bidir_k4_2layer", "sru_highway_bias_m3", "sru_identity_seedinit_2layer",
            "sru_k3_tanh", "sru_k4_tanh_noh0", "sru_relu_k4", "sru_seq1_batch1"})
    void matchesConformanceFile(String name) throws IOException {
        Vectors v = SruTestSupport.readSafetensors(SruTestSupport.conformanceDir().resolve(name + ".safetensors"));
        assertEquals("SRU", v.config().get("mode"));
        int layers = v.i("num_layers");
        double fr = v.tol("forward", "rtol"), fa = v.tol("forward", "atol");
        double gr = v.tol("grad", "rtol"), ga = v.tol("grad", "atol");

        try (Device dev = Device.reference()) {
            long baseline = dev.backend().liveBuffers();
            Set<String> compared = new HashSet<>();
            try (SRU sru = SRU.builder(v.i("input_size"), v.i("hidden_size"))
                    .numLayers(layers)
                    .bidirectional(v.flag("bidirectional"))
                    .useTanh(v.flag("use_tanh"))
                    .useRelu(v.flag("use_relu"))
                    .build(dev)) {
                assertEquals(v.i("activation_type"), sru.layers().get(0).activation().code);
                List<?> ks = (List<?>) v.config().get("k");
                for (int i = 0; i < layers; i++)
                    assertEquals(((Number) ks.get(i)).intValue(), sru.layers().get(i).k(), "k of layer " + i);

                Map<String, HostTensor> state = new LinkedHashMap<>();
                for (String p : sru.namedParameters().keySet()) state.put(p, v.get(p));
                sru.loadStateDict(state);

                Object setBias = v.config().get("set_bias");
                if (setBias != null) {
                    // The stored bias already went through set_bias(v); doing it again must change nothing.
                    sru.setBias(((Number) setBias).floatValue());
                    for (String p : state.keySet())
                        assertArrayEquals(state.get(p).data(), sru.namedParameters().get(p).value().toArray(), p);
                }

                boolean hasC0 = v.flag("has_h0");
                try (Tensor input = dev.tensor(v.get("input"));
                     Tensor c0 = hasC0 ? dev.tensor(v.get("c0")) : null;
                     Tensor gOut = dev.tensor(v.get("grad_output"));
                     Tensor gCn = dev.tensor(v.get("grad_c_n"));
                     RecurrentOutput out = sru.forward(input, c0)) {
                    assertNull(out.hN());
                    assertArrayEquals(v.get("output").shape(), out.output().shape());
                    assertAllClose(name + " output", v.get("output").data(), out.output().toArray(), fr, fa);
                    assertAllClose(name + " c_n", v.get("c_n").data(), out.cN().toArray(), fr, fa);
                    compared.addAll(List.of("output", "c_n"));

                    try (RecurrentGrads g = sru.backward(out, gOut, gCn)) {
                        assertNull(g.h0());
                        assertAllClose(name + " grad_input", v.get("grad_input").data(), g.input().toArray(), gr, ga);
                        compared.add("grad_input");
                        if (hasC0) {
                            assertAllClose(name + " grad_c0", v.get("grad_c0").data(), g.c0().toArray(), gr, ga);
                            compared.add("grad_c0");
                        } else {
                            assertNull(g.c0());
                        }
                        for (var e : sru.namedParameters().entrySet()) {
                            String key = "grad." + e.getKey();
                            assertAllClose(name + " " + key, v.get(key).data(), e.getValue().grad().toArray(), gr, ga);
                            compared.add(key);
                        }
                    }
                }
                // Every stored result was checked: nothing in the file is left unexamined.
                List<String> results = new ArrayList<>();
                for (String t : v.tensors().keySet())
                    if (t.startsWith("grad_input") || t.startsWith("grad_c0") || t.startsWith("grad.")
                            || t.equals("output") || t.equals("c_n")) results.add(t);
                assertEquals(new HashSet<>(results), compared);
            }
            assertEquals(baseline, dev.backend().liveBuffers(), "buffers leaked");
        }
    }
}
