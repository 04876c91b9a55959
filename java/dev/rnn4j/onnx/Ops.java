package dev.rnn4j.onnx;

import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.onnx.OnnxTensor.DataType;
import dev.rnn4j.onnx.proto.OnnxProto.AttributeProto;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The operators of an imported graph other than the recurrent ones: which attributes each
 * accepts (checked when the model is loaded) and how it runs. Shape and index operators and
 * the elementwise ones run on the host, in float32 (int64 for shapes and indices) as ONNX
 * defines them; MatMul, Gemm and a Gather of float rows run on the device, where their results
 * usually feed a recurrent layer or come out of one.
 */
final class Ops {
    private Ops() {}

    /** The attributes each operator accepts; an operator not here is not supported. */
    static final Map<String, Set<String>> ATTRIBUTES = Map.ofEntries(
            Map.entry("Gather", Set.of("axis")),
            Map.entry("MatMul", Set.of()),
            Map.entry("Gemm", Set.of("alpha", "beta", "transA", "transB")),
            Map.entry("Add", Set.of()), Map.entry("Sub", Set.of()), Map.entry("Mul", Set.of()), Map.entry("Div", Set.of()),
            Map.entry("Transpose", Set.of("perm")),
            Map.entry("Reshape", Set.of("allowzero")),
            Map.entry("Squeeze", Set.of("axes")), Map.entry("Unsqueeze", Set.of("axes")),
            Map.entry("Concat", Set.of("axis")),
            Map.entry("Slice", Set.of("starts", "ends", "axes")),
            Map.entry("Split", Set.of("axis", "split", "num_outputs")),
            Map.entry("Shape", Set.of("start", "end")),
            Map.entry("Constant", Set.of("value", "value_float", "value_floats", "value_int", "value_ints")),
            Map.entry("ConstantOfShape", Set.of("value")),
            Map.entry("Cast", Set.of("to", "saturate")),
            Map.entry("Expand", Set.of()),
            Map.entry("TopK", Set.of("axis", "largest", "sorted", "k")),
            Map.entry("ScatterElements", Set.of("axis", "reduction")),
            Map.entry("Softmax", Set.of("axis")), Map.entry("LogSoftmax", Set.of("axis")),
            Map.entry("Sigmoid", Set.of()), Map.entry("Tanh", Set.of()), Map.entry("Relu", Set.of()),
            Map.entry("Identity", Set.of()),
            Map.entry("LSTM", Recurrent.ATTRIBUTES.get("LSTM")),
            Map.entry("GRU", Recurrent.ATTRIBUTES.get("GRU")),
            Map.entry("RNN", Recurrent.ATTRIBUTES.get("RNN")));

    /** Checks a node's operator and attributes: the ones rnn4j cannot run exactly are an error naming them. */
    static void validate(Node n, int opset) throws OnnxFormatException {
        Set<String> allowed = ATTRIBUTES.get(n.op());
        if (allowed == null)
            throw n.unsupported(null, "operator " + n.op() + " is not supported (rnn4j runs " + String.join(", ", new java.util.TreeSet<>(ATTRIBUTES.keySet())) + ")");
        for (String a : n.attrs().keySet())
            if (!allowed.contains(a)) throw n.unsupported(a, "attribute not supported");
        switch (n.op()) {
            case "LSTM", "GRU", "RNN" -> Recurrent.validate(n);
            case "Constant" -> {
                if (n.attrs().size() != 1) throw new OnnxFormatException("node '" + n.name() + "' (Constant): needs exactly one value attribute, has " + n.attrs().keySet());
                if (n.has("value")) OnnxTensor.fromProto(n.attrs().get("value").getT(), "node '" + n.name() + "' (Constant) value");
            }
            case "ConstantOfShape" -> {
                if (n.has("value")) OnnxTensor.fromProto(n.attrs().get("value").getT(), "node '" + n.name() + "' (ConstantOfShape) value");
            }
            case "Cast" -> {
                if (OnnxTensor.DataType.ofCode((int) n.i("to", 0)) == null)
                    throw n.unsupported("to", "cast to " + OnnxTensor.typeName((int) n.i("to", 0)) + " is not supported (FLOAT, INT64, INT32 and BOOL are)");
            }
            case "ScatterElements" -> {
                String r = n.s("reduction", "none");
                if (!Set.of("none", "add", "mul", "max", "min").contains(r)) throw n.unsupported("reduction", "unknown reduction '" + r + "'");
            }
            default -> { }
        }
    }

