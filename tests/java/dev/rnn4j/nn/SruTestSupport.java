package dev.rnn4j.nn;

import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;

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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Helpers for the SRU tests: a minimal safetensors reader (until dev.rnn4j.io lands), a plain
 * double-precision SRU written straight from the conformance README's equations, and small
 * array utilities.
 */
final class SruTestSupport {
    private SruTestSupport() {}

    // ---------------------------------------------------------------- conformance files

    static Path conformanceDir() {
        String dir = System.getProperty("rnn4j.conformance.dir", "tests/conformance");
        return Path.of(dir);
    }

    /** A conformance file: its tensors (F32 only) and its parsed config. */
    record Vectors(Map<String, HostTensor> tensors, Map<String, Object> config) {
        HostTensor get(String name) {
            HostTensor t = tensors.get(name);
            if (t == null) fail("conformance file has no tensor " + name);
            return t;
        }

        int i(String key) { return ((Number) config.get(key)).intValue(); }

        boolean flag(String key) {
            Object v = config.get(key);
            return v instanceof Boolean b ? b : ((Number) v).intValue() != 0;
        }

        @SuppressWarnings("unchecked")
        double tol(String group, String which) {
            Map<String, Object> t = (Map<String, Object>) config.get("tolerances");
            return ((Number) ((Map<String, Object>) t.get(group)).get(which)).doubleValue();
        }
    }

    /** Reads a safetensors file: 8-byte LE header length, JSON header, little-endian F32 data. */
    @SuppressWarnings("unchecked")
    static Vectors readSafetensors(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        long n = bb.getLong(0);
        String header = new String(all, 8, Math.toIntExact(n), StandardCharsets.UTF_8);
        Map<String, Object> h = (Map<String, Object>) new Json(header).value();
        int base = 8 + (int) n;
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        Map<String, Object> config = Map.of();
        for (var e : h.entrySet()) {
            Map<String, Object> info = (Map<String, Object>) e.getValue();
            if (e.getKey().equals("__metadata__")) {
                config = (Map<String, Object>) new Json((String) info.get("config")).value();
                continue;
            }
            assertEquals("F32", info.get("dtype"), e.getKey());
            List<Object> shapeList = (List<Object>) info.get("shape");
            int[] shape = shapeList.stream().mapToInt(o -> ((Number) o).intValue()).toArray();
            List<Object> off = (List<Object>) info.get("data_offsets");
            int b = ((Number) off.get(0)).intValue(), end = ((Number) off.get(1)).intValue();
            float[] data = new float[(end - b) / 4];
            for (int i = 0; i < data.length; i++) data[i] = bb.getFloat(base + b + 4 * i);
            tensors.put(e.getKey(), new HostTensor(shape, data));
        }
        return new Vectors(tensors, config);
    }

    /** Just enough JSON for safetensors headers: objects, arrays, strings, numbers, literals. */
    private static final class Json {
        private final String s;
        private int p;

        Json(String s) { this.s = s; }

        Object value() {
            ws();
            char c = s.charAt(p);
            switch (c) {
                case '{': {
                    p++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    ws();
                    if (s.charAt(p) == '}') { p++; return m; }
                    while (true) {
                        ws();
                        String k = string();
                        ws();
                        expect(':');
                        m.put(k, value());
                        ws();
                        if (s.charAt(p) == ',') { p++; continue; }
                        expect('}');
                        return m;
                    }
                }
                case '[': {
                    p++;
                    List<Object> l = new ArrayList<>();
                    ws();
                    if (s.charAt(p) == ']') { p++; return l; }
                    while (true) {
                        l.add(value());
                        ws();
                        if (s.charAt(p) == ',') { p++; continue; }
                        expect(']');
                        return l;
                    }
                }
                case '"': return string();
                default:
                    if (s.startsWith("true", p)) { p += 4; return Boolean.TRUE; }
                    if (s.startsWith("false", p)) { p += 5; return Boolean.FALSE; }
                    if (s.startsWith("null", p)) { p += 4; return null; }
                    int start = p;
                    while (p < s.length() && "+-0123456789.eE".indexOf(s.charAt(p)) >= 0) p++;
                    return Double.parseDouble(s.substring(start, p));
            }
        }

