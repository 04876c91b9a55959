package dev.rnn4j.io;

import dev.rnn4j.HostTensor;
import dev.rnn4j.Shapes;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Reads and writes safetensors files: an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON mapping tensor names to {@code {"dtype", "shape", "data_offsets": [begin, end]}}
 * (plus an optional {@code "__metadata__"} object of string values), then the data buffer,
 * whose byte offsets the entries give.
 *
 * <p>Reading is strict and validates the whole header before allocating any tensor, so a
 * forged header cannot make it allocate more than the file holds: the header length must be
 * at most {@link #MAX_HEADER_BYTES} and fit in the file; the JSON must be a valid UTF-8 object
 * without duplicate keys; every entry needs exactly {@code dtype} (a string), {@code shape} (an
 * array of non-negative integers) and {@code data_offsets} (two non-negative integers,
 * begin &lt;= end); each byte range must hold exactly numel × dtype size bytes; and, as in the
 * format's own reference implementation, the ranges must tile the data buffer exactly: no
 * overlap, no gap, no trailing bytes. Every rejection is a {@link SafeTensorsFormatException}
 * naming the file and the problem.
 *
 * <p>Data types: {@code F32} is read as is; {@code F16} and {@code BF16} are widened to float32,
 * which is exact for every bit pattern (subnormals, infinities, NaN payloads and signed zeros
 * included). {@code F64} (a PyTorch {@code model.double()} save) is narrowed to float32 as
 * PyTorch's {@code .float()} does: rounded to the nearest float32 (ties to even), a magnitude
 * beyond float32's range becomes an infinity of its sign, one below its smallest subnormal
 * becomes a zero of its sign, and NaN stays NaN. The integer types PyTorch writes for lengths and masks ({@code I64}, {@code I32},
 * {@code I16}, {@code I8}, {@code U8}, {@code BOOL}) are read as float32 values, which is exact
 * up to 2^24 in magnitude; a larger value is rejected, naming the tensor and the value, rather
 * than rounded. Any other dtype is rejected with its name. Writing always uses {@code F32}.
 */
public final class SafeTensors {
    private SafeTensors() {}

    /** Largest header accepted when reading (100 MiB); real headers are kilobytes. */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    /** The reserved header key holding string metadata. */
    public static final String METADATA_KEY = "__metadata__";

    private static final int CHUNK_BYTES = 1 << 20;

    /** The element types this reader accepts. */
    public enum DType {
        /** IEEE 754 single precision, read as is. */
        F32(4),
        /** IEEE 754 half precision, widened exactly to float32. */
        F16(2),
        /** IEEE 754 double precision, rounded to the nearest float32 (out of range: infinity, as PyTorch's {@code .float()}). */
        F64(8),
        /** bfloat16 (the upper half of a float32), widened exactly. */
        BF16(2),
        /** 64-bit signed integers, read as float32 only where exact (e.g. sequence lengths). */
        I64(8),
        /** 32-bit signed integers, read as float32 only where exact. */
        I32(4),
        /** 16-bit signed integers, exact in float32. */
        I16(2),
        /** 8-bit signed integers, exact in float32. */
        I8(1),
        /** 8-bit unsigned integers, exact in float32. */
        U8(1),
        /** Booleans (one byte, 0 or 1), read as 0 or 1. */
        BOOL(1);

        private final int bytes;

        DType(int bytes) { this.bytes = bytes; }

        /** Bytes per element. */
        public int bytes() { return bytes; }
    }

    /**
     * One header entry.
     *
     * @param name  the tensor's name
     * @param dtype its element type in the file
     * @param shape its dimensions (copied)
     * @param begin the first byte of its data, relative to the data buffer
     * @param end   one past its last byte
     */
    public record TensorInfo(String name, DType dtype, int[] shape, long begin, long end) {
        public TensorInfo {
            shape = shape.clone();
        }

        @Override
        public int[] shape() { return shape.clone(); }

        /** The number of elements of the shape. */
        public long numel() { return Shapes.numel(shape); }

        @Override
        public String toString() {
            return name + ": " + dtype + " " + Arrays.toString(shape) + " [" + begin + ", " + end + ")";
        }
    }

    /**
     * A validated header: the tensors in file order (ascending data offset; empty tensors that
     * share an offset keep their header order), the metadata in header order, and the sizes of
     * the JSON header and the data buffer in bytes.
     *
     * @param tensors     the entries in file order (copied, unmodifiable)
     * @param metadata    the {@code __metadata__} strings in header order (copied, unmodifiable)
     * @param headerBytes the length of the JSON header
     * @param dataBytes   the length of the data buffer
     */
    public record Header(List<TensorInfo> tensors, Map<String, String> metadata, long headerBytes, long dataBytes) {
        public Header {
            tensors = List.copyOf(tensors);
            metadata = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        }
    }

    /**
     * The contents of a file: its tensors as float32 host tensors, in file order (ascending data
     * offset, see {@link Header}), and its metadata in header order. Both maps are fresh mutable
     * {@link LinkedHashMap}s owned by the caller.
     *
     * @param tensors  the tensors by name, in file order
     * @param metadata the metadata strings, in header order
     */
    public record Contents(LinkedHashMap<String, HostTensor> tensors, LinkedHashMap<String, String> metadata) {
        /** The tensor called {@code name}, or null. */
        public HostTensor tensor(String name) { return tensors.get(name); }

        /** The metadata value under {@code key}, if any. */
        public Optional<String> metadataValue(String key) { return Optional.ofNullable(metadata.get(key)); }
    }

    // ------------------------------------------------------------------ reading

    /** Reads a whole file, validating it strictly (see the class comment). */
    public static Contents read(Path path) throws IOException {
        if (path == null) throw new NullPointerException("path is null");
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return read(path, ch);
        }
    }

    /**
     * Reads a whole safetensors image from {@code ch} (from position 0 to its size), validating it
     * as {@link #read(Path)} does; {@code name} only names the source in exceptions. For callers
     * holding the bytes elsewhere than in a file (and for the fuzz tests).
     */
    public static Contents read(Path name, SeekableByteChannel ch) throws IOException {
        if (ch == null) throw new NullPointerException("channel is null");
        Header h = readHeader(name, ch);
        long dataStart = 8 + h.headerBytes();
        LinkedHashMap<String, HostTensor> tensors = new LinkedHashMap<>();
        for (TensorInfo t : h.tensors()) {
            float[] data = readData(name, ch, dataStart + t.begin(), t.dtype(), (int) t.numel());
            tensors.put(t.name(), new HostTensor(t.shape(), data));
        }
        return new Contents(tensors, new LinkedHashMap<>(h.metadata()));
    }

    /** Reads and validates only the header (no tensor data is read). */
    public static Header readHeader(Path path) throws IOException {
        if (path == null) throw new NullPointerException("path is null");
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return readHeader(path, ch);
        }
    }

    /** Reads and validates only the header of the safetensors image in {@code ch}; {@code path} names it in exceptions. */
    public static Header readHeader(Path path, SeekableByteChannel ch) throws IOException {
        if (ch == null) throw new NullPointerException("channel is null");
        long size = ch.size();
        if (size < 8)
            throw new SafeTensorsFormatException(path, "file is " + size + " bytes long, too short to hold the 8-byte header length");
        long n = readFully(path, ch, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n < 0 || n > MAX_HEADER_BYTES)
            throw new SafeTensorsFormatException(path, "header length " + Long.toUnsignedString(n)
                    + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes (corrupt or not a safetensors file)");
        if (n > size - 8)
            throw new SafeTensorsFormatException(path, "header length " + n + " is larger than the "
                    + (size - 8) + " bytes that follow it (truncated or not a safetensors file)");
        if (n < 2)
            throw new SafeTensorsFormatException(path, "header length " + n + " is too small to hold a JSON object");
        ByteBuffer raw = readFully(path, ch, 8, (int) n);
        String json;
        try {
            json = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(raw).toString();
        } catch (CharacterCodingException e) {
            throw new SafeTensorsFormatException(path, "header is not valid UTF-8", e);
        }
        Object parsed;
        try {
            parsed = Json.parse(json);
        } catch (Json.JsonException e) {
            throw new SafeTensorsFormatException(path, "header is not valid JSON: " + e.getMessage(), e);
        }
        if (!(parsed instanceof Map<?, ?> top))
            throw new SafeTensorsFormatException(path, "header must be a JSON object, got " + Json.typeName(parsed));

        long dataBytes = size - 8 - n;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> infos = new ArrayList<>();
        for (var e : top.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals(METADATA_KEY)) {
                metadata = metadata(path, e.getValue());
                continue;
            }
            infos.add(entry(path, name, e.getValue(), dataBytes));
        }

        // File order; a stable sort keeps header order among empty tensors at the same offset.
        List<TensorInfo> ordered = new ArrayList<>(infos);
        ordered.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long at = 0;
        TensorInfo prev = null;
        for (TensorInfo t : ordered) {
            if (t.begin() < at)
                throw new SafeTensorsFormatException(path, "tensors '" + prev.name() + "' [" + prev.begin() + ", " + prev.end()
                        + ") and '" + t.name() + "' [" + t.begin() + ", " + t.end() + ") overlap");
            if (t.begin() > at)
                throw new SafeTensorsFormatException(path, "bytes [" + at + ", " + t.begin()
                        + ") of the data buffer belong to no tensor");
            at = t.end();
            prev = t;
        }
        if (at != dataBytes)
            throw new SafeTensorsFormatException(path, "data buffer holds " + dataBytes + " bytes but the tensors cover only "
                    + at + " (trailing bytes after the last tensor)");
        return new Header(ordered, metadata, n, dataBytes);
    }

    private static Map<String, String> metadata(Path path, Object v) throws SafeTensorsFormatException {
        if (!(v instanceof Map<?, ?> m))
            throw new SafeTensorsFormatException(path, "\"" + METADATA_KEY + "\" must be an object of strings, got " + Json.typeName(v));
        Map<String, String> out = new LinkedHashMap<>();
        for (var e : m.entrySet()) {
            if (!(e.getValue() instanceof String s))
                throw new SafeTensorsFormatException(path, "metadata value \"" + e.getKey() + "\" must be a string, got "
                        + Json.typeName(e.getValue()));
            out.put((String) e.getKey(), s);
        }
        return out;
    }

    private static TensorInfo entry(Path path, String name, Object v, long dataBytes) throws SafeTensorsFormatException {
        String where = "tensor '" + name + "': ";
        if (!(v instanceof Map<?, ?> m))
            throw new SafeTensorsFormatException(path, where + "entry must be an object, got " + Json.typeName(v));
        for (Object k : m.keySet())
            if (!k.equals("dtype") && !k.equals("shape") && !k.equals("data_offsets"))
                throw new SafeTensorsFormatException(path, where + "unknown field \"" + k + "\"");
        for (String k : new String[] {"dtype", "shape", "data_offsets"})
            if (!m.containsKey(k)) throw new SafeTensorsFormatException(path, where + "missing field \"" + k + "\"");

        if (!(m.get("dtype") instanceof String dt))
            throw new SafeTensorsFormatException(path, where + "dtype must be a string, got " + Json.typeName(m.get("dtype")));
        DType dtype;
        try {
            dtype = DType.valueOf(dt);
        } catch (IllegalArgumentException unknown) {
            throw new SafeTensorsFormatException(path, where + "unsupported dtype '" + dt + "' (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
        }

        if (!(m.get("shape") instanceof List<?> sl))
            throw new SafeTensorsFormatException(path, where + "shape must be an array, got " + Json.typeName(m.get("shape")));
        int[] shape = new int[sl.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            Object d = sl.get(i);
            if (!(d instanceof Long dim))
                throw new SafeTensorsFormatException(path, where + "shape " + Json.write(sl) + " has a non-integer dimension");
            if (dim < 0)
                throw new SafeTensorsFormatException(path, where + "shape " + Json.write(sl) + " has a negative dimension");
            if (dim > Integer.MAX_VALUE)
                throw new SafeTensorsFormatException(path, where + "shape " + Json.write(sl) + " has a dimension larger than " + Integer.MAX_VALUE);
            shape[i] = (int) (long) dim;
            numel *= dim;
            if (numel > Shapes.MAX_NUMEL)
                throw new SafeTensorsFormatException(path, where + "shape " + Json.write(sl) + " has more than " + Shapes.MAX_NUMEL + " elements");
        }

        if (!(m.get("data_offsets") instanceof List<?> ol) || ol.size() != 2
                || !(ol.get(0) instanceof Long b) || !(ol.get(1) instanceof Long e))
            throw new SafeTensorsFormatException(path, where + "data_offsets must be an array of two integers, got "
                    + Json.write(m.get("data_offsets")));
        if (b < 0 || e < 0)
            throw new SafeTensorsFormatException(path, where + "data_offsets [" + b + ", " + e + "] are negative");
        if (b > e)
            throw new SafeTensorsFormatException(path, where + "data_offsets [" + b + ", " + e + "] begin after they end");
        if (e > dataBytes)
            throw new SafeTensorsFormatException(path, where + "data_offsets [" + b + ", " + e + "] end past the data buffer, which holds "
                    + dataBytes + " bytes (truncated file?)");
        long want = numel * dtype.bytes();
        if (e - b != want)
            throw new SafeTensorsFormatException(path, where + "data_offsets [" + b + ", " + e + "] span " + (e - b) + " bytes but "
                    + dtype + " " + Arrays.toString(shape) + " needs " + want);
        return new TensorInfo(name, dtype, shape, b, e);
    }

    private static float[] readData(Path path, SeekableByteChannel ch, long pos, DType dtype, int numel) throws IOException {
        float[] out = new float[numel];
        int perChunk = CHUNK_BYTES / dtype.bytes();
        for (int done = 0; done < numel; ) {
            int count = Math.min(perChunk, numel - done);
            ByteBuffer bb = readFully(path, ch, pos + (long) done * dtype.bytes(), count * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
            switch (dtype) {
                case F32 -> bb.asFloatBuffer().get(out, done, count);
                case F16 -> {
                    for (int i = 0; i < count; i++) out[done + i] = f16ToF32(bb.getShort());
                }
                case BF16 -> {
                    for (int i = 0; i < count; i++) out[done + i] = bf16ToF32(bb.getShort());
                }
                case F64 -> {
                    // Java's narrowing is IEEE round-to-nearest-even with overflow to infinity, as torch's .float().
                    for (int i = 0; i < count; i++) out[done + i] = (float) bb.getDouble();
                }
                case I64 -> {
                    for (int i = 0; i < count; i++) out[done + i] = exactInt(path, bb.getLong(), done + i);
                }
                case I32 -> {
                    for (int i = 0; i < count; i++) out[done + i] = exactInt(path, bb.getInt(), done + i);
                }
                case I16 -> {
                    for (int i = 0; i < count; i++) out[done + i] = bb.getShort();
                }
                case I8 -> {
                    for (int i = 0; i < count; i++) out[done + i] = bb.get();
                }
                case U8 -> {
                    for (int i = 0; i < count; i++) out[done + i] = bb.get() & 0xff;
                }
                case BOOL -> {
                    for (int i = 0; i < count; i++) {
                        byte b = bb.get();
                        if (b != 0 && b != 1)
                            throw new SafeTensorsFormatException(path, "BOOL element " + (done + i) + " is " + (b & 0xff) + ", not 0 or 1");
                        out[done + i] = b;
                    }
                }
            }
            done += count;
        }
        return out;
    }

    /** An integer element as float32, only where that is exact (|v| <= 2^24). */
    private static float exactInt(Path path, long v, int index) throws SafeTensorsFormatException {
        if (Math.abs(v) > (1L << 24))
            throw new SafeTensorsFormatException(path, "integer element " + index + " = " + v
                    + " cannot be held exactly as float32 (|value| > 2^24)");
        return v;
    }

    private static ByteBuffer readFully(Path path, SeekableByteChannel ch, long pos, int n) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(n);
        while (bb.hasRemaining()) {
            ch.position(pos + bb.position());
            int r = ch.read(bb);
            if (r < 0) throw new SafeTensorsFormatException(path, "unexpected end of file at byte " + (pos + bb.position()),
                    new EOFException());
        }
        return bb.flip();
    }

    // ------------------------------------------------------------------ conversions

    /** Exact IEEE 754 binary16 → binary32 widening (bit pattern in the low 16 bits of {@code h}). */
    public static float f16ToF32(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0) {
            // Zero or subnormal: mant * 2^-24, exact in float32 (a normal number there).
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13)); // inf, or NaN keeping its payload
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** Exact bfloat16 → float32 widening: bfloat16 is the top half of a float32. */
    public static float bf16ToF32(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    // ------------------------------------------------------------------ writing

    /** Writes {@code tensors} as F32 with no metadata; see {@link #write(Path, Map, Map)}. */
    public static void write(Path path, Map<String, HostTensor> tensors) throws IOException {
        write(path, tensors, Map.of());
    }

    /**
     * Writes {@code tensors} (in map order, packed contiguously) as F32, with {@code metadata}
     * (may be null or empty, then no {@code "__metadata__"} entry is written). The header is
     * padded with spaces to a multiple of 8 bytes. The write is atomic: the data goes to a
     * temporary file in the same directory, which is flushed to disk and then renamed over
     * {@code path}, so readers see either the old file or the complete new one.
     */
    public static void write(Path path, Map<String, HostTensor> tensors, Map<String, String> metadata) throws IOException {
        if (path == null) throw new NullPointerException("path is null");
        if (tensors == null) throw new NullPointerException("tensors is null");
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) {
            for (var e : metadata.entrySet())
                if (e.getKey() == null || e.getValue() == null)
                    throw new IllegalArgumentException("metadata has a null key or value: " + e.getKey());
            header.put(METADATA_KEY, new LinkedHashMap<>(metadata));
        }
        long offset = 0;
        for (var e : tensors.entrySet()) {
            String name = e.getKey();
            if (name == null) throw new IllegalArgumentException("tensor name is null");
            if (name.equals(METADATA_KEY)) throw new IllegalArgumentException("tensor name " + METADATA_KEY + " is reserved");
            if (e.getValue() == null) throw new IllegalArgumentException("tensor '" + name + "' is null");
            long bytes = e.getValue().numel() * 4;
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("dtype", "F32");
            entry.put("shape", e.getValue().shape());
            entry.put("data_offsets", new long[] {offset, offset + bytes});
            header.put(name, entry);
            offset += bytes;
        }
        byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7;
        if (padded > MAX_HEADER_BYTES)
            throw new IllegalArgumentException("header would be " + padded + " bytes, over the limit of " + MAX_HEADER_BYTES);

        Path target = path.toAbsolutePath();
        Path dir = target.getParent();
        Path tmp;
        try {
            tmp = createTemp(dir, target.getFileName().toString());
        } catch (IOException e) {
            throw named(path, e);
        }
        boolean moved = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
                head.putLong(padded).put(json);
                while (head.hasRemaining()) head.put((byte) ' ');
                writeFully(ch, head.flip());
                ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                for (HostTensor t : tensors.values()) {
                    float[] data = t.data();
                    for (int i = 0; i < data.length; ) {
                        int count = Math.min(CHUNK_BYTES / 4, data.length - i);
                        buf.clear();
                        buf.asFloatBuffer().put(data, i, count);
                        buf.limit(count * 4);
                        writeFully(ch, buf);
                        i += count;
                    }
                }
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            moved = true;
        } catch (IOException e) {
            throw named(path, e);
        } finally {
            if (!moved) Files.deleteIfExists(tmp);
        }
        syncDirectory(dir);
    }

    /**
     * The failure of writing {@code path}, named by the path the caller asked for rather than the
     * temporary file it went through (kept as the cause).
     */
    private static IOException named(Path path, IOException e) {
        String why = e instanceof java.nio.file.NoSuchFileException ? "its directory does not exist"
                : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
                : e instanceof java.nio.file.FileSystemException fse ? (fse.getReason() != null ? fse.getReason() : e.getClass().getSimpleName())
                : e.getClass().getSimpleName() + (e.getMessage() != null ? ": " + e.getMessage() : "");
        java.nio.file.FileSystemException out = new java.nio.file.FileSystemException(path.toString(), null,
                "cannot write the safetensors file (" + why + ")");
        out.initCause(e);
        return out;
    }

    /** A new empty file next to the target, created with the default permissions (unlike Files.createTempFile's 0600). */
    private static Path createTemp(Path dir, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 100) throw e;
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer bb) throws IOException {
        while (bb.hasRemaining()) ch.write(bb);
    }

    /** Makes the rename durable where the platform allows syncing a directory (Linux does; some systems do not). */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException notSupported) {
            // Best effort: the data itself was already forced before the rename.
        }
    }
}
