// Test sinks that the test JVM can inspect: an idempotent store (upsert by key and step) that
// counts rewrites and rewrites with other bits, and a list collector.
package dev.rnn4j.flink;

import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

final class Sinks {
    private Sinks() {}

    /** (key, seq) -> output; a replayed record overwrites its first copy, so the store holds each result once. */
    static final Map<String, float[]> STORE = new ConcurrentHashMap<>();
    static final AtomicInteger WRITES = new AtomicInteger(), REWRITES = new AtomicInteger(), CONFLICTS = new AtomicInteger();
    static final Map<String, List<Object>> LISTS = new ConcurrentHashMap<>();

    static void reset() {
        STORE.clear();
        WRITES.set(0);
        REWRITES.set(0);
        CONFLICTS.set(0);
        LISTS.clear();
    }

    @SuppressWarnings("unchecked")
    static <T> List<T> list(String name) { return (List<T>) (List<?>) LISTS.computeIfAbsent(name, n -> new CopyOnWriteArrayList<>()); }

    /** An idempotent sink: upsert by (key, seq); a rewrite with other bits is counted as a conflict. */
    static final class Idempotent implements Sink<Scored> {
        @Override
        public SinkWriter<Scored> createWriter(WriterInitContext context) {
            return new SinkWriter<>() {
                @Override
                public void write(Scored s, Context c) {
                    WRITES.incrementAndGet();
                    float[] old = STORE.put(s.key + "/" + s.seq, s.output.clone());
                    if (old != null) {
                        REWRITES.incrementAndGet();
                        if (!Arrays.equals(old, s.output)) CONFLICTS.incrementAndGet();
                    }
                }

                @Override public void flush(boolean endOfInput) {}
                @Override public void close() {}
            };
        }
    }

    /** Appends every record to {@code list(name)}. */
    static final class Collect<T> implements Sink<T> {
        private final String name;

        Collect(String name) { this.name = name; }

        @Override
        public SinkWriter<T> createWriter(WriterInitContext context) {
            List<T> l = list(name);
            return new SinkWriter<>() {
                @Override public void write(T t, Context c) { l.add(t); }
                @Override public void flush(boolean endOfInput) {}
                @Override public void close() {}
            };
        }
    }
}
