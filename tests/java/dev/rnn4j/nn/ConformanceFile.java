package dev.rnn4j.nn;

import dev.rnn4j.HostTensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A conformance vector (tests/conformance/*.safetensors) read with a minimal private
 * safetensors reader: 8-byte little-endian header length, JSON header, F32 row-major data.
 * Only what these test files use is supported.
 */
final class ConformanceFile {
    final String name;
    final Map<String, HostTensor> tensors;
    final Map<String, Object> config;

    private ConformanceFile(String name, Map<String, HostTensor> tensors, Map<String, Object> config) {
        this.name = name;
        this.tensors = tensors;
        this.config = config;
    }

    /** The conformance directory: system property rnn4j.conformance.dir (set by the build), else tests/conformance. */
    static Path dir() {
        String p = System.getProperty("rnn4j.conformance.dir");
        return p != null ? Paths.get(p) : Paths.get("tests", "conformance");
    }

    @SuppressWarnings("unchecked")
    static ConformanceFile read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long n = bb.getLong(0);
        if (n < 2 || 8 + n > bytes.length) throw new IOException(file + ": bad header length " + n);
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        Map<String, Object> json = (Map<String, Object>) new Json(header).value();
        int dataStart = 8 + (int) n;
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        Map<String, Object> config = Map.of();
        for (var e : json.entrySet()) {
            if (e.getKey().equals("__metadata__")) {
                String cfg = (String) ((Map<String, Object>) e.getValue()).get("config");
                config = (Map<String, Object>) new Json(cfg).value();
                continue;
            }
            Map<String, Object> info = (Map<String, Object>) e.getValue();
            if (!"F32".equals(info.get("dtype"))) throw new IOException(e.getKey() + ": dtype " + info.get("dtype"));
            List<Object> shapeList = (List<Object>) info.get("shape");
            int[] shape = new int[shapeList.size()];
            for (int i = 0; i < shape.length; i++) shape[i] = ((Number) shapeList.get(i)).intValue();
            List<Object> offs = (List<Object>) info.get("data_offsets");
            int b = ((Number) offs.get(0)).intValue(), end = ((Number) offs.get(1)).intValue();
            float[] data = new float[(end - b) / 4];
            for (int i = 0; i < data.length; i++) data[i] = bb.getFloat(dataStart + b + 4 * i);
            tensors.put(e.getKey(), new HostTensor(shape, data));
        }
        String name = file.getFileName().toString().replace(".safetensors", "");
        return new ConformanceFile(name, tensors, config);
    }

    HostTensor get(String key) {
        HostTensor t = tensors.get(key);
        if (t == null) throw new AssertionError(name + ": no tensor " + key);
        return t;
    }

    boolean has(String key) { return tensors.containsKey(key); }

    int intConfig(String key) { return ((Number) config.get(key)).intValue(); }

    boolean boolConfig(String key) { return (Boolean) config.get(key); }

    String stringConfig(String key) { return (String) config.get(key); }

    @SuppressWarnings("unchecked")
    double tolerance(String kind, String which) {
        Map<String, Object> tol = (Map<String, Object>) config.get("tolerances");
        return ((Number) ((Map<String, Object>) tol.get(kind)).get(which)).doubleValue();
    }

    /** Names of the parameter tensors: everything that is neither data, a result nor a gradient. */
    Map<String, HostTensor> parameters() {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        List<String> data = List.of("input", "h0", "c0", "output", "h_n", "c_n");
        for (var e : tensors.entrySet())
            if (!data.contains(e.getKey()) && !e.getKey().startsWith("grad")) out.put(e.getKey(), e.getValue());
        return out;
    }

    @Override
    public String toString() { return name; }

    /** Just enough JSON: objects, arrays, strings (with escapes), numbers, true/false/null. */
    private static final class Json {
        private final String s;
        private int i;

        Json(String s) { this.s = s; }

        Object value() {
            skip();
            char c = s.charAt(i);
            switch (c) {
                case '{': {
                    i++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    skip();
                    if (s.charAt(i) == '}') { i++; return m; }
                    while (true) {
                        skip();
                        String k = string();
                        skip();
                        expect(':');
                        m.put(k, value());
                        skip();
                        if (s.charAt(i) == ',') { i++; continue; }
                        expect('}');
                        return m;
                    }
                }
                case '[': {
                    i++;
                    List<Object> l = new ArrayList<>();
                    skip();
                    if (s.charAt(i) == ']') { i++; return l; }
                    while (true) {
                        l.add(value());
                        skip();
                        if (s.charAt(i) == ',') { i++; continue; }
                        expect(']');
                        return l;
                    }
                }
                case '"':
                    return string();
                default:
                    if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
                    if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
                    if (s.startsWith("null", i)) { i += 4; return null; }
                    int st = i;
                    while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
                    return Double.parseDouble(s.substring(st, i));
            }
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c != '\\') { b.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> { b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; }
                    default -> b.append(e);
                }
            }
        }

        private void expect(char c) {
            if (s.charAt(i) != c) throw new IllegalArgumentException("JSON: expected '" + c + "' at " + i);
            i++;
        }

        private void skip() { while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++; }
    }
}
