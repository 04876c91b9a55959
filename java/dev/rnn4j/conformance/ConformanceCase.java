package dev.rnn4j.conformance;

import dev.rnn4j.HostTensor;
import dev.rnn4j.io.Json;
import dev.rnn4j.io.SafeTensors;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One conformance case: a safetensors file (see {@code tests/conformance/README.md}) holding
 * inputs, parameters, expected results and gradients, plus a JSON config in
 * {@code __metadata__.config} that says which layer to build and with which tolerances.
 *
 * <p>{@link #load(Path)} validates the file and the config (every key the runner needs, with
 * the right type and a consistent value) and throws an {@link IOException} naming the file and
 * the problem otherwise. It does not check which tensors are present: the runner does, and
 * reports missing or unknown tensors as a failed case.
 */
public final class ConformanceCase {

    /** The layer kinds a case may exercise (the config key {@code mode}). */
    public enum Mode {
        RNN_TANH, RNN_RELU, LSTM, GRU, SRU, RNNCell_TANH, RNNCell_RELU, LSTMCell, GRUCell,
        /** The sru package 2.x SRU ({@code v1=False}). */
        SRU2;

        /** SRU v1 or 2.x. */
        public boolean isSru() { return this == SRU || this == SRU2; }

        public boolean isCell() {
            return this == RNNCell_TANH || this == RNNCell_RELU || this == LSTMCell || this == GRUCell;
        }

        /** Whether the layer has a cell state c (LSTM, LSTMCell, SRU). */
        public boolean hasC() { return this == LSTM || this == LSTMCell || isSru(); }

        /** Whether the layer has a hidden state h as input/result (all but SRU). */
        public boolean hasH() { return !isSru(); }
    }

    /** numpy {@code allclose} tolerance: |actual - expected| &lt;= atol + rtol * |expected|. */
    public record Tolerance(double rtol, double atol) {
        /** The largest error allowed at an element whose expected value is {@code expected}. */
        public double bound(double expected) { return atol + rtol * Math.abs(expected); }

        @Override
        public String toString() { return "rtol=" + rtol + ", atol=" + atol; }
    }

    private final Path file;
    private final String name;
    private final Mode mode;
    private final Map<String, Object> config;
    private final Map<String, HostTensor> tensors;
    private final int inputSize, hiddenSize, numLayers, projSize, seqLen, batch;
    private final boolean bias, batchFirst, bidirectional, hasH0, useTanh, useRelu;
    private final List<Integer> k;
    private final Tolerance forward, grad;
    /** SRU / SRU2 only. */
    private final int[] sruLengths;
    private final int projectionSize;
    private final boolean layerNorm, normalizeAfter, hasSkipTerm, rescale;
    private final double highwayBias;

