package dev.rnn4j.io;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.Linear;
import dev.rnn4j.nn.LoadResult;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.Parameter;
import dev.rnn4j.nn.SRU;
import dev.rnn4j.nn.StateDictException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Saving and loading module parameters through safetensors files: strict, under a prefix and
 * non-strict, against state dicts PyTorch wrote (tests/vectors/statedict/generate.py).
 */
class StateDictsTest {
    static final Path VECTORS = Path.of("tests/vectors/statedict");

    @TempDir
    Path dir;

    private final Device device = Device.reference();

    @AfterEach
    void close() { device.close(); }

    /** A test-only module: two parameters of its own and a child with one, named like PyTorch would. */
    static final class Tiny extends Module {
        final Parameter weight, bias;
        final Child child;

        Tiny(Device device) {
            super(device);
            weight = registerParameter("weight", 2, 3);
            bias = registerParameter("bias", 3);
            child = registerModule("child", new Child(device));
        }

        @Override
        public String toString() { return "Tiny()"; }
    }

    static final class Child extends Module {
        final Parameter w;

        Child(Device device) {
            super(device);
            w = registerParameter("w", 4);
        }

        @Override
        public String toString() { return "Child()"; }
    }

    private static HostTensor seq(float start, int... shape) {
        HostTensor t = HostTensor.zeros(shape);
        for (int i = 0; i < t.data().length; i++) t.data()[i] = start + i;
        return t;
    }

    @Test
    void saveThenLoadRestoresEveryParameter() throws IOException {
        Path p = dir.resolve("tiny.safetensors");
        try (Tiny a = new Tiny(device); Tiny b = new Tiny(device)) {
            a.weight.set(seq(1, 2, 3));
            a.bias.set(seq(-5, 3));
            a.child.w.set(seq(100, 4));
            StateDicts.save(a, p, Map.of("note", "saved by test"));
            Map<String, String> meta = StateDicts.load(b, p);
            assertEquals(Map.of("note", "saved by test"), meta);
            assertEquals(a.stateDict(), b.stateDict());
            assertEquals(List.of("weight", "bias", "child.w"), List.copyOf(SafeTensors.read(p).tensors().keySet()));
        }
    }

