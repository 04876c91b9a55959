package dev.rnn4j.io;

import dev.rnn4j.HostTensor;
import dev.rnn4j.conformance.CaseFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** Reading, writing and rejecting safetensors files. */
class SafeTensorsTest {
    @TempDir
    Path dir;

    // ------------------------------------------------------------------ helpers

    /** A file made of an explicit header length, header text and data bytes. */
    private Path raw(String name, long headerLength, byte[] header, byte[] data) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(headerLength).put(header).put(data);
        Path p = dir.resolve(name);
        Files.write(p, bb.array());
        return p;
    }

    /** A file with a correct header length for {@code header} and {@code dataBytes} zero bytes of data. */
    private Path file(String name, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return raw(name, h.length, h, new byte[dataBytes]);
    }

    private static byte[] shorts(int... values) {
        ByteBuffer bb = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) bb.putShort((short) v);
        return bb.array();
    }

    /** Asserts that reading fails with a message naming the file and containing {@code fragment}. */
    private static SafeTensorsFormatException rejected(Path p, String fragment) {
        SafeTensorsFormatException e = assertThrows(SafeTensorsFormatException.class, () -> SafeTensors.read(p));
        assertTrue(e.getMessage().startsWith(p.toString() + ": "), "message should name the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "expected '" + fragment + "' in: " + e.getMessage());
        assertEquals(p, e.file());
        // readHeader must reject the same files (nothing here depends on tensor data).
        assertThrows(SafeTensorsFormatException.class, () -> SafeTensors.readHeader(p));
        return e;
    }

    private static String entry(String name, String dtype, String shape, long b, long e) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + b + "," + e + "]}";
    }

    // ------------------------------------------------------------------ round trips

    @Test
    void roundTripKeepsOrderValuesAndMetadata() throws IOException {
        SplittableRandom rnd = new SplittableRandom(1);
        Map<String, HostTensor> in = new LinkedHashMap<>();
        for (String n : List.of("zeta", "alpha", "weight_ih_l0", "rnn_lst.0.bias", "mid")) {
            int[] shape = {1 + rnd.nextInt(4), 1 + rnd.nextInt(5)};
            float[] d = new float[shape[0] * shape[1]];
            for (int i = 0; i < d.length; i++) d[i] = (float) rnd.nextGaussian();
            in.put(n, new HostTensor(shape, d));
        }
        in.put("scalar", new HostTensor(new int[0], new float[] {7.5f}));
        in.put("empty", new HostTensor(new int[] {3, 0}, new float[0]));
        in.put("special", new HostTensor(new int[] {6}, new float[] {
                Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0.0f, Float.MIN_VALUE, Float.MAX_VALUE}));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("config", "{\"a\": [1, 2], \"s\": \"\\\"q\\\" é\"}");
        Path p = dir.resolve("rt.safetensors");
        SafeTensors.write(p, in, meta);

        SafeTensors.Contents c = SafeTensors.read(p);
        assertEquals(List.copyOf(in.keySet()), List.copyOf(c.tensors().keySet()), "file order = write order");
        for (var e : in.entrySet()) {
            HostTensor got = c.tensor(e.getKey());
            assertArrayEquals(e.getValue().shape(), got.shape(), e.getKey());
            float[] a = e.getValue().data(), b = got.data();
            for (int i = 0; i < a.length; i++)
                assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), e.getKey() + "[" + i + "] bitwise");
        }
        assertEquals(meta, c.metadata());
        assertEquals(List.copyOf(meta.keySet()), List.copyOf(c.metadata().keySet()));
        assertEquals("pt", c.metadataValue("format").orElseThrow());
        assertTrue(c.metadataValue("absent").isEmpty());
        assertEquals(Map.of("a", List.of(1L, 2L), "s", "\"q\" é"), Json.parseObject(c.metadataValue("config").orElseThrow()));

        long n = ByteBuffer.wrap(Files.readAllBytes(p), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header padded to a multiple of 8");
        SafeTensors.Header h = SafeTensors.readHeader(p);
        assertEquals(n, h.headerBytes());
        assertEquals(Files.size(p) - 8 - n, h.dataBytes());
    }

    @Test
    void writesTheDocumentedLayout() throws IOException {
        Map<String, HostTensor> in = new LinkedHashMap<>();
        in.put("b", new HostTensor(new int[] {2}, new float[] {1f, -2f}));
        in.put("a", new HostTensor(new int[] {1, 1}, new float[] {0.5f}));
        Path p = dir.resolve("layout.safetensors");
        SafeTensors.write(p, in, Map.of("k", "v"));
        byte[] bytes = Files.readAllBytes(p);
        String json = "{\"__metadata__\":{\"k\":\"v\"},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}";
        int padded = (json.length() + 7) / 8 * 8;
        ByteBuffer want = ByteBuffer.allocate(8 + padded + 12).order(ByteOrder.LITTLE_ENDIAN);
        want.putLong(padded).put(json.getBytes(StandardCharsets.US_ASCII));
        while (want.position() < 8 + padded) want.put((byte) ' ');
        want.putFloat(1f).putFloat(-2f).putFloat(0.5f);
        assertArrayEquals(want.array(), bytes);
    }

    @Test
    void noMetadataMeansNoMetadataEntry() throws IOException {
        Path p = dir.resolve("nometa.safetensors");
        SafeTensors.write(p, Map.of("x", new HostTensor(new int[] {1}, new float[] {1f})));
        String text = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
        assertFalse(text.contains("__metadata__"));
        assertTrue(SafeTensors.read(p).metadata().isEmpty());
        SafeTensors.write(p, Map.of(), null);
        SafeTensors.Contents c = SafeTensors.read(p);
        assertTrue(c.tensors().isEmpty());
    }

    @Test
    void largeTensorsCrossChunkBoundaries() throws IOException {
        int n = 700_001; // > 1 MiB of F32, odd length
        float[] d = new float[n];
        for (int i = 0; i < n; i++) d[i] = i * 0.25f - 3f;
        Path p = dir.resolve("big.safetensors");
        SafeTensors.write(p, Map.of("big", new HostTensor(new int[] {n}, d)));
        assertArrayEquals(d, SafeTensors.read(p).tensor("big").data());
    }

    @Test
    void writeIsAtomicAndLeavesNoTemporaryFiles() throws IOException {
        Path p = dir.resolve("atomic.safetensors");
        SafeTensors.write(p, Map.of("x", new HostTensor(new int[] {1}, new float[] {1f})));
        SafeTensors.write(p, Map.of("y", new HostTensor(new int[] {2}, new float[] {2f, 3f})));
        assertEquals(List.of("y"), List.copyOf(SafeTensors.read(p).tensors().keySet()));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(p), s.toList(), "only the target remains");
        }
        // A failed write leaves the old file untouched and no temporary behind.
        Map<String, HostTensor> bad = new LinkedHashMap<>();
        bad.put("ok", new HostTensor(new int[] {1}, new float[] {1f}));
        bad.put(SafeTensors.METADATA_KEY, new HostTensor(new int[] {1}, new float[] {1f}));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(p, bad, null));
        assertEquals(List.of("y"), List.copyOf(SafeTensors.read(p).tensors().keySet()));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(p), s.toList());
        }
    }

    @Test
    void readsTheConformanceFiles() throws IOException {
        List<Path> files = CaseFiles.paths();
        assertFalse(files.isEmpty(), "no conformance files in " + CaseFiles.dir());
        for (Path f : files) {
            SafeTensors.Contents c = SafeTensors.read(f);
            Map<String, Object> cfg = Json.parseObject(c.metadataValue("config").orElseThrow());
            assertEquals(cfg.get("tensor_order"), List.copyOf(c.tensors().keySet()), f + ": file order");
        }
    }

    // ------------------------------------------------------------------ F16 / BF16

    @Test
    void f16KnownPatterns() {
        assertEquals(1.0f, SafeTensors.f16ToF32((short) 0x3C00));
        assertEquals(-2.0f, SafeTensors.f16ToF32((short) 0xC000));
        assertEquals(65504.0f, SafeTensors.f16ToF32((short) 0x7BFF), "largest finite");
        assertEquals(0x1p-14f, SafeTensors.f16ToF32((short) 0x0400), "smallest normal");
        assertEquals(0x1p-24f, SafeTensors.f16ToF32((short) 0x0001), "smallest subnormal");
        assertEquals(1023 * 0x1p-24f, SafeTensors.f16ToF32((short) 0x03FF), "largest subnormal");
        assertEquals(-0x1p-24f, SafeTensors.f16ToF32((short) 0x8001));
        assertEquals(0.333251953125f, SafeTensors.f16ToF32((short) 0x3555));
        assertEquals(Float.floatToRawIntBits(0.0f), Float.floatToRawIntBits(SafeTensors.f16ToF32((short) 0x0000)));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(SafeTensors.f16ToF32((short) 0x8000)));
        assertEquals(Float.POSITIVE_INFINITY, SafeTensors.f16ToF32((short) 0x7C00));
        assertEquals(Float.NEGATIVE_INFINITY, SafeTensors.f16ToF32((short) 0xFC00));
        assertEquals(0x7FC00000, Float.floatToRawIntBits(SafeTensors.f16ToF32((short) 0x7E00)), "quiet NaN");
        assertEquals(0xFF802000, Float.floatToRawIntBits(SafeTensors.f16ToF32((short) 0xFC01)), "NaN payload and sign kept");
    }

    @Test
    void f16AllPatternsMatchTheJdk() {
        for (int b = 0; b <= 0xFFFF; b++) {
            float mine = SafeTensors.f16ToF32((short) b), jdk = Float.float16ToFloat((short) b);
            if (Float.isNaN(jdk)) assertTrue(Float.isNaN(mine), "0x" + Integer.toHexString(b));
            else assertEquals(Float.floatToRawIntBits(jdk), Float.floatToRawIntBits(mine), "0x" + Integer.toHexString(b));
        }
    }

    @Test
    void f16WideningIsExact() {
        // Every finite half value survives the round trip back through the JDK's narrowing.
        for (int b = 0; b <= 0xFFFF; b++) {
            float f = SafeTensors.f16ToF32((short) b);
            if (!Float.isNaN(f)) assertEquals((short) b, Float.floatToFloat16(f), "0x" + Integer.toHexString(b));
        }
    }

    @Test
    void bf16KnownPatterns() {
        assertEquals(1.0f, SafeTensors.bf16ToF32((short) 0x3F80));
        assertEquals(-3.0f, SafeTensors.bf16ToF32((short) 0xC040));
        assertEquals(0x1p-133f, SafeTensors.bf16ToF32((short) 0x0001), "smallest subnormal");
        assertEquals(Float.intBitsToFloat(0x7F7F0000), SafeTensors.bf16ToF32((short) 0x7F7F), "largest finite");
        assertEquals(Float.POSITIVE_INFINITY, SafeTensors.bf16ToF32((short) 0x7F80));
        assertEquals(Float.NEGATIVE_INFINITY, SafeTensors.bf16ToF32((short) 0xFF80));
        assertEquals(0x7FC00000, Float.floatToRawIntBits(SafeTensors.bf16ToF32((short) 0x7FC0)));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(SafeTensors.bf16ToF32((short) 0x8000)));
        for (int b = 0; b <= 0xFFFF; b++)
            assertEquals(b << 16, Float.floatToRawIntBits(SafeTensors.bf16ToF32((short) b)));
    }

    @Test
    void readsF16AndBf16Files() throws IOException {
        String h = "{" + entry("h", "F16", "[2,3]", 0, 12) + "," + entry("b", "BF16", "[3]", 12, 18) + "}";
        byte[] data = new byte[18];
        System.arraycopy(shorts(0x3C00, 0xC000, 0x0001, 0x7C00, 0x8000, 0x7BFF), 0, data, 0, 12);
        System.arraycopy(shorts(0x3F80, 0xC040, 0x0001), 0, data, 12, 6);
        Path p = file("mixed.safetensors", h, 18);
        Files.write(p, concat(Files.readAllBytes(p), data, 18));
        SafeTensors.Contents c = SafeTensors.read(p);
        assertArrayEquals(new int[] {2, 3}, c.tensor("h").shape());
        assertArrayEquals(new float[] {1f, -2f, 0x1p-24f, Float.POSITIVE_INFINITY, -0.0f, 65504f}, c.tensor("h").data());
        assertArrayEquals(new float[] {1f, -3f, 0x1p-133f}, c.tensor("b").data());
        List<SafeTensors.DType> types = new ArrayList<>();
        for (var t : SafeTensors.readHeader(p).tensors()) types.add(t.dtype());
        assertEquals(List.of(SafeTensors.DType.F16, SafeTensors.DType.BF16), types);
    }

    @Test
    void readsIntegerDtypesAsExactFloats() throws IOException {
        // lengths as PyTorch writes them (I64), and the other integer types of the format
        String h = "{" + entry("len", "I64", "[3]", 0, 24) + "," + entry("i32", "I32", "[2]", 24, 32) + ","
                + entry("i16", "I16", "[1]", 32, 34) + "," + entry("i8", "I8", "[1]", 34, 35) + ","
                + entry("u8", "U8", "[1]", 35, 36) + "," + entry("mask", "BOOL", "[2]", 36, 38) + "}";
        ByteBuffer d = ByteBuffer.allocate(38).order(ByteOrder.LITTLE_ENDIAN);
        d.putLong(5).putLong(1).putLong(1L << 24).putInt(-7).putInt(123456).putShort((short) -300)
                .put((byte) -5).put((byte) 200).put((byte) 1).put((byte) 0);
        Path p = file("ints.safetensors", h, 38);
        Files.write(p, concat(Files.readAllBytes(p), d.array(), 38));
        SafeTensors.Contents c = SafeTensors.read(p);
        assertArrayEquals(new float[] {5f, 1f, 16777216f}, c.tensor("len").data());
        assertArrayEquals(new float[] {-7f, 123456f}, c.tensor("i32").data());
        assertArrayEquals(new float[] {-300f}, c.tensor("i16").data());
        assertArrayEquals(new float[] {-5f}, c.tensor("i8").data());
        assertArrayEquals(new float[] {200f}, c.tensor("u8").data());
        assertArrayEquals(new float[] {1f, 0f}, c.tensor("mask").data());
    }

    @Test
    void rejectsIntegersFloatCannotHoldAndBoolsOtherThanZeroOrOne() throws IOException {
        Path big = file("big.safetensors", "{" + entry("len", "I64", "[1]", 0, 8) + "}", 8);
        Files.write(big, concat(Files.readAllBytes(big),
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong((1L << 24) + 1).array(), 8));
        SafeTensorsFormatException e = assertThrows(SafeTensorsFormatException.class, () -> SafeTensors.read(big));
        assertTrue(e.getMessage().contains("16777217 cannot be held exactly as float32"), e.getMessage());
        Path bool = file("bool.safetensors", "{" + entry("m", "BOOL", "[1]", 0, 1) + "}", 1);
        Files.write(bool, concat(Files.readAllBytes(bool), new byte[] {2}, 1));
        e = assertThrows(SafeTensorsFormatException.class, () -> SafeTensors.read(bool));
        assertTrue(e.getMessage().contains("BOOL element 0 is 2, not 0 or 1"), e.getMessage());
    }

    /** Replaces the last {@code n} bytes of {@code file} with {@code data}. */
    private static byte[] concat(byte[] file, byte[] data, int n) {
        System.arraycopy(data, 0, file, file.length - n, n);
        return file;
    }

    @Test
    void fileOrderFollowsDataOffsetsNotHeaderOrder() throws IOException {
        String h = "{" + entry("second", "F32", "[1]", 4, 8) + "," + entry("empty", "F32", "[0]", 4, 4) + ","
                + entry("first", "F32", "[1]", 0, 4) + "}";
        Path p = file("order.safetensors", h, 8);
        assertEquals(List.of("first", "empty", "second"), List.copyOf(SafeTensors.read(p).tensors().keySet()));
    }

    // ------------------------------------------------------------------ rejections

    @Test
    void rejectsMissingFile() {
        assertThrows(java.nio.file.NoSuchFileException.class, () -> SafeTensors.read(dir.resolve("nope.safetensors")));
    }

    @Test
    void rejectsTooShortFiles() throws IOException {
        Path p = dir.resolve("empty.safetensors");
        Files.write(p, new byte[0]);
        rejected(p, "file is 0 bytes long, too short");
        Files.write(p, new byte[5]);
        rejected(p, "file is 5 bytes long");
    }

    @Test
    void rejectsTruncatedFiles() throws IOException {
        Path good = dir.resolve("good.safetensors");
        SafeTensors.write(good, Map.of("x", new HostTensor(new int[] {4}, new float[] {1, 2, 3, 4})));
        byte[] all = Files.readAllBytes(good);
        Path cut = dir.resolve("cut.safetensors");
        Files.write(cut, java.util.Arrays.copyOf(all, all.length - 3));
        rejected(cut, "end past the data buffer");
        Files.write(cut, java.util.Arrays.copyOf(all, 20));
        rejected(cut, "is larger than the 12 bytes that follow it");
    }

    @Test
    void rejectsForgedHeaderLengthsWithoutAllocating() throws IOException {
        byte[] small = "{}".getBytes(StandardCharsets.US_ASCII);
        rejected(raw("huge1.safetensors", 1L << 62, small, new byte[0]), "exceeds the limit");
        rejected(raw("huge2.safetensors", -1L, small, new byte[0]), "header length 18446744073709551615 exceeds the limit");
        rejected(raw("huge3.safetensors", SafeTensors.MAX_HEADER_BYTES + 1, small, new byte[0]), "exceeds the limit");
        rejected(raw("huge4.safetensors", SafeTensors.MAX_HEADER_BYTES, small, new byte[0]), "is larger than the 2 bytes that follow it");
        rejected(raw("zero.safetensors", 0, new byte[0], new byte[0]), "too small to hold a JSON object");
    }

    @Test
    void rejectsForgedShapesWithoutAllocating() throws IOException {
        rejected(file("bigshape.safetensors", "{" + entry("x", "F32", "[2147483647,2147483647]", 0, 4) + "}", 4),
                "has more than");
        rejected(file("bigshape2.safetensors", "{" + entry("x", "F32", "[100000000]", 0, 4) + "}", 4),
                "span 4 bytes but F32 [100000000] needs 400000000");
        rejected(file("bigdim.safetensors", "{" + entry("x", "F32", "[4294967296]", 0, 4) + "}", 4),
                "dimension larger than");
        rejected(file("bigoffset.safetensors", "{" + entry("x", "F32", "[1]", 9223372036854775803L, 9223372036854775807L) + "}", 4),
                "end past the data buffer");
    }

    @Test
    void rejectsBadJsonAndUtf8() throws IOException {
        rejected(file("json1.safetensors", "{\"x\": {\"dtype\": \"F32\",}}", 0), "header is not valid JSON: unexpected character '}'");
        rejected(file("json2.safetensors", "not json", 0), "header is not valid JSON");
        rejected(file("json3.safetensors", "[1, 2]", 0), "header must be a JSON object, got array");
        rejected(file("json4.safetensors", "{} trailing", 0), "header is not valid JSON");
        rejected(file("dup.safetensors", "{" + entry("x", "F32", "[1]", 0, 4) + "," + entry("x", "F32", "[1]", 4, 8) + "}", 8),
                "duplicate key \"x\"");
        byte[] badUtf8 = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        rejected(raw("utf8.safetensors", badUtf8.length, badUtf8, new byte[0]), "header is not valid UTF-8");
    }

    @Test
    void rejectsBadEntries() throws IOException {
        rejected(file("e1.safetensors", "{\"x\": 3}", 0), "tensor 'x': entry must be an object, got number");
        rejected(file("e2.safetensors", "{\"x\": {\"dtype\":\"F32\",\"shape\":[1]}}", 4), "tensor 'x': missing field \"data_offsets\"");
        rejected(file("e3.safetensors", "{\"x\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4),
                "tensor 'x': unknown field \"extra\"");
        rejected(file("e4.safetensors", "{\"x\": {\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "dtype must be a string");
        rejected(file("e5.safetensors", "{\"x\": {\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4), "shape must be an array");
        rejected(file("e6.safetensors", "{" + entry("x", "F32", "[2.0]", 0, 8) + "}", 8), "has a non-integer dimension");
        rejected(file("e7.safetensors", "{\"x\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
                "data_offsets must be an array of two integers, got [0]");
        rejected(file("e8.safetensors", "{\"x\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4),
                "data_offsets must be an array of two integers");
        rejected(file("meta1.safetensors", "{\"__metadata__\": {\"a\": 1}}", 0), "metadata value \"a\" must be a string, got number");
        rejected(file("meta2.safetensors", "{\"__metadata__\": [\"a\"]}", 0), "\"__metadata__\" must be an object of strings");
    }

    @Test
    void narrowsF64AsTorchFloatDoes() throws IOException {
        // PyTorch wrote F64 values at float32's rounding and range limits and their .float():
        // ties to even, overflow to infinity, underflow to a signed zero, subnormals, NaN.
        SafeTensors.Contents c = SafeTensors.read(Path.of("tests/vectors/statedict/f64_edges.safetensors"));
        assertEquals(List.of(SafeTensors.DType.F64, SafeTensors.DType.F32),
                SafeTensors.readHeader(Path.of("tests/vectors/statedict/f64_edges.safetensors")).tensors().stream()
                        .map(SafeTensors.TensorInfo::dtype).toList());
        float[] got = c.tensor("edges").data(), want = c.tensor("edges_float").data();
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            if (Float.isNaN(want[i])) assertTrue(Float.isNaN(got[i]), "element " + i);
            else assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), "element " + i + ": " + got[i]);
        }
        assertTrue(Float.isInfinite(got[7]) && got[9] == Float.NEGATIVE_INFINITY, "out of range gives infinities");
    }

    @Test
    void rejectsUnknownDtypesByName() throws IOException {
        rejected(file("f8.safetensors", "{" + entry("w", "F8_E4M3", "[1]", 0, 1) + "}", 1),
                "tensor 'w': unsupported dtype 'F8_E4M3' (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
        rejected(file("q4.safetensors", "{" + entry("w", "Q4_K", "[1]", 0, 1) + "}", 1), "unsupported dtype 'Q4_K'");
        rejected(file("lower.safetensors", "{" + entry("w", "f32", "[1]", 0, 4) + "}", 4), "unsupported dtype 'f32'");
    }

    @Test
    void rejectsNegativeDimsAndOffsets() throws IOException {
        rejected(file("negdim.safetensors", "{" + entry("x", "F32", "[2,-1]", 0, 0) + "}", 0),
                "tensor 'x': shape [2,-1] has a negative dimension");
        rejected(file("negoff.safetensors", "{" + entry("x", "F32", "[1]", -4, 0) + "}", 4), "are negative");
        rejected(file("backwards.safetensors", "{" + entry("x", "F32", "[1]", 4, 0) + "}", 4), "begin after they end");
    }

    @Test
    void rejectsWrongByteSizes() throws IOException {
        rejected(file("size1.safetensors", "{" + entry("x", "F32", "[3]", 0, 8) + "}", 8),
                "tensor 'x': data_offsets [0, 8] span 8 bytes but F32 [3] needs 12");
        rejected(file("size2.safetensors", "{" + entry("x", "F16", "[3]", 0, 12) + "}", 12), "span 12 bytes but F16 [3] needs 6");
    }

    @Test
    void rejectsOffsetsPastTheEnd() throws IOException {
        rejected(file("past.safetensors", "{" + entry("x", "F32", "[2]", 4, 12) + "}", 8),
                "tensor 'x': data_offsets [4, 12] end past the data buffer, which holds 8 bytes");
    }

    @Test
    void rejectsOverlapsGapsAndTrailingBytes() throws IOException {
        SafeTensorsFormatException e = rejected(file("overlap.safetensors",
                "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12), "overlap");
        assertTrue(e.getMessage().contains("'a' [0, 8)") && e.getMessage().contains("'b' [4, 12)"), e.getMessage());
        rejected(file("same.safetensors", "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 0, 8) + "}", 8),
                "overlap");
        rejected(file("gap.safetensors", "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}", 12),
                "bytes [4, 8) of the data buffer belong to no tensor");
        rejected(file("lead.safetensors", "{" + entry("a", "F32", "[1]", 4, 8) + "}", 8),
                "bytes [0, 4) of the data buffer belong to no tensor");
        rejected(file("trail.safetensors", "{" + entry("a", "F32", "[1]", 0, 4) + "}", 9),
                "data buffer holds 9 bytes but the tensors cover only 4");
    }

    @Test
    void writeRejectsBadArguments() {
        Path p = dir.resolve("w.safetensors");
        Map<String, HostTensor> nullValue = new LinkedHashMap<>();
        nullValue.put("x", null);
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(p, nullValue, null));
        Map<String, String> nullMeta = new LinkedHashMap<>();
        nullMeta.put("k", null);
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(p, Map.of(), nullMeta));
        assertThrows(NullPointerException.class, () -> SafeTensors.write(p, null, null));
        assertFalse(Files.exists(p));
    }
}
