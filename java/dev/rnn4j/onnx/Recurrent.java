package dev.rnn4j.onnx;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.Parameter;
import dev.rnn4j.nn.RNN;
import dev.rnn4j.nn.RNNBase;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.onnx.OnnxTensor.DataType;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * ONNX's LSTM, GRU and RNN nodes on rnn4j's layers. The weights are converted at this boundary:
 * ONNX stacks the gates of W and R as iofc (LSTM) and zrh (GRU), PyTorch as ifgo and rzn, and
 * ONNX's B is [Wb, Rb], which are PyTorch's b_ih and b_hh. A bidirectional node is a
 * bidirectional layer; a reverse one runs the forward layer on each sequence's valid prefix
 * reversed in time and reverses its outputs back, which is the ONNX definition (the reverse
 * pass starts at step sequence_lens[b] - 1). A GRU's linear_before_reset (0, ONNX's default, or
 * 1) is the layer's option of that name, an LSTM's P its peepholes and input_forget = 1 its
 * coupledInputForget (not both). Only the forms the layers compute exactly are accepted: no
 * clip, and the default activations (an RNN may also use Relu).
 */
final class Recurrent {
    private Recurrent() {}

    static final Map<String, Set<String>> ATTRIBUTES = Map.of(
            "LSTM", Set.of("activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "input_forget", "layout"),
            "GRU", Set.of("activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "layout", "linear_before_reset"),
            "RNN", Set.of("activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "layout"));

    /** Gates per cell. */
    private static int gates(String op) {
        return switch (op) {
            case "LSTM" -> 4;
            case "GRU" -> 3;
            default -> 1;
        };
    }

    /** For each PyTorch gate block, the ONNX block it comes from: LSTM iofc -> ifgo, GRU zrh -> rzn. */
    private static int[] gateOrder(String op) {
        return switch (op) {
            case "LSTM" -> new int[]{0, 2, 3, 1};
            case "GRU" -> new int[]{1, 0, 2};
            default -> new int[]{0};
        };
    }

    private static int directions(Node n) {
        return n.s("direction", "forward").equals("bidirectional") ? 2 : 1;
    }

    static void validate(Node n) throws OnnxFormatException {
        String dir = n.s("direction", "forward");
        if (!Set.of("forward", "reverse", "bidirectional").contains(dir))
            throw new OnnxFormatException("node '" + n.name() + "' (" + n.op() + "): direction '" + dir + "' is not forward, reverse or bidirectional");
        long layout = n.i("layout", 0);
        if (layout != 0 && layout != 1)
            throw new OnnxFormatException("node '" + n.name() + "' (" + n.op() + "): layout " + layout + " is not 0 or 1");
        if (n.has("hidden_size") && n.i("hidden_size", 0) <= 0)
            throw new OnnxFormatException("node '" + n.name() + "' (" + n.op() + "): hidden_size " + n.i("hidden_size", 0) + " is not positive");
        if (n.has("clip")) throw n.unsupported("clip", "cell clipping is not supported yet");
        long lbr = n.i("linear_before_reset", 0);
        if (n.op().equals("GRU") && lbr != 0 && lbr != 1)
            throw new OnnxFormatException("node '" + n.name() + "' (GRU): linear_before_reset " + lbr + " is not 0 or 1");
        if (n.op().equals("LSTM")) {
            long inputForget = n.i("input_forget", 0);
            if (inputForget != 0 && inputForget != 1)
                throw new OnnxFormatException("node '" + n.name() + "' (LSTM): input_forget " + inputForget + " is not 0 or 1");
            if (inputForget == 1 && n.hasInput(7))
                throw n.unsupported("input_forget", "input_forget = 1 together with peepholes (P) is not supported yet");
        }
        List<String> acts = n.strings("activations");
        if (acts != null) {
            int d = directions(n);
            List<String> dflt = switch (n.op()) {
                case "LSTM" -> List.of("Sigmoid", "Tanh", "Tanh");
                case "GRU" -> List.of("Sigmoid", "Tanh");
                default -> List.of("Tanh");
            };
            if (acts.size() != dflt.size() * d)
                throw new OnnxFormatException("node '" + n.name() + "' (" + n.op() + "): " + acts.size() + " activations for "
                        + d + " direction(s); needs " + dflt.size() * d);
            for (int i = 0; i < acts.size(); i++) {
                String a = acts.get(i);
                boolean ok = a.equalsIgnoreCase(dflt.get(i % dflt.size()))
                        || n.op().equals("RNN") && a.equalsIgnoreCase("Relu") && acts.stream().allMatch(x -> x.equalsIgnoreCase("Relu"));
                if (!ok) throw n.unsupported("activations", "activations " + acts + " are not supported yet (only "
                        + (n.op().equals("RNN") ? "Tanh or Relu, the same in both directions" : String.join(", ", dflt)) + ")");
            }
        }
    }

    static Value[] run(Node n, Value[] in, Run run) {
        String op = n.op();
        int g = gates(op), D = directions(n);
        boolean reverse = n.s("direction", "forward").equals("reverse"), batchFirst = n.i("layout", 0) == 1;
        Value xv = in[0], wv = in[1], rv = in[2];
        Value bv = at(in, 3), lv = at(in, 4), hv = at(in, 5), cv = op.equals("LSTM") ? at(in, 6) : null;
        Value pv = op.equals("LSTM") ? at(in, 7) : null;
        for (Value v : new Value[]{xv, wv, rv, bv, hv, cv, pv})
            if (v != null && v.type != DataType.FLOAT) throw n.bad("X, W, R, B, initial_h, initial_c and P must be FLOAT, got " + v.type);
        if (xv.rank() != 3) throw n.bad("X must be 3-D, is " + Arrays.toString(xv.shape));
        int T = batchFirst ? xv.shape[1] : xv.shape[0], B = batchFirst ? xv.shape[0] : xv.shape[1], I = xv.shape[2];
        int H = weights(n, wv, rv, bv, pv, D, g, I);
        int[] stateShape = batchFirst ? new int[]{B, D, H} : new int[]{D, B, H};
        if (hv != null) expect(n, "initial_h", hv, stateShape);
        if (cv != null) expect(n, "initial_c", cv, stateShape);
        if (T == 0 || B == 0) throw n.bad("X " + Arrays.toString(xv.shape) + " has no steps or no sequences");

        int[] lengths = null;
        if (lv != null) {
            long[] l = Ops.ints(n, lv, "sequence_lens");
            if (l.length != B) throw n.bad("sequence_lens has " + l.length + " values for a batch of " + B);
            lengths = new int[B];
            boolean full = true;
            for (int b = 0; b < B; b++) {
                if (l[b] < 1 || l[b] > T) throw n.bad("sequence_lens[" + b + "] = " + l[b] + " is outside 1.." + T);
                lengths[b] = (int) l[b];
                full &= l[b] == T;
            }
            if (full) lengths = null;
        }

        Device dev = run.device;
        RNNBase layer = run.own(build(n, dev, I, H, D == 2, batchFirst, pv != null));
        layer.eval();
        load(layer, op, wv, rv, bv, D, g, H);
        if (pv != null) loadPeepholes(layer, pv, D, H);

        Tensor x = xv.dev(dev, run);
        int[] flip = reverse ? flip(T, B, batchFirst, lengths) : null;
        if (flip != null) x = permuteRows(run, x, flip, I);
        Tensor h0 = hv == null ? null : batchFirst ? run.own(hv.dev(dev, run).transpose(0, 1)) : hv.dev(dev, run);
        Tensor c0 = cv == null ? null : batchFirst ? run.own(cv.dev(dev, run).transpose(0, 1)) : cv.dev(dev, run);
        if (op.equals("LSTM") && (h0 == null) != (c0 == null)) {
            if (h0 == null) h0 = run.own(dev.zeros(D, B, H));
            else c0 = run.own(dev.zeros(D, B, H));
        }
        RecurrentOutput out = run.own(layer.forwardStates(x, h0, c0, lengths));

        Value[] res = new Value[n.outputs().size()];
        for (int k = 0; k < res.length; k++) {
            if (n.outputs().get(k).isEmpty()) continue;
            if (k == 0) {
                Tensor y = out.output();
                if (flip != null) y = permuteRows(run, y, flip, D * H);
                // rnn4j: (T, B, D*H) or (B, T, D*H); ONNX: (T, D, B, H) or (B, T, D, H).
                Tensor y4 = batchFirst ? run.own(y.view(B, T, D, H)) : run.own(run.own(y.view(T, B, D, H)).transpose(1, 2));
                res[k] = Value.of(y4, batchFirst ? new int[]{B, T, D, H} : new int[]{T, D, B, H});
            } else if (k == 1 || k == 2 && op.equals("LSTM")) {
                Tensor s = k == 1 ? out.hN() : out.cN();
                res[k] = Value.of(batchFirst ? run.own(s.transpose(0, 1)) : s, stateShape);
            } else throw n.bad("has " + res.length + " outputs; " + op + " has at most " + (op.equals("LSTM") ? 3 : 2));
        }
        return res;
    }

    private static Value at(Value[] in, int i) { return i < in.length ? in[i] : null; }

    private static void expect(Node n, String what, Value v, int... shape) {
        if (!Arrays.equals(v.shape, shape))
            throw n.bad(what + " has shape " + Arrays.toString(v.shape) + ", expected " + Arrays.toString(shape));
    }

    /**
     * Checks W, R and the optional B and P against the node's geometry (input width I) and
     * returns the hidden size: the hidden_size attribute, else R's last dimension.
     */
    private static int weights(Node n, Value wv, Value rv, Value bv, Value pv, int D, int g, int I) {
        if (wv.rank() != 3 || rv.rank() != 3) throw n.bad("W and R must be 3-D, are " + Arrays.toString(wv.shape) + " and " + Arrays.toString(rv.shape));
        int H = n.has("hidden_size") ? (int) n.i("hidden_size", 0) : rv.shape[2];
        expect(n, "W", wv, D, g * H, I);
        expect(n, "R", rv, D, g * H, H);
        if (bv != null) expect(n, "B", bv, D, 2 * g * H);
        if (pv != null) expect(n, "P", pv, D, 3 * H);
        return H;
    }

    /**
     * The node as an rnn4j layer with its weights, for fine-tuning: W, R and the optional B and P
     * must be initializers (constants of the graph). A reverse-only node has no layer of its own
     * (rnn4j's layers run forward or both ways), so it is refused, as are weights fed as inputs.
     */
    static RNNBase module(Node n, Map<String, OnnxTensor> init, Device dev) {
        String op = n.op();
        if (n.s("direction", "forward").equals("reverse"))
            throw n.bad("direction = reverse has no rnn4j layer of its own (run the graph instead, or reverse the input)");
        Value[] w = new Value[8];
        String[] names = {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};
        for (int k : new int[]{1, 2, 3, 7}) {
            if (k >= n.inputs().size() || n.input(k).isEmpty()) continue;
            OnnxTensor t = init.get(n.input(k));
            if (t == null) throw n.bad(names[k] + " ('" + n.input(k) + "') is not an initializer: the weights must be constants of the graph");
            if (t.dataType() != DataType.FLOAT) throw n.bad(names[k] + " must be FLOAT, got " + t.dataType());
            w[k] = Value.of(t);
        }
        if (w[1] == null || w[2] == null) throw n.bad("W and R are required");
        int g = gates(op), D = directions(n);
        int I = w[1].rank() == 3 ? w[1].shape[2] : -1;   // weights() refuses a W of another rank
        int H = weights(n, w[1], w[2], w[3], w[7], D, g, I);
        RNNBase layer = build(n, dev, I, H, D == 2, n.i("layout", 0) == 1, w[7] != null);
        try {
            load(layer, op, w[1], w[2], w[3], D, g, H);
            if (w[7] != null) loadPeepholes(layer, w[7], D, H);
        } catch (RuntimeException e) {
            layer.close();
            throw e;
        }
        return layer;
    }

    private static RNNBase build(Node n, Device dev, int I, int H, boolean bidirectional, boolean batchFirst, boolean peepholes) {
        return switch (n.op()) {
            case "LSTM" -> LSTM.builder(I, H).peepholes(peepholes).coupledInputForget(n.i("input_forget", 0) == 1).bidirectional(bidirectional).batchFirst(batchFirst).seed(0).build(dev);
            case "GRU" -> GRU.builder(I, H).linearBeforeReset(n.i("linear_before_reset", 0) == 1)
                    .bidirectional(bidirectional).batchFirst(batchFirst).seed(0).build(dev);
            default -> {
                List<String> acts = n.strings("activations");
                boolean relu = acts != null && acts.get(0).equalsIgnoreCase("Relu");
                yield RNN.builder(I, H).nonlinearity(relu ? "relu" : "tanh").bidirectional(bidirectional).batchFirst(batchFirst).seed(0).build(dev);
            }
        };
    }

    /** Copies ONNX's W, R and B into the layer's PyTorch-named parameters, reordering the gate blocks. */
    static void load(RNNBase layer, String op, Value wv, Value rv, Value bv, int D, int g, int H) {
        int[] order = gateOrder(op);
        int I = wv.shape[2];
        Map<String, Parameter> p = layer.namedParameters();
        for (int d = 0; d < D; d++) {
            String sfx = d == 0 ? "_l0" : "_l0_reverse";
            p.get("weight_ih" + sfx).set(new HostTensor(new int[]{g * H, I}, blocks(wv.f(), d * g * H * I, order, H * I)));
            p.get("weight_hh" + sfx).set(new HostTensor(new int[]{g * H, H}, blocks(rv.f(), d * g * H * H, order, H * H)));
            float[] b = bv == null ? new float[2 * g * H] : bv.f();
            int bo = bv == null ? 0 : d * 2 * g * H;
            p.get("bias_ih" + sfx).set(new HostTensor(new int[]{g * H}, blocks(b, bo, order, H)));
            p.get("bias_hh" + sfx).set(new HostTensor(new int[]{g * H}, blocks(b, bo + g * H, order, H)));
        }
    }

    /** ONNX's P (D, 3H) as p_i, p_o, p_f into weight_peephole (p_i, p_f, p_o, the layer's gate order). */
    private static void loadPeepholes(RNNBase layer, Value pv, int D, int H) {
        Map<String, Parameter> p = layer.namedParameters();
        for (int d = 0; d < D; d++)
            p.get("weight_peephole" + (d == 0 ? "_l0" : "_l0_reverse"))
                    .set(new HostTensor(new int[]{3 * H}, blocks(pv.f(), d * 3 * H, new int[]{0, 2, 1}, H)));
    }

    /** The gate blocks (each {@code size} floats) starting at {@code off}, in PyTorch's order. */
    private static float[] blocks(float[] src, int off, int[] order, int size) {
        float[] out = new float[order.length * size];
        for (int j = 0; j < order.length; j++) System.arraycopy(src, off + order[j] * size, out, j * size, size);
        return out;
    }

    /**
     * The row permutation that reverses each sequence's first {@code lengths[b]} steps in time
     * (rows of the (T*B) or, batch first, (B*T) matrix), leaving its padded steps in place. It
     * is its own inverse, so it also takes the reversed outputs back.
     */
    private static int[] flip(int T, int B, boolean batchFirst, int[] lengths) {
        int[] ids = new int[T * B];
        for (int b = 0; b < B; b++) {
            int len = lengths == null ? T : lengths[b];
            for (int t = 0; t < T; t++) {
                int src = t < len ? len - 1 - t : t;
                ids[batchFirst ? b * T + t : t * B + b] = batchFirst ? b * T + src : src * B + b;
            }
        }
        return ids;
    }

    /** out row i = x row ids[i], on the device (the embedding gather over a view of x as rows). */
    private static Tensor permuteRows(Run run, Tensor x, int[] ids, int width) {
        Tensor out = run.own(run.device.zeros(x.shape()));
        DeviceAccess.backend(run.device).embeddingForward(ids, 0, ids.length, width, DeviceAccess.buffer(x), 0, DeviceAccess.buffer(out), 0);
        return out;
    }
}