    private ConformanceCase(Path file, Map<String, Object> config, Map<String, HostTensor> tensors) throws ConformanceFormatException {
        this.file = file;
        this.config = config;
        this.tensors = Collections.unmodifiableMap(tensors);
        Cfg c = new Cfg(file, config);

        String modeName = c.string("mode");
        Mode m = null;
        for (Mode x : Mode.values()) if (x.name().equals(modeName)) m = x;
        if (m == null) throw c.bad("unknown mode \"" + modeName + "\" (known: " + List.of(Mode.values()) + ")");
        this.mode = m;
        String fileStem = file.getFileName().toString().replaceFirst("\\.safetensors$", "");
        this.name = config.containsKey("name") ? c.string("name") : fileStem;

        this.inputSize = c.positiveInt("input_size");
        this.hiddenSize = c.positiveInt("hidden_size");
        this.numLayers = c.positiveInt("num_layers");
        this.seqLen = c.positiveInt("seq_len");
        this.batch = c.positiveInt("batch");
        this.projSize = config.containsKey("proj_size") ? c.nonNegativeInt("proj_size") : 0;
        this.bias = c.bool("bias");
        this.batchFirst = c.bool("batch_first");
        this.bidirectional = c.bool("bidirectional");
        this.hasH0 = c.bool("has_h0");

        if (projSize > 0 && mode != Mode.LSTM) throw c.bad("proj_size " + projSize + " is only valid for LSTM, not " + mode);
        if (projSize >= hiddenSize && projSize > 0)
            throw c.bad("proj_size " + projSize + " must be smaller than hidden_size " + hiddenSize);
        if (mode.isCell() && (numLayers != 1 || bidirectional || batchFirst))
            throw c.bad(mode + " needs num_layers 1, bidirectional false and batch_first false");

        if (mode.isSru()) {
            this.useTanh = c.flag("use_tanh");
            this.useRelu = mode == Mode.SRU && c.flag("use_relu");
            if (!bias) throw c.bad("SRU always has a bias; bias must be true");
            if (batchFirst) throw c.bad("SRU takes (T, B, I) input; batch_first must be false");
            List<Integer> ks = new ArrayList<>();
            Object kv = config.get("k");
            if (!(kv instanceof List<?> kl)) throw c.bad("SRU config needs \"k\", a list of integers, got " + Json.typeName(kv));
            for (Object o : kl) {
                if (!(o instanceof Long l) || (l != 3 && l != 4)) throw c.bad("\"k\" must hold only 3 or 4, got " + Json.write(kl));
                ks.add((int) (long) l);
            }
            if (ks.size() != numLayers) throw c.bad("\"k\" has " + ks.size() + " entries but num_layers is " + numLayers);
            this.k = List.copyOf(ks);
            if (config.containsKey("activation_type")) {
                long at = c.integer("activation_type");
                long derived = useRelu ? 2 : (useTanh ? 1 : 0);
                if (at != derived)
                    throw c.bad("activation_type " + at + " does not match use_tanh=" + useTanh + ", use_relu=" + useRelu);
            }
            if (mode == Mode.SRU2) {
                if (config.containsKey("v1") && c.bool("v1")) throw c.bad("mode SRU2 needs v1 false");
                this.projectionSize = c.nonNegativeInt("projection_size");
                this.layerNorm = c.bool("layer_norm");
                this.normalizeAfter = c.bool("normalize_after");
                this.hasSkipTerm = c.bool("has_skip_term");
                this.rescale = c.bool("rescale");
                Object hb = c.get("highway_bias");
                if (!(hb instanceof Number n) || !Double.isFinite(n.doubleValue()))
                    throw c.bad("\"highway_bias\" must be a finite number, got " + Json.write(hb));
                this.highwayBias = n.doubleValue();
            } else {
                this.projectionSize = 0;
                this.layerNorm = this.normalizeAfter = this.rescale = false;
                this.hasSkipTerm = true;
                this.highwayBias = 0;
            }
            // Variable lengths (sru's mask_pad): the config repeats the lengths tensor as a list.
            if (config.containsKey("lengths")) {
                Object lv = config.get("lengths");
                if (!(lv instanceof List<?> ll) || ll.size() != batch)
                    throw c.bad("\"lengths\" must be a list of " + batch + " integers, got " + Json.write(lv));
                int[] len = new int[batch];
                for (int i = 0; i < batch; i++) {
                    if (!(ll.get(i) instanceof Long l) || l < 1 || l > seqLen)
                        throw c.bad("\"lengths\" must hold integers in 1.." + seqLen + ", got " + Json.write(lv));
                    len[i] = (int) (long) l;
                }
                this.sruLengths = len;
            } else {
                this.sruLengths = null;
            }
        } else {
            this.useTanh = false;
            this.useRelu = false;
            this.k = List.of();
            this.sruLengths = null;
            this.projectionSize = 0;
            this.layerNorm = this.normalizeAfter = this.rescale = false;
            this.hasSkipTerm = true;
            this.highwayBias = 0;
        }

        Object tol = config.get("tolerances");
        if (!(tol instanceof Map<?, ?> tm)) throw c.bad("\"tolerances\" must be an object, got " + Json.typeName(tol));
        this.forward = tolerance(c, tm, "forward");
        this.grad = tolerance(c, tm, "grad");
    }