    /** Runs a node on its inputs (null for an absent optional one); returns one value per output. */
    static Value[] run(Node n, Value[] in, Run run) {
        return switch (n.op()) {
            case "LSTM", "GRU", "RNN" -> Recurrent.run(n, in, run);
            case "Identity" -> new Value[]{in[0]};
            case "Gather" -> one(gather(n, in[0], in[1], run));
            case "MatMul" -> one(matMul(n, in[0], in[1], run));
            case "Gemm" -> one(gemm(n, in, run));
            case "Add", "Sub", "Mul", "Div" -> one(binary(n, in[0], in[1]));
            case "Sigmoid", "Tanh", "Relu" -> one(unary(n, in[0]));
            case "Softmax", "LogSoftmax" -> one(softmax(n, in[0], run.opset));
            case "Transpose" -> one(transpose(n, in[0]));
            case "Reshape" -> one(reshape(n, in[0], in[1]));
            case "Squeeze" -> one(squeeze(n, in, run.opset));
            case "Unsqueeze" -> one(unsqueeze(n, in, run.opset));
            case "Concat" -> one(concat(n, in));
            case "Slice" -> one(slice(n, in, run.opset));
            case "Split" -> split(n, in, run.opset);
            case "Shape" -> one(shape(n, in[0]));
            case "Constant" -> one(constant(n));
            case "ConstantOfShape" -> one(constantOfShape(n, in[0]));
            case "Cast" -> one(cast(n, in[0]));
            case "Expand" -> one(expand(n, in[0], in[1]));
            case "TopK" -> topK(n, in, run.opset);
            case "ScatterElements" -> one(scatterElements(n, in[0], in[1], in[2]));
            default -> throw n.bad("operator not supported");
        };
    }

    private static Value[] one(Value v) { return new Value[]{v}; }

    // ------------------------------------------------------------------ helpers

