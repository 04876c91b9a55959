package dev.rnn4j.io;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.Parameter;
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

/** Saving and strictly loading module parameters through safetensors files. */
class StateDictsTest {
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
}
