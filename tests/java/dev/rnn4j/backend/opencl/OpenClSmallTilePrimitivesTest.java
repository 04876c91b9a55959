package dev.rnn4j.backend.opencl;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every primitive test again on a backend built with 4 x 4 tiles, the path a device with small
 * work-groups takes (the tiled GEMM, column sums, reductions and log-softmax change shape).
 */
class OpenClSmallTilePrimitivesTest extends OpenClPrimitivesTest {
    private static OpenClBackend small;

    @Override
    protected synchronized OpenClBackend backend() {
        OpenClTestSupport.assumeOpenCl();
        if (small == null) {
            String old = System.getProperty(OpenClBackend.MAX_TILE_PROPERTY);
            System.setProperty(OpenClBackend.MAX_TILE_PROPERTY, "4");
            try {
                small = OpenClBackendProvider.open();
            } finally {
                if (old == null) System.clearProperty(OpenClBackend.MAX_TILE_PROPERTY);
                else System.setProperty(OpenClBackend.MAX_TILE_PROPERTY, old);
            }
        }
        return small;
    }

    @Test
    void tileIsFour() {
        assertEquals(4, backend().tile());
    }

    @AfterAll
    static void closeSmall() {
        if (small != null) {
            assertEquals(0, small.liveBuffers(), "buffers leaked");
            small.close();
        }
    }
}
