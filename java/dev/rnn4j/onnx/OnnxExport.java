package dev.rnn4j.onnx;

import dev.rnn4j.lm.LanguageModel;
import dev.rnn4j.nn.Embedding;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.LayerNorm;
import dev.rnn4j.nn.Linear;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.Parameter;
import dev.rnn4j.nn.RNN;
import dev.rnn4j.nn.RNNBase;
import dev.rnn4j.nn.SRU;
import dev.rnn4j.nn.SRUCell;
import dev.rnn4j.onnx.proto.OnnxProto.ModelProto;
import dev.rnn4j.onnx.proto.OnnxProto.OperatorSetIdProto;
import dev.rnn4j.onnx.proto.OnnxProto.StringStringEntryProto;
import dev.rnn4j.onnx.proto.OnnxProto.TensorProto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static dev.rnn4j.onnx.Graph.attr;
import static dev.rnn4j.onnx.Graph.list;

/**
 * Writes rnn4j modules as ONNX models (opset {@value #OPSET}) that ONNX Runtime, rnn4j's own
 * {@link OnnxModel} and other runtimes run with rnn4j's results, in inference mode (dropout is
 * left out). What is exported, and the graph's inputs and outputs:
 *
 * <ul>
 * <li>{@link RNN}, {@link LSTM}, {@link GRU} (any number of layers, bidirectional, batch_first,
 *     bias or not; not an LSTM projection): one ONNX RNN/LSTM/GRU node per layer, the gate blocks
 *     reordered to ONNX's (LSTM iofc, GRU zrh with {@code linear_before_reset} 1, which is
 *     PyTorch's GRU, or 0 for {@code linearBeforeReset(false)}; an LSTM's peepholes as P, its
 *     coupled gates as {@code input_forget = 1}). Input {@code input} (T, B, I), or (B, T, I) batch-first; with
 *     {@link Options#lengths} also {@code lengths} (B) INT64, the valid steps of each sequence
 *     (rnn4j's {@code forward(..., lengths)}); with {@link Options#initialState} also {@code h0}
 *     (and {@code c0}) (layers*D, B, H). Outputs {@code output} (T, B, D*H) or batch-first,
 *     {@code h_n} (and {@code c_n}), as the module's forward returns them.</li>
 * <li>{@link SRU}, v1 and 2.x: per layer the input projection as MatMul and, per direction, the
 *     recurrence as a Scan of elementwise operators. Input {@code input} (T, B, I), optionally
 *     {@code lengths} and {@code c0} (layers, B, D*H); outputs {@code output} and {@code c_n}.</li>
 * <li>{@link Linear}: input {@code input} (..., in), output {@code output} (..., out): MatMul and Add.</li>
 * <li>{@link Embedding}: input {@code ids} INT64 of any shape, output {@code output} (..., dim): Gather.</li>
 * <li>{@link LanguageModel} (LSTM or SRU): input {@code tokens} (T, B) INT64, optionally the state
 *     ({@code h0} for the LSTM and {@code c0}, (depth, B, d)); outputs {@code logits} (T, B, V)
 *     and the last state {@code h_n} (LSTM) and {@code c_n}. The output layer reuses the
 *     embedding matrix, stored once.</li>
 * </ul>
 *
 * <pre>{@code
 * try (Device dev = Device.open("cpu");
 *      LSTM lstm = LSTM.builder(16, 32).numLayers(2).bidirectional(true).build(dev)) {
 *     OnnxExport.write(lstm, Path.of("lstm.onnx"), OnnxExport.Options.DEFAULT.withLengths(true));
 * }
 * }</pre>
 */
public final class OnnxExport {
    private OnnxExport() {}

    /** The opset of the default domain the exported models import. */
    public static final int OPSET = 17;

    private static final int FLOAT = TensorProto.DataType.FLOAT_VALUE, INT64 = TensorProto.DataType.INT64_VALUE;