    static int axis(Node n, long axis, int rank) {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.max(rank, 1) && !(rank == 0 && a == 0))
            throw n.bad("axis " + axis + " is out of range for rank " + rank);
        return (int) a;
    }

    static int prod(int[] s, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) p *= s[i];
        return (int) p;
    }

    static int[] strides(int[] s) {
        int[] st = new int[s.length];
        int acc = 1;
        for (int i = s.length - 1; i >= 0; i--) {
            st[i] = acc;
            acc *= s[i];
        }
        return st;
    }

    static long[] ints(Node n, Value v, String what) {
        if (v == null) throw n.bad(what + " is missing");
        if (v.type == DataType.FLOAT) throw n.bad(what + " must be an integer tensor, is FLOAT");
        return v.l();
    }

    static int[] toShape(Node n, long[] l) {
        int[] s = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            if (l[i] < 0 || l[i] > Integer.MAX_VALUE) throw n.bad("dimension " + l[i] + " in shape " + Arrays.toString(l));
            s[i] = (int) l[i];
        }
        return s;
    }

    /** An empty value of {@code type} with {@code shape}. */
    static Value make(DataType type, int[] shape, int n) {
        return type == DataType.FLOAT ? Value.floats(new float[n], shape) : Value.longs(type, new long[n], shape);
    }

    /** out[i] = in[src[i]] for every i, for either storage. */
    static Value gatherFlat(Value in, int[] shape, int[] src) {
        if (in.type == DataType.FLOAT) {
            float[] f = in.f(), o = new float[src.length];
            for (int i = 0; i < src.length; i++) o[i] = f[src[i]];
            return Value.floats(o, shape);
        }
        long[] l = in.l(), o = new long[src.length];
        for (int i = 0; i < src.length; i++) o[i] = l[src[i]];
        return Value.longs(in.type, o, shape);
    }

    /** Multidirectional (numpy) broadcasting of two shapes. */
    static int[] broadcast(Node n, int[] a, int[] b) {
        int r = Math.max(a.length, b.length);
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i - (r - a.length) >= 0 ? a[i - (r - a.length)] : 1;
            int db = i - (r - b.length) >= 0 ? b[i - (r - b.length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw n.bad("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast");
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** For each element of {@code out}, the index of the element of {@code s} it broadcasts from. */
    static int[] broadcastIndex(int[] s, int[] out) {
        int total = prod(out, 0, out.length);
        int[] idx = new int[total];
        int off = out.length - s.length;
        int[] st = strides(s);
        int[] c = new int[out.length];
        for (int i = 0; i < total; i++) {
            int k = 0;
            for (int d = 0; d < s.length; d++) if (s[d] != 1) k += c[d + off] * st[d];
            idx[i] = k;
            for (int d = out.length - 1; d >= 0; d--) {
                if (++c[d] < out[d]) break;
                c[d] = 0;
            }
        }
        return idx;
    }

    // ------------------------------------------------------------------ arithmetic

    static Value binary(Node n, Value a, Value b) {
        if (a.type != b.type) throw n.bad("inputs of types " + a.type + " and " + b.type + " (they must match)");
        int[] out = broadcast(n, a.shape, b.shape);
        int[] ia = broadcastIndex(a.shape, out), ib = broadcastIndex(b.shape, out);
        int total = ia.length;
        if (a.type == DataType.FLOAT) {
            float[] x = a.f(), y = b.f(), o = new float[total];
            switch (n.op()) {
                case "Add" -> { for (int i = 0; i < total; i++) o[i] = x[ia[i]] + y[ib[i]]; }
                case "Sub" -> { for (int i = 0; i < total; i++) o[i] = x[ia[i]] - y[ib[i]]; }
                case "Mul" -> { for (int i = 0; i < total; i++) o[i] = x[ia[i]] * y[ib[i]]; }
                default -> { for (int i = 0; i < total; i++) o[i] = x[ia[i]] / y[ib[i]]; }
            }
            return Value.floats(o, out);
        }
        long[] x = a.l(), y = b.l(), o = new long[total];
        for (int i = 0; i < total; i++) {
            long p = x[ia[i]], q = y[ib[i]];
            o[i] = switch (n.op()) {
                case "Add" -> p + q;
                case "Sub" -> p - q;
                case "Mul" -> p * q;
                default -> {
                    if (q == 0) throw n.bad("integer division by zero");
                    yield p / q;
                }
            };
        }
        return Value.longs(a.type, o, out);
    }

    static Value unary(Node n, Value a) {
        if (a.type != DataType.FLOAT) {
            if (!n.op().equals("Relu")) throw n.bad("input must be FLOAT, is " + a.type);
            long[] x = a.l(), o = new long[x.length];
            for (int i = 0; i < x.length; i++) o[i] = Math.max(x[i], 0);
            return Value.longs(a.type, o, a.shape);
        }
        float[] x = a.f(), o = new float[x.length];
        switch (n.op()) {
            case "Sigmoid" -> { for (int i = 0; i < x.length; i++) o[i] = (float) (1 / (1 + Math.exp(-x[i]))); }
            case "Tanh" -> { for (int i = 0; i < x.length; i++) o[i] = (float) Math.tanh(x[i]); }
            default -> { for (int i = 0; i < x.length; i++) o[i] = x[i] > 0 ? x[i] : 0f; }
        }
        return Value.floats(o, a.shape);
    }

    static Value softmax(Node n, Value a, int opset) {
        if (a.type != DataType.FLOAT) throw n.bad("input must be FLOAT, is " + a.type);
        int r = a.rank();
        boolean log = n.op().equals("LogSoftmax");
        int outer, len, inner;
        if (opset < 13) {
            // Before opset 13 the input is flattened to 2-D at axis and normalised over the second dimension.
            int ax = axis(n, n.i("axis", 1), r);
            outer = prod(a.shape, 0, ax);
            len = prod(a.shape, ax, r);
            inner = 1;
        } else {
            int ax = axis(n, n.i("axis", -1), r);
            outer = prod(a.shape, 0, ax);
            len = a.shape[ax];
            inner = prod(a.shape, ax + 1, r);
        }
        float[] x = a.f(), o = new float[x.length];
        for (int p = 0; p < outer; p++)
            for (int q = 0; q < inner; q++) {
                int base = p * len * inner + q;
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < len; k++) max = Math.max(max, x[base + k * inner]);
                double sum = 0;
                for (int k = 0; k < len; k++) sum += Math.exp(x[base + k * inner] - max);
                double lse = Math.log(sum);
                for (int k = 0; k < len; k++) {
                    double z = x[base + k * inner] - max;
                    o[base + k * inner] = (float) (log ? z - lse : Math.exp(z - lse));
                }
            }
        return Value.floats(o, a.shape);
    }

    // ------------------------------------------------------------------ device operators

    static Value gather(Node n, Value data, Value indices, Run run) {
        int r = data.rank();
        if (r == 0) throw n.bad("data must have rank 1 or more");
        int ax = axis(n, n.i("axis", 0), r);
        long[] idx = ints(n, indices, "indices");
        int dim = data.shape[ax];
        int[] out = new int[r - 1 + indices.rank()];
        System.arraycopy(data.shape, 0, out, 0, ax);
        System.arraycopy(indices.shape, 0, out, ax, indices.rank());
        System.arraycopy(data.shape, ax + 1, out, ax + indices.rank(), r - ax - 1);
        int[] ids = new int[idx.length];
        for (int i = 0; i < idx.length; i++) {
            long k = idx[i] < 0 ? idx[i] + dim : idx[i];
            if (k < 0 || k >= dim) throw n.bad("index " + idx[i] + " is out of range for a dimension of " + dim);
            ids[i] = (int) k;
        }
        int inner = prod(data.shape, ax + 1, r), outer = prod(data.shape, 0, ax);
        if (data.type == DataType.FLOAT && ax == 0 && out.length > 0 && ids.length > 0 && inner > 0) {
            // Rows of an embedding table: one device gather (the embedding lookup).
            Tensor table = data.dev(run.device, run);
            Tensor o = run.own(run.device.zeros(out));
            DeviceAccess.backend(run.device).embeddingForward(ids, 0, ids.length, inner, DeviceAccess.buffer(table), 0, DeviceAccess.buffer(o), 0);
            return Value.of(o, out);
        }
        int[] src = new int[outer * ids.length * inner];
        int w = 0;
        for (int p = 0; p < outer; p++)
            for (int id : ids)
                for (int q = 0; q < inner; q++) src[w++] = (p * dim + id) * inner + q;
        return gatherFlat(data, out, src);
    }

    static Value matMul(Node n, Value a, Value b, Run run) {
        if (a.type != DataType.FLOAT || b.type != DataType.FLOAT) throw n.bad("inputs must be FLOAT, are " + a.type + " and " + b.type);
        if (a.rank() == 0 || b.rank() == 0) throw n.bad("inputs must have rank 1 or more");
        int[] as = a.rank() == 1 ? new int[]{1, a.shape[0]} : a.shape;
        int[] bs = b.rank() == 1 ? new int[]{b.shape[0], 1} : b.shape;
        int m = as[as.length - 2], k = as[as.length - 1], k2 = bs[bs.length - 2], nn = bs[bs.length - 1];
        if (k != k2) throw n.bad("shapes " + Arrays.toString(a.shape) + " and " + Arrays.toString(b.shape) + " cannot be multiplied");
        int[] batchA = Arrays.copyOf(as, as.length - 2), batchB = Arrays.copyOf(bs, bs.length - 2);
        int[] batch = broadcast(n, batchA, batchB);
        List<Integer> outShape = new ArrayList<>();
        for (int d : batch) outShape.add(d);
        if (a.rank() > 1) outShape.add(m);
        if (b.rank() > 1) outShape.add(nn);
        int[] out = outShape.stream().mapToInt(Integer::intValue).toArray();
        int nb = prod(batch, 0, batch.length);
        if (b.rank() == 2 && a.rank() >= 2 && (long) nb * m * k * nn > 0) {
            // x W: every row of every batch against one matrix, one GEMM on the device.
            Tensor x = a.dev(run.device, run), w = b.dev(run.device, run);
            Tensor o = run.own(run.device.zeros(out));
            DeviceAccess.backend(run.device).gemm(false, false, nb * m, nn, k, 1f, DeviceAccess.buffer(x), 0, k, DeviceAccess.buffer(w), 0, nn, 0f,
                    DeviceAccess.buffer(o), 0, nn, 1, 0, 0, 0);
            return Value.of(o, out);
        }
        float[] x = a.f(), y = b.f(), o = new float[nb * m * nn];
        int[] ia = broadcastIndex(batchA, batch), ib = broadcastIndex(batchB, batch);
        for (int p = 0; p < nb; p++) {
            int xo = ia[p] * m * k, yo = ib[p] * k * nn, oo = p * m * nn;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < nn; j++) {
                    double s = 0;
                    for (int q = 0; q < k; q++) s += (double) x[xo + i * k + q] * y[yo + q * nn + j];
                    o[oo + i * nn + j] = (float) s;
                }
        }
        return Value.floats(o, out);
    }

    static Value gemm(Node n, Value[] in, Run run) {
        Value a = in[0], b = in[1], c = in.length > 2 ? in[2] : null;
        if (a.rank() != 2 || b.rank() != 2) throw n.bad("A and B must be matrices, are " + a + " and " + b);
        if (a.type != DataType.FLOAT || b.type != DataType.FLOAT || c != null && c.type != DataType.FLOAT) throw n.bad("inputs must be FLOAT");
        boolean ta = n.i("transA", 0) != 0, tb = n.i("transB", 0) != 0;
        float alpha = n.f("alpha", 1f), beta = n.f("beta", 1f);
        int m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1];
        int k2 = tb ? b.shape[1] : b.shape[0], nn = tb ? b.shape[0] : b.shape[1];
        if (k != k2) throw n.bad("A " + Arrays.toString(a.shape) + " and B " + Arrays.toString(b.shape) + " do not match");
        int[] out = {m, nn};
        if (c != null) {
            int[] bc = broadcast(n, c.shape, out);
            if (!Arrays.equals(bc, out)) throw n.bad("C " + Arrays.toString(c.shape) + " does not broadcast to " + Arrays.toString(out));
        }
        boolean rowBias = c == null || beta == 0 || (beta == 1 && c.numel() == nn && (c.rank() == 1 || c.shape[0] == 1));
        if (rowBias && (long) m * nn * k > 0) {
            Tensor x = a.dev(run.device, run), w = b.dev(run.device, run);
            Tensor o = run.own(run.device.zeros(out));
            DeviceAccess.backend(run.device).gemm(ta, tb, m, nn, k, alpha, DeviceAccess.buffer(x), 0, a.shape[1], DeviceAccess.buffer(w), 0, b.shape[1], 0f,
                    DeviceAccess.buffer(o), 0, nn, 1, 0, 0, 0);
            if (c != null && beta != 0) DeviceAccess.backend(run.device).addRowVector(m, nn, DeviceAccess.buffer(c.dev(run.device, run)), 0, DeviceAccess.buffer(o), 0, nn);
            return Value.of(o, out);
        }
        float[] x = a.f(), y = b.f(), o = new float[m * nn];
        int[] ic = c == null ? null : broadcastIndex(c.shape, out);
        float[] z = c == null ? null : c.f();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < nn; j++) {
                double s = 0;
                for (int q = 0; q < k; q++)
                    s += (double) x[ta ? q * a.shape[1] + i : i * a.shape[1] + q] * y[tb ? j * b.shape[1] + q : q * b.shape[1] + j];
                o[i * nn + j] = (float) (alpha * s + (z == null ? 0 : beta * z[ic[i * nn + j]]));
            }
        return Value.floats(o, out);
    }

    // ------------------------------------------------------------------ shapes

    static Value transpose(Node n, Value a) {
        int r = a.rank();
        long[] p = n.ints("perm");
        int[] perm = new int[r];
        if (p == null) for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
        else {
            if (p.length != r) throw n.bad("perm " + Arrays.toString(p) + " does not fit rank " + r);
            boolean[] seen = new boolean[r];
            for (int i = 0; i < r; i++) {
                if (p[i] < 0 || p[i] >= r || seen[(int) p[i]]) throw n.bad("perm " + Arrays.toString(p) + " is not a permutation");
                seen[(int) p[i]] = true;
                perm[i] = (int) p[i];
            }
        }
        int[] out = new int[r];
        for (int i = 0; i < r; i++) out[i] = a.shape[perm[i]];
        int[] st = strides(a.shape);
        int total = a.numel();
        int[] src = new int[total];
        int[] c = new int[r];
        for (int i = 0; i < total; i++) {
            int s = 0;
            for (int d = 0; d < r; d++) s += c[d] * st[perm[d]];
            src[i] = s;
            for (int d = r - 1; d >= 0; d--) {
                if (++c[d] < out[d]) break;
                c[d] = 0;
            }
        }
        return gatherFlat(a, out, src);
    }

    /** The same values under another shape (a view of a device tensor, the same array on the host). */
    static Value withShape(Node n, Value a, int[] shape) {
        if (OnnxTensor.numel(shape) != a.numel())
            throw n.bad("cannot reshape " + Arrays.toString(a.shape) + " to " + Arrays.toString(shape));
        if (a.onDevice() && shape.length > 0 && a.numel() > 0) {
            return Value.of(a.devView(shape), shape);
        }
        OnnxTensor h = a.host();
        return Value.of(a.type == DataType.FLOAT ? OnnxTensor.ofFloats(h.floats(), shape) : OnnxTensor.ofLongs(a.type, h.longs(), shape));
    }

    static Value reshape(Node n, Value a, Value shapeV) {
        long[] s = ints(n, shapeV, "shape");
        boolean allowZero = n.i("allowzero", 0) != 0;
        int[] out = new int[s.length];
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw n.bad("shape " + Arrays.toString(s) + " has more than one -1");
                infer = i;
                continue;
            }
            if (s[i] == 0 && !allowZero) {
                if (i >= a.rank()) throw n.bad("shape " + Arrays.toString(s) + " copies dimension " + i + " of a rank-" + a.rank() + " input");
                out[i] = a.shape[i];
            } else if (s[i] < 0) throw n.bad("shape " + Arrays.toString(s) + " has a negative dimension");
            else out[i] = (int) s[i];
            known *= out[i];
        }
        if (infer >= 0) {
            if (known == 0 || a.numel() % known != 0) throw n.bad("cannot reshape " + Arrays.toString(a.shape) + " to " + Arrays.toString(s));
            out[infer] = (int) (a.numel() / known);
        }
        return withShape(n, a, out);
    }

    private static long[] axesOf(Node n, Value[] in, int opset) {
        if (opset >= 13) return in.length > 1 && in[1] != null ? ints(n, in[1], "axes") : null;
        return n.ints("axes");
    }

    static Value squeeze(Node n, Value[] in, int opset) {
        Value a = in[0];
        long[] axes = axesOf(n, in, opset);
        boolean[] drop = new boolean[a.rank()];
        if (axes == null) for (int i = 0; i < a.rank(); i++) drop[i] = a.shape[i] == 1;
        else for (long ax : axes) {
            int d = axis(n, ax, a.rank());
            if (a.shape[d] != 1) throw n.bad("cannot squeeze dimension " + d + " of size " + a.shape[d]);
            drop[d] = true;
        }
        int[] out = java.util.stream.IntStream.range(0, a.rank()).filter(i -> !drop[i]).map(i -> a.shape[i]).toArray();
        return withShape(n, a, out);
    }

    static Value unsqueeze(Node n, Value[] in, int opset) {
        Value a = in[0];
        long[] axes = axesOf(n, in, opset);
        if (axes == null) throw n.bad("axes are missing");
        int r = a.rank() + axes.length;
        boolean[] ins = new boolean[r];
        for (long ax : axes) {
            int d = axis(n, ax, r);
            if (ins[d]) throw n.bad("axis " + ax + " given twice");
            ins[d] = true;
        }
        int[] out = new int[r];
        for (int i = 0, j = 0; i < r; i++) out[i] = ins[i] ? 1 : a.shape[j++];
        return withShape(n, a, out);
    }

    static Value concat(Node n, Value[] in) {
        List<Value> vs = Arrays.stream(in).filter(v -> v != null).toList();
        if (vs.isEmpty()) throw n.bad("no inputs");
        Value f = vs.get(0);
        int r = f.rank();
        int ax = axis(n, n.i("axis", 0), r);
        int[] out = f.shape.clone();
        out[ax] = 0;
        for (Value v : vs) {
            if (v.type != f.type || v.rank() != r) throw n.bad("inputs " + v + " and " + f + " cannot be concatenated");
            for (int d = 0; d < r; d++)
                if (d != ax && v.shape[d] != f.shape[d]) throw n.bad("inputs " + v + " and " + f + " differ outside axis " + ax);
            out[ax] += v.shape[ax];
        }
        int outer = prod(out, 0, ax), inner = prod(out, ax + 1, r);
        Value res = make(f.type, out, prod(out, 0, r));
        int w = 0;
        for (int p = 0; p < outer; p++)
            for (Value v : vs) {
                int block = v.shape[ax] * inner;
                if (f.type == DataType.FLOAT) System.arraycopy(v.f(), p * block, res.f(), w, block);
                else System.arraycopy(v.l(), p * block, res.l(), w, block);
                w += block;
            }
        return res;
    }

    static Value slice(Node n, Value[] in, int opset) {
        Value a = in[0];
        long[] starts, ends, axes, steps = null;
        if (opset < 10) {
            starts = n.ints("starts");
            ends = n.ints("ends");
            axes = n.ints("axes");
        } else {
            starts = ints(n, in[1], "starts");
            ends = ints(n, in[2], "ends");
            axes = in.length > 3 && in[3] != null ? ints(n, in[3], "axes") : null;
            steps = in.length > 4 && in[4] != null ? ints(n, in[4], "steps") : null;
        }
        if (starts == null || ends == null || starts.length != ends.length) throw n.bad("starts and ends must be given, of one length");
        int r = a.rank();
        int[] start = new int[r], step = new int[r], out = a.shape.clone();
        Arrays.fill(step, 1);
        boolean[] seen = new boolean[r];
        for (int i = 0; i < starts.length; i++) {
            int d = axis(n, axes == null ? i : axes[i], r);
            if (seen[d]) throw n.bad("axis " + d + " is sliced twice");
            seen[d] = true;
            long dim = a.shape[d], st = steps == null ? 1 : steps[i];
            if (st == 0) throw n.bad("a step is 0");
            long s = starts[i] < 0 ? starts[i] + dim : starts[i], e = ends[i] < 0 ? ends[i] + dim : ends[i];
            if (st > 0) {
                s = Math.clamp(s, 0, dim);
                e = Math.clamp(e, 0, dim);
                out[d] = (int) Math.max(0, (e - s + st - 1) / st);
            } else {
                s = Math.clamp(s, 0, dim - 1);
                e = Math.clamp(e, -1, dim - 1);
                out[d] = (int) Math.max(0, (s - e + (-st) - 1) / (-st));
            }
            start[d] = (int) s;
            step[d] = (int) st;
        }
        int total = prod(out, 0, r);
        int[] st = strides(a.shape), src = new int[total], c = new int[r];
        for (int i = 0; i < total; i++) {
            int k = 0;
            for (int d = 0; d < r; d++) k += (start[d] + c[d] * step[d]) * st[d];
            src[i] = k;
            for (int d = r - 1; d >= 0; d--) {
                if (++c[d] < out[d]) break;
                c[d] = 0;
            }
        }
        return gatherFlat(a, out, src);
    }

    static Value[] split(Node n, Value[] in, int opset) {
        Value a = in[0];
        int r = a.rank();
        int ax = axis(n, n.i("axis", 0), r);
        int parts = n.outputs().size();
        long[] sizes = opset >= 13 ? (in.length > 1 && in[1] != null ? ints(n, in[1], "split") : null) : n.ints("split");
        int dim = a.shape[ax];
        if (sizes == null) {
            int each = (dim + parts - 1) / parts;
            sizes = new long[parts];
            for (int i = 0; i < parts; i++) sizes[i] = Math.max(0, Math.min(each, dim - (long) each * i));
        }
        if (sizes.length != parts || Arrays.stream(sizes).sum() != dim || Arrays.stream(sizes).anyMatch(s -> s < 0))
            throw n.bad("split " + Arrays.toString(sizes) + " does not divide dimension " + ax + " of " + Arrays.toString(a.shape) + " into " + parts);
        Value[] out = new Value[parts];
        long at = 0;
        for (int i = 0; i < parts; i++) {
            long[] s = new long[r], e = new long[r];
            for (int d = 0; d < r; d++) e[d] = a.shape[d];
            s[ax] = at;
            e[ax] = at + sizes[i];
            at += sizes[i];
            out[i] = sliceRange(a, s, e);
        }
        return out;
    }

    private static Value sliceRange(Value a, long[] s, long[] e) {
        int r = a.rank();
        int[] out = new int[r];
        for (int d = 0; d < r; d++) out[d] = (int) (e[d] - s[d]);
        int total = prod(out, 0, r);
        int[] st = strides(a.shape), src = new int[total], c = new int[r];
        for (int i = 0; i < total; i++) {
            int k = 0;
            for (int d = 0; d < r; d++) k += (int) (s[d] + c[d]) * st[d];
            src[i] = k;
            for (int d = r - 1; d >= 0; d--) {
                if (++c[d] < out[d]) break;
                c[d] = 0;
            }
        }
        return gatherFlat(a, out, src);
    }

    static Value shape(Node n, Value a) {
        int r = a.rank();
        long s = n.i("start", 0), e = n.i("end", r);
        if (s < 0) s += r;
        if (e < 0) e += r;
        s = Math.clamp(s, 0, r);
        e = Math.clamp(e, 0, r);
        long[] out = new long[(int) Math.max(0, e - s)];
        for (int i = 0; i < out.length; i++) out[i] = a.shape[(int) s + i];
        return Value.longs(DataType.INT64, out, out.length);
    }

    static Value constant(Node n) {
        AttributeProto at = n.attrs().values().iterator().next();
        try {
            return switch (at.getName()) {
                case "value" -> Value.of(OnnxTensor.fromProto(at.getT(), "node '" + n.name() + "'"));
                case "value_float" -> Value.floats(new float[]{at.getF()});
                case "value_floats" -> {
                    float[] f = new float[at.getFloatsCount()];
                    for (int i = 0; i < f.length; i++) f[i] = at.getFloats(i);
                    yield Value.floats(f, f.length);
                }
                case "value_int" -> Value.longs(DataType.INT64, new long[]{at.getI()});
                default -> {
                    long[] l = n.ints("value_ints");
                    yield Value.longs(DataType.INT64, l, l.length);
                }
            };
        } catch (OnnxFormatException e) {
            throw n.bad(e.getMessage());
        }
    }

    static Value constantOfShape(Node n, Value shapeV) {
        int[] shape = toShape(n, ints(n, shapeV, "shape"));
        int total = (int) OnnxTensor.numel(shape);
        if (!n.has("value")) return Value.floats(new float[total], shape);
        OnnxTensor v;
        try {
            v = OnnxTensor.fromProto(n.attrs().get("value").getT(), "node '" + n.name() + "' value");
        } catch (OnnxFormatException e) {
            throw n.bad(e.getMessage());
        }
        if (v.numel() != 1) throw n.bad("value must hold one element, holds " + v.numel());
        if (v.dataType() == DataType.FLOAT) {
            float[] f = new float[total];
            Arrays.fill(f, v.floats()[0]);
            return Value.floats(f, shape);
        }
        long[] l = new long[total];
        Arrays.fill(l, v.longs()[0]);
        return Value.longs(v.dataType(), l, shape);
    }

    static Value cast(Node n, Value a) {
        DataType to = DataType.ofCode((int) n.i("to", 0));
        if (to == a.type) return a;
        int total = a.numel();
        if (to == DataType.FLOAT) {
            long[] l = a.l();
            float[] f = new float[total];
            for (int i = 0; i < total; i++) f[i] = l[i];
            return Value.floats(f, a.shape);
        }
        long[] o = new long[total];
        if (a.type == DataType.FLOAT) {
            float[] f = a.f();
            for (int i = 0; i < total; i++) o[i] = to == DataType.BOOL ? (f[i] != 0 ? 1 : 0) : to == DataType.INT32 ? (int) f[i] : (long) f[i];
        } else {
            long[] l = a.l();
            for (int i = 0; i < total; i++) o[i] = to == DataType.BOOL ? (l[i] != 0 ? 1 : 0) : to == DataType.INT32 ? (int) l[i] : l[i];
        }
        return Value.longs(to, o, a.shape);
    }

    static Value expand(Node n, Value a, Value shapeV) {
        int[] out = broadcast(n, a.shape, toShape(n, ints(n, shapeV, "shape")));
        return gatherFlat(a, out, broadcastIndex(a.shape, out));
    }

    static Value[] topK(Node n, Value[] in, int opset) {
        Value a = in[0];
        long k = opset >= 10 ? ints(n, in[1], "K")[0] : n.i("k", -1);
        int r = a.rank();
        int ax = axis(n, n.i("axis", -1), r);
        int dim = a.shape[ax];
        if (k < 0 || k > dim) throw n.bad("K = " + k + " for a dimension of " + dim);
        boolean largest = n.i("largest", 1) != 0;
        int outer = prod(a.shape, 0, ax), inner = prod(a.shape, ax + 1, r);
        int[] out = a.shape.clone();
        out[ax] = (int) k;
        int total = prod(out, 0, r);
        int[] src = new int[total];
        long[] ind = new long[total];
        double[] key = new double[dim];
        for (int p = 0; p < outer; p++)
            for (int q = 0; q < inner; q++) {
                for (int j = 0; j < dim; j++) {
                    int at = (p * dim + j) * inner + q;
                    key[j] = a.type == DataType.FLOAT ? a.f()[at] : a.l()[at];
                }
                // Equal values keep their index order (ONNX: the lower index first), hence a stable sort.
                Integer[] order = new Integer[dim];
                for (int j = 0; j < dim; j++) order[j] = j;
                Arrays.sort(order, (x, y) -> largest ? Double.compare(key[y], key[x]) : Double.compare(key[x], key[y]));
                for (int j = 0; j < k; j++) {
                    int w = (p * (int) k + j) * inner + q;
                    src[w] = (p * dim + order[j]) * inner + q;
                    ind[w] = order[j];
                }
            }
        return new Value[]{gatherFlat(a, out, src), Value.longs(DataType.INT64, ind, out)};
    }

    static Value scatterElements(Node n, Value data, Value indices, Value updates) {
        int r = data.rank();
        int ax = axis(n, n.i("axis", 0), r);
        long[] idx = ints(n, indices, "indices");
        if (!Arrays.equals(indices.shape, updates.shape) || indices.rank() != r)
            throw n.bad("indices " + Arrays.toString(indices.shape) + " and updates " + Arrays.toString(updates.shape) + " must have one shape of data's rank");
        if (updates.type != data.type) throw n.bad("updates are " + updates.type + ", data " + data.type);
        String red = n.s("reduction", "none");
        int[] st = strides(data.shape), c = new int[r];
        int dim = data.shape[ax];
        Value res = make(data.type, data.shape, data.numel());
        if (data.type == DataType.FLOAT) System.arraycopy(data.f(), 0, res.f(), 0, data.numel());
        else System.arraycopy(data.l(), 0, res.l(), 0, data.numel());
        for (int i = 0; i < idx.length; i++) {
            long j = idx[i] < 0 ? idx[i] + dim : idx[i];
            if (j < 0 || j >= dim) throw n.bad("index " + idx[i] + " is out of range for a dimension of " + dim);
            int t = 0;
            for (int d = 0; d < r; d++) {
                if (d != ax && c[d] >= data.shape[d]) throw n.bad("indices " + Arrays.toString(indices.shape) + " exceed data " + Arrays.toString(data.shape));
                t += (d == ax ? (int) j : c[d]) * st[d];
            }
            if (data.type == DataType.FLOAT) {
                float u = updates.f()[i], o = res.f()[t];
                res.f()[t] = switch (red) {
                    case "add" -> o + u;
                    case "mul" -> o * u;
                    case "max" -> Math.max(o, u);
                    case "min" -> Math.min(o, u);
                    default -> u;
                };
            } else {
                long u = updates.l()[i], o = res.l()[t];
                res.l()[t] = switch (red) {
                    case "add" -> o + u;
                    case "mul" -> o * u;
                    case "max" -> Math.max(o, u);
                    case "min" -> Math.min(o, u);
                    default -> u;
                };
            }
            for (int d = r - 1; d >= 0; d--) {
                if (++c[d] < indices.shape[d]) break;
                c[d] = 0;
            }
        }
        return res;
    }
}