    @Test
    void loadWidensHalfPrecisionFiles() throws IOException {
        // The same parameters stored as F16 (weight) and BF16 (bias, child.w) load as float32.
        String header = "{\"weight\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
                + "\"bias\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[12,18]},"
                + "\"child.w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[18,34]}}";
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(8 + header.length() + 34).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bb.putLong(header.length()).put(header.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        for (int h : new int[] {0x3C00, 0x4000, 0x4200, 0xBC00, 0x0001, 0x7BFF}) bb.putShort((short) h);
        for (int h : new int[] {0x3F80, 0xC040, 0x0000}) bb.putShort((short) h);
        for (float f : new float[] {1, 2, 3, 4}) bb.putFloat(f);
        Path p = dir.resolve("half.safetensors");
        Files.write(p, bb.array());
        try (Tiny m = new Tiny(device)) {
            StateDicts.load(m, p);
            assertArrayEquals(new float[] {1, 2, 3, -1, 0x1p-24f, 65504}, m.weight.value().toArray());
            assertArrayEquals(new float[] {1, -3, 0}, m.bias.value().toArray());
        }
    }

    @Test
    void strictLoadReportsEveryProblemAtOnceAndChangesNothing() throws IOException {
        Map<String, HostTensor> sd = new LinkedHashMap<>();
        sd.put("weight", seq(1, 3, 2));          // wrong shape
        sd.put("child.w", seq(7, 4));            // fine
        sd.put("extra", seq(0, 1));              // unexpected
        sd.put("child.bias", seq(0, 4));         // unexpected
        // "bias" is missing
        Path p = dir.resolve("bad.safetensors");
        SafeTensors.write(p, sd, null);
        try (Tiny m = new Tiny(device)) {
            Map<String, HostTensor> before = m.stateDict();
            StateDictException e = assertThrows(StateDictException.class, () -> StateDicts.load(m, p));
            assertEquals(List.of("bias"), e.missing());
            assertEquals(List.of("extra", "child.bias"), e.unexpected());
            assertEquals(1, e.mismatched().size());
            assertTrue(e.mismatched().get(0).startsWith("weight: expected [2, 3], got [3, 2]"), e.mismatched().get(0));
            String msg = e.getMessage();
            assertTrue(msg.contains("Tiny()") && msg.contains(p.toString()), "names module and file: " + msg);
            assertTrue(msg.contains("missing keys: bias"), msg);
            assertTrue(msg.contains("unexpected keys: extra, child.bias"), msg);
            assertTrue(msg.contains("shape mismatches: weight"), msg);
            assertEquals(before, m.stateDict(), "a failed load changes nothing");
        }
    }

    @Test
    void loadRejectsCorruptFilesWithTheFileName() throws IOException {
        Path p = dir.resolve("corrupt.safetensors");
        Files.write(p, new byte[] {1, 2, 3});
        try (Tiny m = new Tiny(device)) {
            SafeTensorsFormatException e = assertThrows(SafeTensorsFormatException.class, () -> StateDicts.load(m, p));
            assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        }
    }

    // ------------------------------------------------------------------ PyTorch files: F64, prefixes, non-strict

    /** The tensors of a vector file under {@code prefix}, with the prefix removed. */
    private static Map<String, HostTensor> vectors(String file, String prefix) throws IOException {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (var e : SafeTensors.read(VECTORS.resolve(file)).tensors().entrySet())
            if (e.getKey().startsWith(prefix)) out.put(e.getKey().substring(prefix.length()), e.getValue());
        return out;
    }

    private static void assertState(Map<String, HostTensor> want, Map<String, HostTensor> got) {
        assertEquals(List.copyOf(want.keySet()), List.copyOf(got.keySet()));
        for (var e : want.entrySet()) {
            assertArrayEquals(e.getValue().shape(), got.get(e.getKey()).shape(), e.getKey());
            assertArrayEquals(e.getValue().data(), got.get(e.getKey()).data(), e.getKey());
        }
    }

    @Test
    void loadsAModelDoubleSaveAsTorchsFloatValues() throws IOException {
        // nn.LSTM(3, 4).double() saved as F64: each value narrows to what torch's .float() gives.
        try (LSTM m = LSTM.builder(3, 4).seed(1).build(device)) {
            StateDicts.load(m, VECTORS.resolve("lstm_f64.safetensors"));
            assertState(vectors("lstm_f64_float.safetensors", ""), m.stateDict());
        }
    }

    @Test
    void loadsOneSubmoduleOfANestedStateDictUnderItsPrefix() throws IOException {
        Path p = VECTORS.resolve("seq2seq.safetensors");
        try (LSTM enc = LSTM.builder(3, 4).seed(1).build(device);
             LSTM dec = LSTM.builder(4, 2).seed(2).build(device);
             Linear head = new Linear(device, 2, 5, true, 3)) {
            assertTrue(StateDicts.load(enc, p, "encoder.").containsKey("torch"), "returns the file's metadata");
            StateDicts.load(dec, p, "decoder.");
            StateDicts.load(head, p, "head.");
            assertState(vectors("seq2seq.safetensors", "encoder."), enc.stateDict());
            assertState(vectors("seq2seq.safetensors", "decoder."), dec.stateDict());
            assertState(vectors("seq2seq.safetensors", "head."), head.stateDict());
        }
    }

    @Test
    void strictLoadOfAPrefixedFileSaysWhichPrefixFits() throws IOException {
        Path p = VECTORS.resolve("seq2seq.safetensors");
        try (LSTM enc = LSTM.builder(3, 4).seed(1).build(device); LSTM dec = LSTM.builder(4, 2).seed(2).build(device)) {
            Map<String, HostTensor> before = enc.stateDict();
            StateDictException e = assertThrows(StateDictException.class, () -> StateDicts.load(enc, p));
            assertEquals(List.of("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), e.missing());
            assertEquals(10, e.unexpected().size());
            // decoder.* has the same names but other shapes: only encoder. fits
            assertEquals("the file's keys look prefixed with 'encoder.': use StateDicts.load(module, file, \"encoder.\")", e.hint());
            assertTrue(e.getMessage().endsWith(e.hint()), e.getMessage());
            assertEquals(before, enc.stateDict(), "a failed load changes nothing");

            e = assertThrows(StateDictException.class, () -> StateDicts.load(dec, p));
            assertEquals("the file's keys look prefixed with 'decoder.': use StateDicts.load(module, file, \"decoder.\")", e.hint());

            // a prefix that matches nothing says so, and which one would
            e = assertThrows(StateDictException.class, () -> StateDicts.load(enc, p, "enc."));
            assertEquals(List.of("enc.weight_ih_l0", "enc.weight_hh_l0", "enc.bias_ih_l0", "enc.bias_hh_l0"), e.missing());
            assertEquals(List.of(), e.unexpected());
            assertEquals("no key of the file starts with 'enc.'; the file's keys look prefixed with 'encoder.': "
                    + "use StateDicts.load(module, file, \"encoder.\")", e.hint());
        }
    }

    @Test
    void strictPrefixedLoadNamesProblemsByTheFilesNames() throws IOException {
        // The encoder's keys under decoder.: the same names, other shapes; no prefix hint then.
        try (LSTM enc = LSTM.builder(3, 4).seed(1).build(device)) {
            StateDictException e = assertThrows(StateDictException.class,
                    () -> StateDicts.load(enc, VECTORS.resolve("seq2seq.safetensors"), "decoder."));
            assertEquals(List.of(), e.missing());
            assertEquals(List.of(), e.unexpected());
            assertEquals(List.of("decoder.weight_ih_l0: expected [16, 3], got [8, 4]", "decoder.weight_hh_l0: expected [16, 4], got [8, 2]",
                    "decoder.bias_ih_l0: expected [16], got [8]", "decoder.bias_hh_l0: expected [16], got [8]"), e.mismatched());
            assertNull(e.hint());
        }
    }

    @Test
    void severalFittingPrefixesAreAllNamed() throws IOException {
        Map<String, HostTensor> sd = new LinkedHashMap<>();
        for (String p : new String[] {"a.", "b."}) {
            sd.put(p + "weight", seq(1, 2, 3));
            sd.put(p + "bias", seq(2, 3));
            sd.put(p + "child.w", seq(3, 4));
        }
        Path p = dir.resolve("two.safetensors");
        SafeTensors.write(p, sd, null);
        try (Tiny m = new Tiny(device)) {
            StateDictException e = assertThrows(StateDictException.class, () -> StateDicts.load(m, p));
            assertEquals("the file holds the module's keys under each of the prefixes 'a.', 'b.': "
                    + "use StateDicts.load(module, file, prefix) with the one wanted", e.hint());
            StateDicts.load(m, p, "b.");
            assertEquals(seq(1, 2, 3), m.weight.value().toHost());
        }
    }

    @Test
    void nonStrictLoadReturnsWhatPyTorchReportsAndLoadsTheRest() throws IOException {
        // nonstrict.safetensors lacks bias_hh_l0 and has proj.weight; its metadata holds what
        // torch's load_state_dict(strict=False) returned for it.
        Path p = VECTORS.resolve("nonstrict.safetensors");
        Map<String, String> meta = SafeTensors.readHeader(p).metadata();
        try (LSTM m = LSTM.builder(3, 4).seed(1).build(device)) {
            HostTensor keptBias = m.stateDict().get("bias_hh_l0");
            LoadResult r = StateDicts.loadNonStrict(m, p);
            assertEquals(jsonList(meta.get("missing_keys")), r.missing());
            assertEquals(jsonList(meta.get("unexpected_keys")), r.unexpected());
            assertEquals(List.of("bias_hh_l0"), r.missing());
            assertEquals(List.of("proj.weight"), r.unexpected());
            assertFalse(r.complete());
            Map<String, HostTensor> file = vectors("nonstrict.safetensors", "");
            Map<String, HostTensor> now = m.stateDict();
            for (String k : List.of("weight_ih_l0", "weight_hh_l0", "bias_ih_l0")) assertEquals(file.get(k), now.get(k), k);
            assertEquals(keptBias, now.get("bias_hh_l0"), "a missing key keeps its value");
        }
    }

    private static List<String> jsonList(String json) {
        List<String> out = new java.util.ArrayList<>();
        for (Object o : (List<?>) Json.parse(json)) out.add((String) o);
        return out;
    }

    @Test
    void nonStrictLoadUnderAPrefixReportsTheFilesNames() throws IOException {
        Map<String, HostTensor> sd = new LinkedHashMap<>();
        sd.put("m.weight", seq(1, 2, 3));
        sd.put("m.child.w", seq(10, 4));
        sd.put("m.extra", seq(0, 1));
        sd.put("other.x", seq(0, 1));       // outside the prefix: ignored, not reported
        Path p = dir.resolve("partial.safetensors");
        SafeTensors.write(p, sd, null);
        try (Tiny m = new Tiny(device)) {
            m.bias.set(seq(-1, 3));
            LoadResult r = StateDicts.loadNonStrict(m, p, "m.");
            assertEquals(new LoadResult(List.of("m.bias"), List.of("m.extra")), r);
            assertEquals(seq(1, 2, 3), m.weight.value().toHost());
            assertEquals(seq(10, 4), m.child.w.value().toHost());
            assertEquals(seq(-1, 3), m.bias.value().toHost());
            assertTrue(StateDicts.loadNonStrict(m, VECTORS.resolve("seq2seq.safetensors"), "nothing.").unexpected().isEmpty());
        }
        try (LSTM enc = LSTM.builder(3, 4).seed(1).build(device)) {
            assertTrue(StateDicts.loadNonStrict(enc, VECTORS.resolve("seq2seq.safetensors"), "encoder.").complete());
            assertState(vectors("seq2seq.safetensors", "encoder."), enc.stateDict());
        }
    }

    @Test
    void nonStrictLoadStillRejectsShapeMismatchesAndChangesNothing() throws IOException {
        Map<String, HostTensor> sd = new LinkedHashMap<>();
        sd.put("m.weight", seq(1, 3, 2));   // wrong shape
        sd.put("m.bias", seq(5, 3));        // fine, but not loaded either
        Path p = dir.resolve("mis.safetensors");
        SafeTensors.write(p, sd, null);
        try (Tiny m = new Tiny(device)) {
            Map<String, HostTensor> before = m.stateDict();
            StateDictException e = assertThrows(StateDictException.class, () -> StateDicts.loadNonStrict(m, p, "m."));
            assertEquals(List.of("m.weight: expected [2, 3], got [3, 2]"), e.mismatched());
            assertEquals(List.of(), e.missing());
            assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
            assertEquals(before, m.stateDict());
        }
    }

    @Test
    void loadKeepsTheModulesOwnHint() throws IOException {
        // An sru 2.x file into a v1 SRU: the SRU's hint (build with v1(false)) survives the file wrapping.
        Path p = dir.resolve("sru2.safetensors");
        try (SRU two = SRU.builder(4, 3).v1(false).build(device); SRU one = SRU.builder(4, 3).v1(true).build(device)) {
            StateDicts.save(two, p);
            StateDictException e = assertThrows(StateDictException.class, () -> StateDicts.load(one, p));
            assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
            assertTrue(e.getMessage().contains("build the SRU with v1(false)"), e.getMessage());
        }
    }

    /** A test-only module whose weight is registered under a second name, as weight tying does. */
    static final class TiedPair extends Module {
        final Parameter weight;

        TiedPair(Device device) {
            super(device);
            weight = registerParameter("embed", 2, 2);
            registerTied("decode", weight);
        }

        @Override
        public String toString() { return "TiedPair()"; }
    }

    @Test
    void nonStrictLoadOfOneNameOfATiedParameterLoadsItAndReportsTheOther() throws IOException {
        Path p = dir.resolve("tied.safetensors");
        SafeTensors.write(p, Map.of("decode", seq(4, 2, 2)), null);
        try (TiedPair m = new TiedPair(device)) {
            assertEquals(new LoadResult(List.of("embed"), List.of()), StateDicts.loadNonStrict(m, p));
            assertEquals(seq(4, 2, 2), m.weight.value().toHost());
            assertEquals(List.of("embed"), assertThrows(StateDictException.class, () -> StateDicts.load(m, p)).missing());
        }
    }
}