    /**
     * Which optional inputs the exported graph has.
     *
     * @param lengths      a {@code lengths} input (B) of INT64 valid steps per sequence
     *                     (recurrent modules only)
     * @param initialState initial-state inputs ({@code h0}, {@code c0}); without them the
     *                     state starts at zero
     */
    public record Options(boolean lengths, boolean initialState) {
        /** No lengths, zero initial state. */
        public static final Options DEFAULT = new Options(false, false);

        /** These options with {@code lengths} set as given. */
        public Options withLengths(boolean on) { return new Options(on, initialState); }

        /** These options with {@code initialState} set as given. */
        public Options withInitialState(boolean on) { return new Options(lengths, on); }
    }

    /** Writes {@code module} to {@code file} with the default options. */
    public static void write(Module module, Path file) throws IOException { write(module, file, Options.DEFAULT); }

    /**
     * Writes {@code module} to {@code file} as an ONNX model.
     *
     * @throws IllegalArgumentException for a module or option that cannot be exported (the
     *                                  message says which)
     */
    public static void write(Module module, Path file, Options options) throws IOException {
        Files.write(file, toBytes(module, options));
    }

    /**
     * The ONNX model of {@code module}, serialized.
     *
     * @throws IllegalArgumentException for a module or option that cannot be exported
     */
    public static byte[] toBytes(Module module, Options options) { return toBytes(module, options, Map.of()); }