    private static Tolerance tolerance(Cfg c, Map<?, ?> tm, String kind) throws ConformanceFormatException {
        Object v = tm.get(kind);
        if (!(v instanceof Map<?, ?> m)) throw c.bad("tolerances." + kind + " must be an object, got " + Json.typeName(v));
        double[] rt = new double[2];
        String[] keys = {"rtol", "atol"};
        for (int i = 0; i < 2; i++) {
            Object x = m.get(keys[i]);
            if (!(x instanceof Number n)) throw c.bad("tolerances." + kind + "." + keys[i] + " must be a number, got " + Json.typeName(x));
            double d = n.doubleValue();
            if (!(d >= 0) || Double.isInfinite(d)) throw c.bad("tolerances." + kind + "." + keys[i] + " must be finite and >= 0, got " + d);
            rt[i] = d;
        }
        return new Tolerance(rt[0], rt[1]);
    }

    /**
     * Reads and validates one conformance file.
     *
     * @throws IOException a {@link dev.rnn4j.io.SafeTensorsFormatException} if the file is not valid
     *     safetensors, a {@link ConformanceFormatException} if its config is missing or wrong, or the
     *     I/O error that prevented reading it
     */
    public static ConformanceCase load(Path file) throws IOException {
        SafeTensors.Contents contents = SafeTensors.read(file);
        String text = contents.metadataValue("config").orElseThrow(() ->
                new ConformanceFormatException(file, "no \"config\" in __metadata__ (not a conformance case?)"));
        Map<String, Object> config;
        try {
            config = Json.parseObject(text);
        } catch (Json.JsonException e) {
            throw new ConformanceFormatException(file, "__metadata__.config is not a JSON object: " + e.getMessage(), e);
        }
        return new ConformanceCase(file, config, contents.tensors());
    }

    public Path file() { return file; }

    /** The case name: config {@code name}, else the file name without {@code .safetensors}. */
    public String name() { return name; }

    public Mode mode() { return mode; }

    /** The whole parsed config (unmodifiable), including keys the runner does not use. */
    public Map<String, Object> config() { return config; }

    /** Every tensor of the file, in file order (unmodifiable). */
    public Map<String, HostTensor> tensors() { return tensors; }

    /** The tensor called {@code name}, or null. */
    public HostTensor tensor(String name) { return tensors.get(name); }

    public int inputSize() { return inputSize; }
    public int hiddenSize() { return hiddenSize; }
    public int numLayers() { return numLayers; }
    public int projSize() { return projSize; }
    public int seqLen() { return seqLen; }
    public int batch() { return batch; }
    public boolean bias() { return bias; }
    public boolean batchFirst() { return batchFirst; }
    public boolean bidirectional() { return bidirectional; }
    public boolean hasH0() { return hasH0; }
    /** SRU only. */
    public boolean useTanh() { return useTanh; }
    /** SRU only. */
    public boolean useRelu() { return useRelu; }
    /** SRU only: the K (3 or 4) of each layer; empty for other modes. */
    public List<Integer> k() { return k; }
    /** SRU / SRU2: the per-sequence lengths of a variable-length case (a copy), or null. */
    public int[] sruLengths() { return sruLengths == null ? null : sruLengths.clone(); }
    /** SRU2 only. */
    public int projectionSize() { return projectionSize; }
    /** SRU2 only. */
    public boolean layerNorm() { return layerNorm; }
    /** SRU2 only. */
    public boolean normalizeAfter() { return normalizeAfter; }
    /** SRU2 only. */
    public boolean hasSkipTerm() { return hasSkipTerm; }
    /** SRU2 only. */
    public boolean rescale() { return rescale; }
    /** SRU2 only. */
    public double highwayBias() { return highwayBias; }

    public Tolerance forwardTolerance() { return forward; }
    public Tolerance gradTolerance() { return grad; }

    /** The tolerance for a stored result: {@code grad} for names starting with "grad", else {@code forward}. */
    public Tolerance toleranceFor(String tensorName) { return tensorName.startsWith("grad") ? grad : forward; }

    /** Number of directions D. */
    public int directions() { return bidirectional ? 2 : 1; }

