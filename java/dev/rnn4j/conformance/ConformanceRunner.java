package dev.rnn4j.conformance;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.CellGrads;
import dev.rnn4j.nn.CellOutput;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.GRUCell;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.LSTMCell;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.Parameter;
import dev.rnn4j.nn.RNN;
import dev.rnn4j.nn.RNNBase;
import dev.rnn4j.nn.RNNCell;
import dev.rnn4j.nn.RNNCellBase;
import dev.rnn4j.nn.RecurrentGrads;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;
import dev.rnn4j.nn.StateDictException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a {@link ConformanceCase} on a device: builds the layer the config describes, loads the
 * stored parameters strictly by name, runs forward in eval mode and compares {@code output},
 * {@code h_n}, {@code c_n} with the forward tolerance, then runs backward with the stored
 * upstream gradients and compares {@code grad_input}, {@code grad_h0}, {@code grad_c0} and every
 * {@code grad.<param>} with the gradient tolerance.
 *
 * <p>Every tensor the case implies must be in the file and every tensor in the file must be one
 * the case implies; otherwise the case fails, listing them, before anything runs. Nothing is
 * skipped silently.
 *
 * <p>Cells are stepped over time as the README's "Cells" section says: {@code h_t = cell(x_t,
 * h_{t-1})} for t = 0..T-1; backward walks t = T-1..0, feeding each step the upstream gradient
 * {@code grad_output[t]} plus the h (and c) gradient returned by the step after it
 * ({@code grad_h_n} / {@code grad_c_n} at the last step); the gradients the first step returns
 * for h and c are {@code grad_h0} and {@code grad_c0}.
 */
public final class ConformanceRunner {
    private ConformanceRunner() {}

    /** Runs one case; never throws for a failing layer (its exception becomes a problem in the result). */
    public static CaseResult run(ConformanceCase c, Device device) {
        if (c == null) throw new NullPointerException("conformance case is null");
        if (device == null) throw new NullPointerException("device is null");
        List<String> problems = new ArrayList<>();
        List<TensorResult> results = new ArrayList<>();
        String backend = device.name();
        Module module;
        try {
            module = build(c, device);
        } catch (RuntimeException e) {
            problems.add("cannot build the " + c.mode() + " module: " + describe(e));
            return new CaseResult(c.name(), c.file(), backend, results, problems);
        }
        try (module) {
            checkStructure(c, module, problems);
            if (!problems.isEmpty()) return new CaseResult(c.name(), c.file(), backend, results, problems);

            Map<String, HostTensor> state = new LinkedHashMap<>();
            for (String p : stateKeys(module)) state.put(p, c.tensor(p));
            try {
                module.loadStateDict(state);
            } catch (StateDictException e) {
                problems.add("parameters do not load: " + e.getMessage().replace("\n  ", " ").replace('\n', ' '));
                return new CaseResult(c.name(), c.file(), backend, results, problems);
            }
            module.eval();
            module.zeroGrad();

            Map<String, HostTensor> actual = new LinkedHashMap<>();
            try {
                if (c.mode().isCell()) runCell(c, module, device, actual);
                else runModule(c, module, device, actual);
                for (var e : module.namedParameters().entrySet()) {
                    Parameter p = e.getValue();
                    actual.put("grad." + e.getKey(), p.grad().toHost());
                }
            } catch (RuntimeException e) {
                problems.add("the module threw " + describe(e));
                return new CaseResult(c.name(), c.file(), backend, results, problems);
            }

            List<String> compared = new ArrayList<>(List.of("output", "h_n", "c_n", "grad_input", "grad_h0", "grad_c0"));
            for (String p : module.namedParameters().keySet()) compared.add("grad." + p);
            for (String name : compared) {
                HostTensor expected = c.tensor(name);
                if (expected == null) continue; // not part of this case (checkStructure made sure)
                HostTensor a = actual.get(name);
                results.add(TensorResult.compare(name, expected, a == null ? null : a.data(),
                        a == null ? null : a.shape(), c.toleranceFor(name)));
            }
        } catch (RuntimeException e) {
            problems.add("unexpected error: " + describe(e));
        }
        return new CaseResult(c.name(), c.file(), backend, results, problems);
    }

    // ------------------------------------------------------------------ building