        private String string() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                char c = s.charAt(p++);
                if (c == '"') return sb.toString();
                if (c != '\\') { sb.append(c); continue; }
                char e = s.charAt(p++);
                switch (e) {
                    case 'n' -> sb.append('\n');
                    case 't' -> sb.append('\t');
                    case 'r' -> sb.append('\r');
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'u' -> { sb.append((char) Integer.parseInt(s.substring(p, p + 4), 16)); p += 4; }
                    default -> sb.append(e);
                }
            }
        }

        private void ws() { while (p < s.length() && Character.isWhitespace(s.charAt(p))) p++; }

        private void expect(char c) {
            if (s.charAt(p) != c) throw new IllegalStateException("JSON: expected '" + c + "' at " + p);
            p++;
        }
    }

    /** numpy allclose, with a message naming the first offending element. */
    static void assertAllClose(String what, float[] expected, float[] actual, double rtol, double atol) {
        assertEquals(expected.length, actual.length, what + ": length");
        double worst = 0;
        int bad = -1;
        for (int i = 0; i < expected.length; i++) {
            double excess = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
            if (!(excess <= 0) && (bad < 0 || excess > worst || Double.isNaN(excess))) { bad = i; worst = excess; }
        }
        if (bad >= 0)
            fail(what + ": element " + bad + " expected " + expected[bad] + " got " + actual[bad]
                    + " (rtol " + rtol + ", atol " + atol + ")");
    }

    // ---------------------------------------------------------------- random data

    static float[] uniform(SplittableRandom r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((2 * r.nextDouble() - 1) * scale);
        return a;
    }

    static float[] normal(SplittableRandom r, int n, double std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller: enough for test data.
            double u1 = 1 - r.nextDouble(), u2 = r.nextDouble();
            a[i] = (float) (std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
        return a;
    }

    /** Fills every parameter of m with U(-scale, scale) values (biases too, so they matter in tests). */
    static void randomize(Module m, long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        for (Parameter p : m.namedParameters().values()) p.set(uniform(r, (int) p.numel(), scale));
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    // ---------------------------------------------------------------- a plain SRU in double

    /**
     * One SRU v1 layer in double, straight from the README's equations. maskX (B, nIn) is applied
     * to the input of the projection, and also to the highway input when {@code highwayDropped}
     * (the wrong behaviour, to show the test can tell); maskH (B, D*d) scales g(c). Null masks
     * mean none. Returns {h (T*B*D*d), cLast (B*D*d)}.
     */
    static double[][] naiveLayer(float[] x, int seqLen, int batch, int nIn, float[] w, float[] bias, float[] c0,
                                 int d, int dirs, int act, float[] maskX, float[] maskH, boolean highwayDropped) {
        int out = dirs * d, k = nIn != out ? 4 : 3, cols = out * k;
        double[] xd = new double[x.length];
        for (int i = 0; i < x.length; i++) xd[i] = maskX == null ? x[i] : (double) x[i] * maskX[i % (batch * nIn)];
        double[] u = new double[seqLen * batch * cols];
        for (int r = 0; r < seqLen * batch; r++)
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int i = 0; i < nIn; i++) s += xd[r * nIn + i] * w[i * cols + j];
                u[r * cols + j] = s;
            }
        double[] h = new double[seqLen * batch * out], cLast = new double[batch * out];
        for (int b = 0; b < batch; b++)
            for (int dir = 0; dir < dirs; dir++)
                for (int j = 0; j < d; j++) {
                    int col = dir * d + j;
                    double c = c0 == null ? 0 : c0[b * out + col];
                    double m = maskH == null ? 1 : maskH[b * out + col];
                    for (int s = 0; s < seqLen; s++) {
                        int t = dir == 0 ? s : seqLen - 1 - s;
                        int ub = ((t * batch + b) * out + col) * k;
                        double f = sig(u[ub + 1] + bias[col]);
                        double rr = sig(u[ub + 2] + bias[out + col]);
                        c = f * c + (1 - f) * u[ub];
                        double g = act == 0 ? c : act == 1 ? Math.tanh(c) : Math.max(c, 0);
                        double xp;
                        if (k == 4) xp = u[ub + 3];
                        else {
                            int xi = (t * batch + b) * nIn + col;
                            xp = highwayDropped ? xd[xi] : x[xi];
                        }
                        h[(t * batch + b) * out + col] = rr * g * m + (1 - rr) * xp;
                    }
                    cLast[b * out + col] = c;
                }
        return new double[][] {h, cLast};
    }

    static double sig(double v) { return 1 / (1 + Math.exp(-v)); }

    static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }

    static float[] values(Tensor t) { return t.toArray(); }
}
