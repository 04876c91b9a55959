package dev.rnn4j;

import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.ParameterizedTest;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The safety net: a tensor collected without close() has its buffer freed and a WARNING logged
 * naming its shape; a closed tensor is freed once and logs nothing; close is idempotent.
 */
class TensorCleanerTest {
    private static final Logger JUL = Logger.getLogger(Tensor.class.getName());

    @ParameterizedTest
    @MethodSource("dev.rnn4j.Device#names")   // every backend of the provider registry
    void anUnclosedTensorIsFreedWhenCollectedAndTheLeakIsLogged(String backend) throws InterruptedException {
        List<LogRecord> records = new CopyOnWriteArrayList<>();
        Handler h = new Handler() {
            @Override public void publish(LogRecord r) { records.add(r); }
            @Override public void flush() {}
            @Override public void close() {}
        };
        JUL.addHandler(h);
        try (Device dev = Outcomes.open(backend)) {
            long base = dev.backend().liveBuffers();
            Tensor kept = dev.zeros(2, 2);
            kept.close();
            kept.close();                                   // idempotent
            leak(dev);
            assertEquals(base + 1, dev.backend().liveBuffers());
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (dev.backend().liveBuffers() != base && System.nanoTime() < deadline) {
                System.gc();
                Thread.sleep(20);
            }
            assertEquals(base, dev.backend().liveBuffers(), "the collected tensor's buffer was freed");
            deadline = System.nanoTime() + 5_000_000_000L;
            while (records.isEmpty() && System.nanoTime() < deadline) Thread.sleep(10);
            assertEquals(1, records.size(), "one warning, for the leaked tensor only: " + records);
            LogRecord r = records.get(0);
            assertEquals(Level.WARNING, r.getLevel());
            assertTrue(r.getMessage().contains("Tensor[3, 7]@" + backend) && r.getMessage().contains("without close()"), r.getMessage());
        } finally {
            JUL.removeHandler(h);
        }
    }

    /** Makes a tensor and drops it. */
    private static void leak(Device dev) {
        Tensor t = dev.zeros(3, 7);
        t.fill(1f);
    }
}