    /** Builds the module the config describes (dropout 0; parameters are loaded afterwards). */
    public static Module build(ConformanceCase c, Device device) {
        if (c == null) throw new NullPointerException("conformance case is null");
        int in = c.inputSize(), h = c.hiddenSize();
        return switch (c.mode()) {
            case RNN_TANH, RNN_RELU -> RNN.builder(in, h)
                    .nonlinearity(c.mode() == ConformanceCase.Mode.RNN_TANH ? "tanh" : "relu")
                    .numLayers(c.numLayers()).bias(c.bias()).batchFirst(c.batchFirst())
                    .dropout(0).bidirectional(c.bidirectional()).build(device);
            case GRU -> GRU.builder(in, h)
                    .numLayers(c.numLayers()).bias(c.bias()).batchFirst(c.batchFirst())
                    .dropout(0).bidirectional(c.bidirectional()).build(device);
            case LSTM -> LSTM.builder(in, h)
                    .numLayers(c.numLayers()).bias(c.bias()).batchFirst(c.batchFirst())
                    .dropout(0).bidirectional(c.bidirectional()).projSize(c.projSize()).build(device);
            case SRU -> SRU.builder(in, h)
                    .numLayers(c.numLayers()).dropout(0).rnnDropout(0).bidirectional(c.bidirectional())
                    .useTanh(c.useTanh()).useRelu(c.useRelu()).build(device);
            case SRU2 -> SRU.builder(in, h).v1(false)
                    .numLayers(c.numLayers()).dropout(0).rnnDropout(0).bidirectional(c.bidirectional())
                    .useTanh(c.useTanh()).projectionSize(c.projectionSize()).layerNorm(c.layerNorm())
                    .normalizeAfter(c.normalizeAfter()).highwayBias(c.highwayBias()).hasSkipTerm(c.hasSkipTerm())
                    .rescale(c.rescale()).build(device);
            case RNNCell_TANH, RNNCell_RELU -> RNNCell.builder(in, h).bias(c.bias())
                    .nonlinearity(c.mode() == ConformanceCase.Mode.RNNCell_TANH ? "tanh" : "relu").build(device);
            case GRUCell -> GRUCell.builder(in, h).bias(c.bias()).build(device);
            case LSTMCell -> LSTMCell.builder(in, h).bias(c.bias()).build(device);
        };
    }

    /**
     * Names every tensor the case needs that the file lacks and every tensor of the file the case
     * does not use, checks the fixed tensors' shapes against the config, and (SRU) each layer's K.
     */
    static void checkStructure(ConformanceCase c, Module module, List<String> problems) {
        if (module instanceof SRU sru) {
            for (int i = 0; i < c.numLayers(); i++) {
                int got = sru.layers().get(i).k();
                if (got != c.k().get(i))
                    problems.add("SRU layer " + i + " has k=" + got + " but the config says k=" + c.k().get(i));
            }
        }
        Map<String, int[]> fixed = c.expectedShapes();
        List<String> expected = new ArrayList<>(fixed.keySet());
        List<String> params = new ArrayList<>(module.namedParameters().keySet());
        expected.addAll(stateKeys(module)); // the parameters, and buffers such as sru 2.x's scale_x
        for (String p : params) expected.add("grad." + p);

        List<String> missing = new ArrayList<>();
        for (String n : expected) if (c.tensor(n) == null) missing.add(n);
        List<String> unknown = new ArrayList<>();
        for (String n : c.tensors().keySet()) if (!expected.contains(n)) unknown.add(n);
        if (!missing.isEmpty()) problems.add("missing tensors: " + list(missing));
        if (!unknown.isEmpty()) problems.add("unknown tensors (not used by " + module + "): " + list(unknown));

        for (var e : fixed.entrySet()) {
            HostTensor t = c.tensor(e.getKey());
            if (t != null && !Arrays.equals(t.shape(), e.getValue()))
                problems.add("tensor " + e.getKey() + " has shape " + Shapes.str(t.shape())
                        + " but the config implies " + Shapes.str(e.getValue()));
        }
    }

    /** The module's state-dict keys: its parameters and, for an SRU, its buffers (scale_x). */
    private static List<String> stateKeys(Module module) {
        if (module instanceof SRU) return new ArrayList<>(module.stateDict().keySet());
        return new ArrayList<>(module.namedParameters().keySet());
    }

    /** Up to 12 names, then a count, so one line stays readable. */
    private static String list(List<String> names) {
        int shown = Math.min(names.size(), 12);
        String s = String.join(", ", names.subList(0, shown));
        return names.size() > shown ? s + " and " + (names.size() - shown) + " more" : s;
    }

    // ------------------------------------------------------------------ running

    private static Tensor upload(Device device, ConformanceCase c, String name) {
        HostTensor t = c.tensor(name);
        return t == null ? null : device.tensor(t);
    }

    private static HostTensor host(Tensor t) { return t == null ? null : t.toHost(); }

