package dev.rnn4j.backend;

import dev.rnn4j.Device;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The heap backends' write count, on which the cpu backend's cached packed weights rest
 * ({@link HeapBackend#derived}): every op that writes a buffer counts, so a cached copy is made
 * again; the reads of a weight on the hot paths (a download, a copy's source; on the cpu backend
 * a product's operands and an embedding lookup) do not, so the copy survives them.
 */
class WriteCountTest {
    @ParameterizedTest
    @ValueSource(strings = {"reference", "cpu"})
    void writesCountAndHotReadsDoNot(String name) {
        try (Device dev = Device.open(name)) {
            HeapBackend be = (HeapBackend) DeviceAccess.backend(dev);
            try (DeviceBuffer w = be.allocate(12); DeviceBuffer x = be.allocate(8); DeviceBuffer y = be.allocate(12)) {
                be.upload(new float[12], 0, w, 0, 12);
                long c = be.writeCount(w);
                // reads of w
                be.download(w, 0, new float[12], 0, 12);
                be.copy(w, 0, y, 0, 12);
                be.copy2d(2, 3, w, 0, 3, y, 0, 3);
                if (name.equals("cpu")) {   // the cpu backend's kernels (the reference packs nothing)
                    be.gemm(false, true, 2, 3, 4, 1f, x, 0, 4, w, 0, 4, 0f, y, 0, 3, 1, 0, 0, 0);    // w as B
                    be.gemm(false, false, 2, 4, 3, 1f, w, 0, 3, w, 0, 4, 0f, x, 0, 4, 1, 0, 0, 0);    // w as A and B
                    be.run(new Op.EmbeddingForward(new int[]{2, 0}, 0, 2, 4, w, 0, x, 0));
                }
                assertEquals(c, be.writeCount(w), "reads of w on " + name);
                // writes of w
                be.upload(new float[12], 0, w, 0, 12);
                assertTrue(be.writeCount(w) > c, "an upload counts on " + name);
                c = be.writeCount(w);
                be.fill(w, 0, 12, 1f);
                assertTrue(be.writeCount(w) > c, "a fill counts on " + name);
                c = be.writeCount(w);
                be.copy(y, 0, w, 0, 12);
                assertTrue(be.writeCount(w) > c, "a copy into w counts on " + name);
                c = be.writeCount(w);
                be.gemm(false, true, 3, 4, 2, 1f, y, 0, 2, x, 0, 2, 0f, w, 0, 4, 1, 0, 0, 0);     // w as C
                assertTrue(be.writeCount(w) > c, "a product into w counts on " + name);
                c = be.writeCount(w);
                be.axpy(12, 1f, y, 0, w, 0);
                assertTrue(be.writeCount(w) > c, "an axpy into w counts on " + name);
            }
        }
    }
}
