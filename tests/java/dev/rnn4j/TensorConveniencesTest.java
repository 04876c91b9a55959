package dev.rnn4j;

import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.RecurrentStream;
import dev.rnn4j.nn.SRU;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** view/reshape, slice, cat, partial host copies and the streaming helper, on every available backend. */
class TensorConveniencesTest {
    static Stream<String> backends() {
        List<String> out = new ArrayList<>();
        for (Device.BackendInfo b : Device.backends()) {
            if (b.available()) out.add(b.name());
            else if (("cpu".equals(b.name()) && "1".equals(System.getenv("RNN4J_REQUIRE_CPU")))
                    || ("opencl".equals(b.name()) && "1".equals(System.getenv("RNN4J_REQUIRE_OPENCL"))))
                fail(b.name() + " is required but unavailable: " + b.detail());
        }
        return out.stream();
    }

    static float[] iota(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = i;
        return a;
    }

    @ParameterizedTest
    @MethodSource("backends")
    void viewSharesMemoryAndFollowsItsBase(String backend) {
        try (Device d = Device.open(backend)) {
            Tensor t = d.tensor(iota(24), 2, 3, 4);
            Tensor v = t.view(6, -1);
            assertArrayEquals(new int[] {6, 4}, v.shape());
            assertArrayEquals(iota(24), v.toArray());
            v.fill(7f);
            for (float f : t.toArray()) if (f != 7f) fail("the base does not see the view's write: " + f);
            Tensor r = v.reshape(24);
            v.close();
            assertTrue(v.isClosed());
            assertFalse(t.isClosed(), "closing a view must not free the base");
            assertArrayEquals(new int[] {24}, r.shape());
            r.copyFromHost(new float[] {1, 2}, 0, 5, 2);
            assertArrayEquals(new float[] {7, 1, 2, 7}, Stream.of(t.view(-1)).map(x -> {
                float[] a = new float[4];
                x.copyToHost(4, a, 0, 4);
                return a;
            }).findFirst().orElseThrow());
            assertThrows(IllegalArgumentException.class, () -> t.view(5, 5));
            assertThrows(IllegalArgumentException.class, () -> t.view(-1, -1));
            assertThrows(IndexOutOfBoundsException.class, () -> t.copyToHost(20, new float[10], 0, 5));
            assertThrows(IndexOutOfBoundsException.class, () -> t.copyFromHost(new float[3], 1, 0, 3));
            t.close();
            assertTrue(r.isClosed(), "a view is unusable once its base is closed");
            assertThrows(IllegalStateException.class, r::toArray);
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void sliceAndCatMatchHostIndexing(String backend) {
        try (Device d = Device.open(backend); Tensor t = d.tensor(iota(2 * 5 * 3), 2, 5, 3)) {
            try (Tensor s = t.slice(1, 1, 4)) {
                assertArrayEquals(new int[] {2, 3, 3}, s.shape());
                float[] expect = new float[18];
                int k = 0;
                for (int a = 0; a < 2; a++) for (int b = 1; b < 4; b++) for (int c = 0; c < 3; c++) expect[k++] = a * 15 + b * 3 + c;
                assertArrayEquals(expect, s.toArray());
                try (Tensor head = t.slice(1, 0, 1); Tensor tail = t.slice(1, 4, 5); Tensor joined = Tensor.cat(1, head, s, tail)) {
                    assertArrayEquals(t.toArray(), joined.toArray());
                }
            }
            try (Tensor first = t.slice(0, 0, 1); Tensor both = Tensor.cat(0, first, first)) {
                assertArrayEquals(new int[] {2, 5, 3}, both.shape());
                float[] e = new float[30];
                for (int i = 0; i < 30; i++) e[i] = i % 15;
                assertArrayEquals(e, both.toArray());
            }
            try (Tensor empty = t.slice(2, 1, 1)) { assertArrayEquals(new int[] {2, 5, 0}, empty.shape()); }
            assertThrows(IndexOutOfBoundsException.class, () -> t.slice(1, 3, 6));
            assertThrows(IndexOutOfBoundsException.class, () -> t.slice(3, 0, 1));
            try (Tensor other = d.zeros(2, 4, 3)) {
                assertThrows(IllegalArgumentException.class, () -> Tensor.cat(0, t, other));
            }
        }
    }

    /** Feeding a sequence in chunks through the stream gives the same outputs and final state as one forward. */
    @ParameterizedTest
    @MethodSource("backends")
    void streamEqualsOneForward(String backend) {
        float[] data = new float[6 * 2 * 3];
        for (int i = 0; i < data.length; i++) data[i] = (float) Math.sin(i * 0.37);
        try (Device d = Device.open(backend); Tensor x = d.tensor(data, 6, 2, 3)) {
            try (GRU gru = GRU.builder(3, 4).numLayers(2).seed(5).build(d); LSTM lstm = LSTM.builder(3, 4).seed(6).build(d);
                 SRU sru = SRU.builder(3, 4).numLayers(1).build(d)) {
                sru.initWeight(7);
                try (RecurrentOutput all = gru.forward(x); RecurrentStream s = new RecurrentStream(gru)) {
                    checkChunks(x, all.output(), s);
                    assertClose(all.hN().toArray(), s.h().toArray());
                }
                try (RecurrentOutput all = lstm.forward(x); RecurrentStream s = new RecurrentStream(lstm)) {
                    checkChunks(x, all.output(), s);
                    assertClose(all.hN().toArray(), s.h().toArray());
                    assertClose(all.cN().toArray(), s.c().toArray());
                }
                try (RecurrentOutput all = sru.forward(x, null); RecurrentStream s = new RecurrentStream(sru)) {
                    checkChunks(x, all.output(), s);
                    assertClose(all.cN().toArray(), s.c().toArray());
                    s.reset();
                    assertTrue(s.c() == null);
                }
            }
        }
    }

    private static void checkChunks(Tensor x, Tensor whole, RecurrentStream s) {
        int[][] chunks = {{0, 2}, {2, 3}, {3, 6}};
        for (int[] c : chunks) {
            try (Tensor chunk = x.slice(0, c[0], c[1]); RecurrentOutput out = s.forward(chunk); Tensor expect = whole.slice(0, c[0], c[1])) {
                assertClose(expect.toArray(), out.output().toArray());
            }
        }
    }

    private static void assertClose(float[] e, float[] a) {
        assertArrayEquals(e, a, 1e-5f);
    }
}