    /** H_out: proj_size if positive, else hidden_size. */
    public int hOut() { return projSize > 0 ? projSize : hiddenSize; }

    /**
     * The shape the config implies for each fixed (non-parameter) tensor name, in the README's
     * order; parameter tensors and their gradients are shaped by the module. Names that this case
     * does not have (h0 without has_h0, h_n for SRU, c_n for GRU, ...) are absent.
     */
    public Map<String, int[]> expectedShapes() {
        int t = seqLen, b = batch, d = directions();
        Map<String, int[]> s = new LinkedHashMap<>();
        int[] state, cState;
        int outWidth;
        if (mode.isCell()) {
            state = new int[] {b, hiddenSize};
            cState = state;
            outWidth = hiddenSize;
        } else if (mode.isSru()) {
            state = null;
            cState = new int[] {numLayers, b, d * hiddenSize};
            outWidth = d * hiddenSize;
        } else {
            state = new int[] {numLayers * d, b, hOut()};
            cState = new int[] {numLayers * d, b, hiddenSize};
            outWidth = d * hOut();
        }
        s.put("input", batchFirst ? new int[] {b, t, inputSize} : new int[] {t, b, inputSize});
        if (mode.isSru() && sruLengths != null) s.put("lengths", new int[] {b});
        if (hasH0 && mode.hasH()) s.put("h0", state);
        if (hasH0 && mode.hasC()) s.put("c0", cState);
        s.put("output", batchFirst ? new int[] {b, t, outWidth} : new int[] {t, b, outWidth});
        if (mode.hasH()) s.put("h_n", state);
        if (mode.hasC()) s.put("c_n", cState);
        for (String r : List.of("output", "h_n", "c_n")) if (s.containsKey(r)) s.put("grad_" + r, s.get(r));
        s.put("grad_input", s.get("input"));
        if (s.containsKey("h0")) s.put("grad_h0", s.get("h0"));
        if (s.containsKey("c0")) s.put("grad_c0", s.get("c0"));
        return s;
    }

    @Override
    public String toString() { return "ConformanceCase[" + name + ", " + mode + ", " + file + "]"; }

    /** Typed access to config keys with messages that name the file and key. */
    private record Cfg(Path file, Map<String, Object> config) {
        ConformanceFormatException bad(String problem) { return new ConformanceFormatException(file, "config: " + problem); }

        Object get(String key) throws ConformanceFormatException {
            if (!config.containsKey(key)) throw bad("missing key \"" + key + "\"");
            return config.get(key);
        }

        String string(String key) throws ConformanceFormatException {
            Object v = get(key);
            if (!(v instanceof String s)) throw bad("\"" + key + "\" must be a string, got " + Json.typeName(v));
            return s;
        }

        long integer(String key) throws ConformanceFormatException {
            Object v = get(key);
            if (!(v instanceof Long l)) throw bad("\"" + key + "\" must be an integer, got " + Json.write(v));
            return l;
        }

        int positiveInt(String key) throws ConformanceFormatException { return intAtLeast(key, 1, "a positive"); }

        int nonNegativeInt(String key) throws ConformanceFormatException { return intAtLeast(key, 0, "a non-negative"); }

        private int intAtLeast(String key, int min, String what) throws ConformanceFormatException {
            long l = integer(key);
            if (l < min || l > Integer.MAX_VALUE) throw bad("\"" + key + "\" must be " + what + " int, got " + l);
            return (int) l;
        }

        boolean bool(String key) throws ConformanceFormatException {
            Object v = get(key);
            if (!(v instanceof Boolean b)) throw bad("\"" + key + "\" must be true or false, got " + Json.write(v));
            return b;
        }

        /** A boolean written as true/false or as the integer 0/1 (the SRU constructor flags). */
        boolean flag(String key) throws ConformanceFormatException {
            Object v = get(key);
            if (v instanceof Boolean b) return b;
            if (v instanceof Long l && (l == 0 || l == 1)) return l == 1;
            throw bad("\"" + key + "\" must be true/false or 0/1, got " + Json.write(v));
        }
    }
}
