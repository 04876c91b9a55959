package dev.rnn4j.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.rnn4j.HostTensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Coverage-guided fuzzing of {@link SafeTensors#read}: for any bytes, reading either succeeds
 * with a consistent result or throws {@link SafeTensorsFormatException}; any other exception, an
 * error (OutOfMemoryError, StackOverflowError) or a hang is a finding.
 *
 * <p>In a normal test run (CI) this runs in Jazzer's regression mode: once over every input of
 * the seed corpus in {@code tests/resources/dev/rnn4j/io/SafeTensorsFuzzTestInputs/fuzzRead/},
 * in milliseconds. {@code JAZZER_FUZZ=1 mvn test -Dtest=SafeTensorsFuzzTest} fuzzes for the
 * {@code maxDuration} below (docs/reliability.md has the figures of the sessions run).
 */
class SafeTensorsFuzzTest {
    private static final Path NAME = Path.of("fuzz-input.safetensors");

    @FuzzTest(maxDuration = "10m")
    void fuzzRead(byte[] data) throws IOException {
        SafeTensors.Contents c;
        try {
            c = SafeTensors.read(NAME, new BytesChannel(data));
        } catch (SafeTensorsFormatException e) {
            assertNotNull(e.problem());
            assertFalse(e.problem().isBlank());
            return;
        }
        // Accepted: the tensors must account for every byte after the header.
        long header = ByteBuffer.wrap(data, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        long bytes = 0;
        SafeTensors.Header h = headerOf(data);
        for (SafeTensors.TensorInfo t : h.tensors()) {
            HostTensor ht = c.tensor(t.name());
            assertNotNull(ht, t.name());
            assertEquals(t.numel(), ht.numel());
            bytes += t.end() - t.begin();
        }
        assertEquals(h.tensors().size(), c.tensors().size());
        assertEquals(data.length - 8 - header, bytes);
        assertTrue(header <= SafeTensors.MAX_HEADER_BYTES);
    }

    private static SafeTensors.Header headerOf(byte[] data) throws IOException {
        return SafeTensors.readHeader(NAME, new BytesChannel(data));
    }

    /** A read-only channel over a byte array. */
    static final class BytesChannel implements SeekableByteChannel {
        private final byte[] data;
        private long position;
        private boolean open = true;

        BytesChannel(byte[] data) { this.data = data; }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            if (!open) throw new ClosedChannelException();
            if (position >= data.length) return -1;
            int n = (int) Math.min(dst.remaining(), data.length - position);
            dst.put(data, (int) position, n);
            position += n;
            return n;
        }

        @Override public int write(ByteBuffer src) { throw new NonWritableChannelException(); }
        @Override public long position() { return position; }

        @Override
        public SeekableByteChannel position(long p) {
            if (p < 0) throw new IllegalArgumentException("negative position");
            position = p;
            return this;
        }

        @Override public long size() { return data.length; }
        @Override public SeekableByteChannel truncate(long size) { throw new NonWritableChannelException(); }
        @Override public boolean isOpen() { return open; }
        @Override public void close() { open = false; }
    }
}