    private static void runModule(ConformanceCase c, Module module, Device device, Map<String, HostTensor> actual) {
        boolean h0 = c.hasH0();
        int[] lengths = c.lengths();
        try (Tensor x = upload(device, c, "input");
             Tensor hInit = h0 && c.mode().hasH() ? upload(device, c, "h0") : null;
             Tensor cInit = h0 && c.mode().hasC() ? upload(device, c, "c0") : null;
             RecurrentOutput out = switch (module) {
                 case RNNBase m -> m.forwardStates(x, hInit, cInit, lengths);
                 case SRU m -> lengths == null ? m.forward(x, cInit) : m.forward(x, cInit, lengths);
                 default -> throw new IllegalStateException("not a sequence module: " + module);
             }) {
            actual.put("output", host(out.output()));
            if (c.mode().hasH()) actual.put("h_n", host(out.hN()));
            if (c.mode().hasC()) actual.put("c_n", host(out.cN()));

            try (Tensor gOut = upload(device, c, "grad_output");
                 Tensor gH = c.mode().hasH() ? upload(device, c, "grad_h_n") : null;
                 Tensor gC = c.mode().hasC() ? upload(device, c, "grad_c_n") : null;
                 RecurrentGrads g = switch (module) {
                     case RNNBase m -> m.backwardStates(out, gOut, gH, gC);
                     case SRU m -> m.backward(out, gOut, gC);
                     default -> throw new IllegalStateException("not a sequence module: " + module);
                 }) {
                actual.put("grad_input", host(g.input()));
                if (h0 && c.mode().hasH()) actual.put("grad_h0", host(g.h0()));
                if (h0 && c.mode().hasC()) actual.put("grad_c0", host(g.c0()));
            }
        }
    }

    private static void runCell(ConformanceCase c, Module module, Device device, Map<String, HostTensor> actual) {
        int seq = c.seqLen(), batch = c.batch(), in = c.inputSize(), hid = c.hiddenSize();
        if (!(module instanceof RNNCellBase cell)) throw new IllegalStateException("not a cell: " + module);
        boolean lstm = cell.hasCellState();
        int xStep = batch * in, hStep = batch * hid;
        float[] input = c.tensor("input").data();
        List<AutoCloseable> resources = new ArrayList<>();
        try {
            // Forward: keep every step's input and output alive until backward is done.
            Tensor h = c.hasH0() ? track(resources, upload(device, c, "h0")) : null;
            Tensor cs = c.hasH0() && lstm ? track(resources, upload(device, c, "c0")) : null;
            CellOutput[] outs = new CellOutput[seq];
            float[] output = new float[seq * hStep];
            for (int t = 0; t < seq; t++) {
                Tensor x = track(resources, device.tensor(Arrays.copyOfRange(input, t * xStep, (t + 1) * xStep), batch, in));
                CellOutput o = cell.forwardStates(x, h, cs);
                track(resources, o);
                outs[t] = o;
                System.arraycopy(o.h().toArray(), 0, output, t * hStep, hStep);
                h = o.h();
                cs = o.c();
            }
            actual.put("output", new HostTensor(new int[] {seq, batch, hid}, output));
            actual.put("h_n", host(outs[seq - 1].h()));
            if (lstm) actual.put("c_n", host(outs[seq - 1].c()));

            // Backward, last step first.
            float[] gradOutput = c.tensor("grad_output").data();
            float[] gh = add(Arrays.copyOfRange(gradOutput, (seq - 1) * hStep, seq * hStep), c.tensor("grad_h_n").data());
            float[] gc = lstm ? c.tensor("grad_c_n").data().clone() : null;
            float[] gradInput = new float[seq * xStep];
            for (int t = seq - 1; t >= 0; t--) {
                try (Tensor ghT = device.tensor(gh, batch, hid);
                     Tensor gcT = gc == null ? null : device.tensor(gc, batch, hid);
                     CellGrads g = cell.backwardStates(outs[t], ghT, gcT)) {
                    if (g.input() == null) throw new IllegalStateException("cell backward returned no input gradient at t=" + t);
                    System.arraycopy(g.input().toArray(), 0, gradInput, t * xStep, xStep);
                    float[] dh = g.h() == null ? null : g.h().toArray();
                    float[] dc = g.c() == null ? null : g.c().toArray();
                    if (t > 0) {
                        if (dh == null) throw new IllegalStateException("cell backward returned no h gradient at t=" + t);
                        if (lstm && dc == null) throw new IllegalStateException("cell backward returned no c gradient at t=" + t);
                        gh = add(Arrays.copyOfRange(gradOutput, (t - 1) * hStep, t * hStep), dh);
                        gc = dc;
                    } else if (c.hasH0()) {
                        actual.put("grad_h0", dh == null ? null : new HostTensor(new int[] {batch, hid}, dh));
                        if (lstm) actual.put("grad_c0", dc == null ? null : new HostTensor(new int[] {batch, hid}, dc));
                    }
                }
            }
            actual.put("grad_input", new HostTensor(new int[] {seq, batch, in}, gradInput));
        } finally {
            java.util.Collections.reverse(resources);
            dev.rnn4j.nn.Closeables.closeAll(resources.toArray(new AutoCloseable[0]));
        }
    }

    private static <T extends AutoCloseable> T track(List<AutoCloseable> resources, T r) {
        if (r != null) resources.add(r);
        return r;
    }

    /** a += b elementwise; returns a. */
    private static float[] add(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) a[i] += b[i];
        return a;
    }

    static String describe(Throwable e) {
        String msg = e.getMessage();
        String first = msg == null ? "" : msg.lines().findFirst().orElse("");
        return e.getClass().getSimpleName() + (first.isEmpty() ? "" : ": " + first);
    }
}