    /**
     * The ONNX model of {@code module}, serialized, with {@code metadata} as the model's
     * metadata_props (e.g. a language model's vocabulary).
     *
     * @throws IllegalArgumentException for a module or option that cannot be exported
     */
    public static byte[] toBytes(Module module, Options options, Map<String, String> metadata) {
        java.util.Objects.requireNonNull(module, "module");
        java.util.Objects.requireNonNull(options, "options");
        Graph g = new Graph("rnn4j_" + module.getClass().getSimpleName());
        switch (module) {
            case RNNBase r -> recurrentModel(g, r, options);
            case SRU s -> sruModel(g, s, options);
            case Linear l -> {
                if (options.lengths || options.initialState) throw new IllegalArgumentException("Linear has no lengths or state inputs");
                g.input("input", FLOAT, (Object[]) null);
                linear(g, l, "input", "output");
                g.output("output", FLOAT, (Object[]) null);
            }
            case Embedding e -> {
                if (options.lengths || options.initialState) throw new IllegalArgumentException("Embedding has no lengths or state inputs");
                g.input("ids", INT64, (Object[]) null);
                String w = g.floats("weight", host(e.weight()), e.numEmbeddings(), e.dim());
                g.op("Gather", list(w, "ids"), list("output"));
                g.output("output", FLOAT, (Object[]) null);
            }
            case LanguageModel lm -> lmModel(g, lm, options);
            default -> throw new IllegalArgumentException(module.getClass().getSimpleName()
                    + " cannot be exported to ONNX (RNN, LSTM, GRU, SRU, Linear, Embedding and LanguageModel can)");
        }
        ModelProto m = ModelProto.newBuilder()
                .setIrVersion(8)
                .setProducerName("rnn4j")
                .setProducerVersion(version())
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
                .setGraph(g.build())
                .build();
        if (!metadata.isEmpty()) {
            ModelProto.Builder b = m.toBuilder();
            metadata.forEach((k, v) -> b.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
            m = b.build();
        }
        return m.toByteArray();
    }

    private static String version() {
        String v = OnnxExport.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    private static float[] host(Parameter p) { return p.value().toArray(); }

    // ------------------------------------------------------------------ RNN, LSTM, GRU

    private static void recurrentModel(Graph g, RNNBase r, Options o) {
        int L = r.numLayers(), D = r.numDirections(), H = r.hiddenSize();
        boolean lstm = r.hasCellState();
        g.input("input", FLOAT, r.batchFirst() ? new Object[]{"batch", "seq", (long) r.inputSize()} : new Object[]{"seq", "batch", (long) r.inputSize()});
        if (o.lengths) g.input("lengths", INT64, "batch");
        if (o.initialState) {
            g.input("h0", FLOAT, (long) L * D, "batch", (long) H);
            if (lstm) g.input("c0", FLOAT, (long) L * D, "batch", (long) H);
        }
        String x = r.batchFirst() ? g.op("Transpose", list("input"), attr("perm", new long[]{1, 0, 2})) : "input";
        String lens = o.lengths ? g.op("Cast", list("lengths"), attr("to", (long) TensorProto.DataType.INT32_VALUE)) : "";
        String y = recurrent(g, r, x, lens, o.initialState ? "h0" : null, o.initialState && lstm ? "c0" : null,
                r.batchFirst() ? null : "output", "h_n", lstm ? "c_n" : null);
        if (r.batchFirst()) g.op("Transpose", list(y), list("output"), attr("perm", new long[]{1, 0, 2}));
        g.output("output", FLOAT, r.batchFirst() ? new Object[]{"batch", "seq", (long) D * H} : new Object[]{"seq", "batch", (long) D * H});
        g.output("h_n", FLOAT, (long) L * D, "batch", (long) H);
        if (lstm) g.output("c_n", FLOAT, (long) L * D, "batch", (long) H);
    }

    /**
     * The layers of {@code r} on the time-major {@code x}; returns the (T, B, D*H) output's name
     * ({@code yName} if given). h0/c0 are (L*D, B, H) values or null; lens an INT32 value or "".
     */
    private static String recurrent(Graph g, RNNBase r, String x, String lens, String h0, String c0,
                                    String yName, String hnName, String cnName) {
        if (r.projSize() > 0) throw new IllegalArgumentException("an LSTM with proj_size cannot be exported: ONNX's LSTM has no projection");
        String op = switch (r) {
            case LSTM l -> "LSTM";
            case GRU gr -> "GRU";
            case RNN rn -> "RNN";
            default -> throw new IllegalArgumentException(r.getClass().getSimpleName() + " cannot be exported to ONNX");
        };
        int L = r.numLayers(), D = r.numDirections(), H = r.hiddenSize(), gates = op.equals("LSTM") ? 4 : op.equals("GRU") ? 3 : 1;
        // For each ONNX gate block, the PyTorch block it comes from: LSTM ifgo -> iofc, GRU rzn -> zrh.
        int[] order = switch (op) {
            case "LSTM" -> new int[]{0, 3, 1, 2};
            case "GRU" -> new int[]{1, 0, 2};
            default -> new int[]{0};
        };
        Map<String, Parameter> p = r.namedParameters();
        // A parameter this exporter does not map (a cell variant it does not know) would be dropped silently: refuse instead.
        for (String name : p.keySet())
            if (!name.matches("(weight_ih|weight_hh" + (r.bias() ? "|bias_ih|bias_hh" : "") + (r instanceof LSTM lp && lp.peepholes() ? "|weight_peephole" : "")
                    + ")_l\\d+(_reverse)?"))
                throw new IllegalArgumentException(r + ": parameter '" + name + "' has no ONNX " + op + " counterpart in this exporter");
        List<String> hs = new ArrayList<>(), cs = new ArrayList<>();
        String in = x;
        for (int l = 0; l < L; l++) {
            int inW = l == 0 ? r.inputSize() : D * H;
            float[] w = new float[D * gates * H * inW], rr = new float[D * gates * H * H], b = new float[D * 2 * gates * H];
            for (int d = 0; d < D; d++) {
                String sfx = "_l" + l + (d == 1 ? "_reverse" : "");
                reorder(host(p.get("weight_ih" + sfx)), order, H * inW, w, d * gates * H * inW);
                reorder(host(p.get("weight_hh" + sfx)), order, H * H, rr, d * gates * H * H);
                if (r.bias()) {
                    reorder(host(p.get("bias_ih" + sfx)), order, H, b, d * 2 * gates * H);
                    reorder(host(p.get("bias_hh" + sfx)), order, H, b, d * 2 * gates * H + gates * H);
                }
            }
            List<String> inputs = list(in, g.floats("W" + l, w, D, gates * H, inW), g.floats("R" + l, rr, D, gates * H, H),
                    r.bias() ? g.floats("B" + l, b, D, 2L * gates * H) : "", lens);
            if (h0 != null) inputs.add(layerRows(g, h0, l, D));
            if (c0 != null) {
                if (h0 == null) inputs.add("");
                inputs.add(layerRows(g, c0, l, D));
            }
            if (r instanceof LSTM lp && lp.peepholes()) {   // P (D, 3H): ONNX's p_i, p_o, p_f from the layer's p_i, p_f, p_o
                float[] pp = new float[D * 3 * H];
                for (int d = 0; d < D; d++)
                    reorder(host(p.get("weight_peephole_l" + l + (d == 1 ? "_reverse" : ""))), new int[]{0, 2, 1}, H, pp, d * 3 * H);
                while (inputs.size() < 7) inputs.add("");
                inputs.add(g.floats("P" + l, pp, D, 3L * H));
            }
            while (inputs.getLast().isEmpty()) inputs.removeLast();
            List<String> outs = list(g.fresh("Y"), g.fresh("Y_h"));
            if (op.equals("LSTM")) outs.add(g.fresh("Y_c"));
            List<dev.rnn4j.onnx.proto.OnnxProto.AttributeProto> attrs = new ArrayList<>(List.of(
                    attr("hidden_size", (long) H), attr("direction", D == 2 ? "bidirectional" : "forward")));
            if (r instanceof GRU gr) attrs.add(attr("linear_before_reset", gr.linearBeforeReset() ? 1L : 0L));
            if (r instanceof LSTM lc && lc.coupledInputForget()) attrs.add(attr("input_forget", 1L));
            if (r instanceof RNN rn && rn.nonlinearity().equals("relu"))
                attrs.add(attr("activations", D == 2 ? List.of("Relu", "Relu") : List.of("Relu")));
            g.op(op, inputs, outs, attrs.toArray(new dev.rnn4j.onnx.proto.OnnxProto.AttributeProto[0]));
            hs.add(outs.get(1));
            if (op.equals("LSTM")) cs.add(outs.get(2));
            // Y (T, D, B, H) -> (T, B, D, H) -> (T, B, D*H), the next layer's input.
            String t = g.op("Transpose", list(outs.getFirst()), attr("perm", new long[]{0, 2, 1, 3}));
            String shape = g.ints("shape", 0, 0, (long) D * H);
            in = l == L - 1 && yName != null ? g.op("Reshape", list(t, shape), list(yName)).getFirst() : g.op("Reshape", list(t, shape));
        }
        g.op("Concat", hs, list(hnName), attr("axis", 0L));
        if (cnName != null) g.op("Concat", cs, list(cnName), attr("axis", 0L));
        return in;
    }

    /** Rows [l*D, (l+1)*D) of a (L*D, B, H) state. */
    private static String layerRows(Graph g, String state, int l, int D) {
        return g.op("Slice", list(state, g.ints("start", (long) l * D), g.ints("end", (long) (l + 1) * D), g.ints("axes", 0)));
    }

    /** Copies the gate blocks (each {@code size} floats) of src into dst at off, ONNX block j from PyTorch block order[j]. */
    private static void reorder(float[] src, int[] order, int size, float[] dst, int off) {
        for (int j = 0; j < order.length; j++) System.arraycopy(src, order[j] * size, dst, off + j * size, size);
    }

    // ------------------------------------------------------------------ Linear

    private static void linear(Graph g, Linear l, String x, String out) {
        float[] w = host(l.weight());
        int in = l.inFeatures(), o = l.outFeatures();
        float[] wt = new float[in * o];
        for (int i = 0; i < o; i++)
            for (int j = 0; j < in; j++) wt[j * o + i] = w[i * in + j];
        String wName = g.floats("weight_t", wt, in, o);
        if (l.bias() == null) {
            g.op("MatMul", list(x, wName), list(out));
        } else {
            String mm = g.op("MatMul", list(x, wName));
            g.op("Add", list(mm, g.floats("bias", host(l.bias()), o)), list(out));
        }
    }

    // ------------------------------------------------------------------ SRU

    private static void sruModel(Graph g, SRU s, Options o) {
        int L = s.numLayers(), out = s.outputSize();
        g.input("input", FLOAT, "seq", "batch", (long) s.inputSize());
        if (o.lengths) g.input("lengths", INT64, "batch");
        if (o.initialState) g.input("c0", FLOAT, (long) L, "batch", (long) out);
        sru(g, s, "input", o.lengths ? "lengths" : null, o.initialState ? "c0" : null, "output", "c_n");
        g.output("output", FLOAT, "seq", "batch", (long) out);
        g.output("c_n", FLOAT, (long) L, "batch", (long) out);
    }

    /**
     * The SRU's layers on x (T, B, I): the output named yName, the stacked last c named cnName.
     * lengths is an INT64 (B) value or null; c0 a (L, B, D*H) value or null.
     */
    private static void sru(Graph g, SRU s, String x, String lengths, String c0, String yName, String cnName) {
        int L = s.numLayers();
        String mask = null;
        if (lengths != null) {
            // mask[t, b, 0] = t < lengths[b]: padded steps keep c and give h = 0 (sru's mask_pad).
            String T = g.op("Gather", list(g.op("Shape", list(x)), g.scalar("zero", 0)), attr("axis", 0L));
            String range = g.op("Range", list(g.scalar("zero", 0), T, g.scalar("one", 1)));
            String col = g.op("Unsqueeze", list(range, g.ints("axes", 1)));
            String less = g.op("Less", list(col, lengths));
            String f = g.op("Cast", list(less), attr("to", (long) FLOAT));
            mask = g.op("Unsqueeze", list(f, g.ints("axes", 2)));
        }
        String batch = g.op("Gather", list(g.op("Shape", list(x)), g.ints("one", 1)), attr("axis", 0L));
        List<String> lastCs = new ArrayList<>();
        String in = x;
        for (int l = 0; l < L; l++) {
            SRUCell cell = s.layers().get(l);
            String layerC0 = c0 == null ? null : g.op("Gather", list(c0, g.scalar("layer", l)), attr("axis", 0L));
            String[] res = sruLayer(g, cell, in, mask, layerC0, batch, l == L - 1 ? yName : null);
            in = res[0];
            lastCs.add(g.op("Unsqueeze", list(res[1], g.ints("axes", 0))));
        }
        g.op("Concat", lastCs, list(cnName), attr("axis", 0L));
    }

    /** One SRU layer: returns {output (T, B, D*H), last c (B, D*H)}. */
    private static String[] sruLayer(Graph g, SRUCell cell, String x, String mask, String c0, String batch, String yName) {
        int D = cell.numDirections(), H = cell.nOut(), out = cell.outputSize(), K = cell.k();
        boolean v1 = cell.v1(), skip = v1 || cell.hasSkipTerm();
        LayerNorm ln = cell.layerNorm();
        boolean preNorm = ln != null && !cell.normalizeAfter(), postNorm = ln != null && cell.normalizeAfter();
        String xt = preNorm ? layerNorm(g, ln, x) : x;
        if (cell.weightProj() != null) {
            Parameter wp = cell.weightProj();
            xt = g.op("MatMul", list(xt, g.floats("weight_proj", host(wp), wp.shape()[0], wp.shape()[1])));
        }
        Parameter w = cell.weight();
        String u = g.op("MatMul", list(xt, g.floats("weight", host(w), w.shape()[0], w.shape()[1])));
        String u5 = g.op("Reshape", list(u, g.ints("shape", 0, 0, D, H, K)));
        String xp5 = null;
        if (skip && K == 3) {
            String xs = x;
            if (!v1 && cell.rescale()) xs = g.op("Mul", list(x, g.floats("scale_x", host(cell.scaleX()))));
            xp5 = g.op("Reshape", list(xs, g.ints("shape", 0, 0, D, H)));
        }
        float[] bias = host(cell.bias()), wc = cell.weightC() == null ? null : host(cell.weightC());
        String c0r = c0 == null ? null : g.op("Reshape", list(c0, g.ints("shape", 0, D, H)));
        String zeros = c0 != null ? null : g.op("ConstantOfShape", list(g.op("Concat", list(batch, g.ints("h", H)), attr("axis", 0L))),
                attr("value", TensorProto.newBuilder().setDataType(FLOAT).addDims(1).addFloatData(0f).build()));
        List<String> hs = new ArrayList<>(), cs = new ArrayList<>();
        for (int d = 0; d < D; d++) {
            String dir = g.scalar("dir", d);
            String ud = g.op("Gather", list(u5, dir), attr("axis", 2L));
            String xpd = xp5 == null ? null : g.op("Gather", list(xp5, dir), attr("axis", 2L));
            String cInit = c0r == null ? zeros : g.op("Gather", list(c0r, dir), attr("axis", 1L));
            float[] bf = Arrays.copyOfRange(bias, d * H, (d + 1) * H), br = Arrays.copyOfRange(bias, out + d * H, out + (d + 1) * H);
            float[] wcf = wc == null ? null : Arrays.copyOfRange(wc, d * H, (d + 1) * H);
            float[] wcr = wc == null ? null : Arrays.copyOfRange(wc, out + d * H, out + (d + 1) * H);
            Graph body = scanBody(g, cell.useRelu() ? "Relu" : cell.useTanh() ? "Tanh" : null, K, skip, xpd != null, mask != null,
                    g.floats("b_f", bf, H), g.floats("b_r", br, H),
                    wcf == null ? null : g.floats("w_cf", wcf, H), wcf == null ? null : g.floats("w_cr", wcr, H));
            List<String> scanIn = list(cInit, ud);
            if (xpd != null) scanIn.add(xpd);
            if (mask != null) scanIn.add(mask);
            int nScan = scanIn.size() - 1;
            long[] dirs = new long[nScan];
            Arrays.fill(dirs, d);
            List<String> res = g.op("Scan", scanIn, list(g.fresh("c_last"), g.fresh("h")),
                    attr("body", body.build()), attr("num_scan_inputs", (long) nScan),
                    attr("scan_input_directions", dirs), attr("scan_output_directions", new long[]{d}));
            cs.add(res.get(0));
            hs.add(res.get(1));
        }
        String h = D == 1 ? hs.getFirst() : g.op("Concat", hs, attr("axis", 2L));
        String c = D == 1 ? cs.getFirst() : g.op("Concat", cs, attr("axis", 1L));
        if (postNorm) h = layerNorm(g, ln, h);
        if (yName != null) h = g.op("Identity", list(h), list(yName)).getFirst();
        return new String[]{h, c};
    }

    private static String layerNorm(Graph g, LayerNorm ln, String x) {
        return g.op("LayerNormalization", list(x, g.floats("ln_weight", host(ln.weight()), ln.size()), g.floats("ln_bias", host(ln.bias()), ln.size())),
                attr("axis", -1L), attr("epsilon", LayerNorm.EPS));
    }

    /**
     * One SRU step for one direction, the Scan body (act: the operator of g, null for the
     * identity): state c (B, H); scan inputs u (B, H, K),
     * then x' (B, H) where the skip input is the layer input, then mask (B, 1); outputs the new
     * c and h. The biases and peepholes are outer-scope initializers.
     */
    private static Graph scanBody(Graph outer, String act, int K, boolean skip, boolean xpInput, boolean masked,
                                  String bf, String br, String wcf, String wcr) {
        Graph b = outer.sub("sru_step");
        String c = b.fresh("c_prev"), u = b.fresh("u"), xpIn = xpInput ? b.fresh("x_skip") : null, m = masked ? b.fresh("mask") : null;
        b.input(c, FLOAT, "batch", "hidden");
        b.input(u, FLOAT, "batch", "hidden", (long) K);
        if (xpIn != null) b.input(xpIn, FLOAT, "batch", "hidden");
        if (m != null) b.input(m, FLOAT, "batch", 1L);
        String[] part = new String[K];
        for (int k = 0; k < K; k++) part[k] = b.op("Gather", list(u, b.scalar("k", k)), attr("axis", 2L));
        String fPre = b.op("Add", list(part[1], bf)), rPre = b.op("Add", list(part[2], br));
        if (wcf != null) {
            fPre = b.op("Add", list(fPre, b.op("Mul", list(wcf, c))));
            rPre = b.op("Add", list(rPre, b.op("Mul", list(wcr, c))));
        }
        String f = b.op("Sigmoid", list(fPre)), r = b.op("Sigmoid", list(rPre));
        // c = f*c_prev + (1-f)*x~  ==  x~ + f*(c_prev - x~)
        String cNew = b.op("Add", list(part[0], b.op("Mul", list(f, b.op("Sub", list(c, part[0]))))));
        String gc = act == null ? cNew : b.op(act, list(cNew)); // g: identity, Tanh or Relu (use_relu wins, as in sru)
        String h;
        if (skip) {
            String xp = xpIn != null ? xpIn : part[3];
            // h = r*g(c) + (1-r)*x'  ==  x' + r*(g(c) - x')
            h = b.op("Add", list(xp, b.op("Mul", list(r, b.op("Sub", list(gc, xp))))));
        } else {
            h = b.op("Mul", list(r, gc));
        }
        if (m != null) {
            cNew = b.op("Add", list(c, b.op("Mul", list(m, b.op("Sub", list(cNew, c))))));
            h = b.op("Mul", list(h, m));
        }
        String cOut = b.op("Identity", list(cNew)), hOut = b.op("Identity", list(h));
        b.output(cOut, FLOAT, "batch", "hidden");
        b.output(hOut, FLOAT, "batch", "hidden");
        return b;
    }

    // ------------------------------------------------------------------ language model

    private static void lmModel(Graph g, LanguageModel lm, Options o) {
        if (o.lengths) throw new IllegalArgumentException("the language model has no lengths input");
        int V = lm.vocabSize(), d = lm.d(), L = lm.depth();
        boolean lstm = lm.isLstm();
        g.input("tokens", INT64, "seq", "batch");
        if (o.initialState) {
            if (lstm) g.input("h0", FLOAT, (long) L, "batch", (long) d);
            g.input("c0", FLOAT, (long) L, "batch", (long) d);
        }
        String e = g.floats("embedding", host(lm.embedding().weight()), V, d);
        String emb = g.op("Gather", list(e, "tokens"));
        String y;
        if (lstm) {
            y = recurrent(g, (RNNBase) lm.rnn(), emb, "", o.initialState ? "h0" : null, o.initialState ? "c0" : null, null, "h_n", "c_n");
        } else {
            y = g.fresh("rnn_out");
            sru(g, (SRU) lm.rnn(), emb, null, o.initialState ? "c0" : null, y, "c_n");
        }
        // The output layer's weight is the embedding matrix: logits = y E^T + b.
        String et = g.op("Transpose", list(e), attr("perm", new long[]{1, 0}));
        String mm = g.op("MatMul", list(y, et));
        g.op("Add", list(mm, g.floats("output_bias", host(lm.outputLayer().bias()), V)), list("logits"));
        g.output("logits", FLOAT, "seq", "batch", (long) V);
        if (lstm) g.output("h_n", FLOAT, (long) L, "batch", (long) d);
        g.output("c_n", FLOAT, (long) L, "batch", (long) d);
    }
}
