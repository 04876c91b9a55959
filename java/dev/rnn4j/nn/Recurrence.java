package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;

/**
 * One direction of one recurrent layer (Elman RNN, LSTM, GRU), forward and backward, written
 * only over {@link Backend} primitives so that every backend runs the same layer code. The
 * modules ({@link RNNBase}) call it once per layer and direction; the cells
 * ({@link RNNCellBase}) call it with one time step.
 *
 * <p>The split follows cuDNN: one GEMM computes the input projections of all T*B rows at once
 * (then one pass adds b_ih + b_hh, summed first);
 * each time step then does one small GEMM with the recurrent weights and one fused pointwise
 * primitive. Backward runs the pointwise backward primitive and one GEMM per step (in reverse),
 * then computes dX, dW_ih, dW_hh and the bias gradients with single GEMMs and column sums over
 * all time steps.
 *
 * <p>Layout of what forward keeps ({@link State}). The hidden states live in {@code h}, a
 * (T+1, B, H_out) tensor of "slots" indexed so that both the states a step reads and the states
 * it writes are contiguous in time order, whatever the direction:
 * <ul>
 * <li>forward direction: slot 0 = h0, slot t+1 = h_t; step t reads slot t;
 * <li>reverse direction: slot T = h0, slot t = h_t; step t reads slot t+1.
 * </ul>
 * So the outputs are slots [first output, +T) and the previous states slots [first previous, +T),
 * each a (T*B, H_out) matrix in time order; that makes dW_hh one GEMM and the copy of the
 * output into the layer output one {@code copy2d}. The LSTM cell states {@code c} use the same
 * slots. All per-step gradients (dG) are also stored in time order.
 *
 * <p>Variable lengths ({@link Packing}): the batch is sorted by length, step t runs on the first
 * b_t rows of its slots, and the whole-sequence matrices (x, gates, dG, dX) are packed: step t's
 * rows start at row {@code offset(t)}, N rows in all, so no GEMM touches a padded step. A full
 * batch is the packing with b_t = B, offset t*B: the layout above.
 */
final class Recurrence {

    /** The parameters of one layer and direction; the biases, weight_hr and the cell's own parameter may be null. */
    record Weights(Parameter ih, Parameter hh, Parameter biasIh, Parameter biasHh, Parameter hr, Parameter own) {
        /**
         * Registers on {@code m}, in PyTorch's order and under its names with {@code suffix}:
         * weight_ih (G*H, inW), weight_hh (the cell's shape: (G*H, H_out)), bias_ih and bias_hh (G*H)
         * if {@code bias} (bias_hh where the cell has it),
         * and weight_hr (H_out, H) if the LSTM projects (H_out != H); then the cell's own
         * parameter, if it has one ({@link CellType#ownParameter}).
         */
        static Weights register(Module m, CellType kind, String suffix, int inW, int hidden, int hOut, boolean bias) {
            if ((long) (kind.gates + 1) * hidden > Integer.MAX_VALUE)
                throw new IllegalArgumentException("hiddenSize " + hidden + " is too large: " + (kind.gates + 1)
                        + " * hiddenSize must fit an int");
            int gh = kind.gates * hidden;
            Parameter wih = m.registerParameter("weight_ih" + suffix, gh, inW);
            Parameter whh = m.registerParameter("weight_hh" + suffix, kind.recurrentWeightShape(gh, hOut));
            Parameter bih = bias ? m.registerParameter("bias_ih" + suffix, gh) : null;
            Parameter bhh = bias && kind.hasHiddenBias() ? m.registerParameter("bias_hh" + suffix, gh) : null;
            Parameter whr = hOut != hidden ? m.registerParameter("weight_hr" + suffix, hOut, hidden) : null;
            String own = kind.ownParameter();
            Parameter extra = own == null ? null : m.registerParameter(own + suffix, kind.ownParameterShape(hidden));
            return new Weights(wih, whh, bih, bhh, whr, extra);
        }
    }

    /** What forward keeps for backward, for one layer and direction. */
    static final class State implements AutoCloseable {
        /** (T+1, B, H_out) hidden-state slots (see the class comment). */
        Tensor h;
        /** LSTM: (T+1, B, H) cell-state slots; else null. */
        Tensor c;
        /** LSTM: activated gates i, f, g, o (T, B, 4H); GRU: r, z, n, gh_n (T, B, 4H); RNN: null. */
        Tensor gates;
        /** LSTM with projection: o * tanh(c) before the projection (T, B, H); else null. */
        Tensor hraw;

        @Override
        public void close() { Closeables.closeAll(h, c, gates, hraw); }
    }

    private final Device device;
    private final Backend be;
    private final CellType kind;
    private final int steps, batch, inW, hidden, hOut;
    private final boolean proj;
    /** Which rows take part in each step; the whole-sequence matrices (x, gates, dG) are packed this way. */
    private final Packing pk;

    /**
     * @param inW   width of the layer input (input_size, or D*H_out above layer 0)
     * @param hOut  width of h: proj_size if the LSTM projects, else hidden
     */
    Recurrence(Device device, CellType kind, int steps, int batch, int inW, int hidden, int hOut) {
        this(device, kind, Packing.full(steps, batch), inW, hidden, hOut);
    }

    /**
     * A recurrence over a variable-length batch: the sequences are in {@code pk}'s sorted order,
     * and the layer input, the outputs and their gradients are packed (N, width) matrices (see
     * {@link Packing}); h0, c0, h_n, c_n and their gradients stay (B, width) in sorted order.
     */
    Recurrence(Device device, CellType kind, Packing pk, int inW, int hidden, int hOut) {
        this.pk = pk;
        int steps = pk.steps, batch = pk.batch;
        this.device = device;
        this.be = DeviceAccess.backend(device);
        this.kind = kind;
        this.steps = steps;
        this.batch = batch;
        this.inW = inW;
        this.hidden = hidden;
        this.hOut = hOut;
        this.proj = hOut != hidden;
    }

    private static DeviceBuffer buf(Parameter p) { return DeviceAccess.buffer(p.value()); }

    /** A step description with what stays the same across the steps of one direction. */
    private CellType.Step step(Weights w, DeviceBuffer hb, State st) {
        CellType.Step s = new CellType.Step();
        s.be = be;
        s.hidden = hidden;
        s.hOut = hOut;
        s.gh = kind.gates * hidden;
        s.proj = proj;
        s.w = w;
        s.whh = buf(w.hh());
        s.biasHh = w.biasHh() != null && kind.takesHiddenBias() ? buf(w.biasHh()) : null;
        s.h = hb;
        s.c = st.c == null ? null : DeviceAccess.buffer(st.c);
        s.saved = st.gates == null ? null : DeviceAccess.buffer(st.gates);
        s.hraw = st.hraw == null ? null : DeviceAccess.buffer(st.hraw);
        return s;
    }

    private int outSlot(int t, boolean reverse) { return reverse ? t : t + 1; }

    private int prevSlot(int t, boolean reverse) { return reverse ? t + 1 : t; }

    /**
     * Runs the recurrence over the layer input {@code x} ((T*B, inW) rows, time-major,
     * contiguous). h0 (B, H_out) and c0 (B, H) are read at the given offsets; null means zeros.
     * The caller owns the returned state.
     */
    State forward(Weights w, boolean reverse, DeviceBuffer x,
                  DeviceBuffer h0, long h0Off, DeviceBuffer c0, long c0Off) {
        final int T = steps, B = batch, H = hidden, GH = kind.gates * H;
        final int TB = pk.total;
        State st = new State();
        Tensor gx = null, gh = null, bias = null, work = null;
        boolean ok = false;
        try {
            st.h = Tensor.zeros(device, T + 1, B, hOut);
            DeviceBuffer hb = DeviceAccess.buffer(st.h);
            long hSlot = (long) B * hOut, cSlot = (long) B * H;
            if (h0 != null) be.copy(h0, h0Off, hb, (reverse ? T : 0) * hSlot, hSlot);
            if (kind.hasCellState()) {
                st.c = Tensor.zeros(device, T + 1, B, H);
                if (c0 != null) be.copy(c0, c0Off, DeviceAccess.buffer(st.c), (reverse ? T : 0) * cSlot, cSlot);
                if (proj) st.hraw = Tensor.zeros(device, TB, H);
            }

            // Input projections of every time step at once: gx = X W_ih^T (+ biases).
            gx = Tensor.zeros(device, TB, GH);
            DeviceBuffer g = DeviceAccess.buffer(gx);
            be.gemm(false, true, TB, GH, inW, 1f, x, 0, inW, buf(w.ih()), 0, inW,
                    0f, g, 0, GH, 1, 0, 0, 0);
            // b_hh outside the nonlinearity folds into gx (RNN, LSTM); where it sits inside a gate
            // (the GRU's b_hn in r * (W_hn h + b_hn)) the cell adds it to the per-step product.
            // Both biases go in as one vector b_ih + b_hh: one pass over gx (T*B x G*H) instead of two.
            boolean foldHh = w.biasHh() != null && kind.foldsHiddenBias();
            if (w.biasIh() != null && foldHh) {
                bias = Tensor.zeros(device, GH);
                be.copy(buf(w.biasIh()), 0, DeviceAccess.buffer(bias), 0, GH);
                be.axpy(GH, 1f, buf(w.biasHh()), 0, DeviceAccess.buffer(bias), 0);
                be.addRowVector(TB, GH, DeviceAccess.buffer(bias), 0, g, 0, GH);
            } else if (w.biasIh() != null) {
                be.addRowVector(TB, GH, buf(w.biasIh()), 0, g, 0, GH);
            } else if (foldHh) {
                be.addRowVector(TB, GH, buf(w.biasHh()), 0, g, 0, GH);
            }

            int saved = kind.savedWidth() * H;
            // The whole recurrence as one op where the backend has it (it prepares W_hh once per
            // call); the LSTM's projection stays on the per-step path.
            boolean whole = kind.fuses(proj) && be.supports(Op.RecurrentForward.class);
            if (saved > 0) st.gates = Tensor.zeros(device, TB, saved);
            if (!whole && kind.productInScratch()) gh = Tensor.zeros(device, B, GH);
            if (!whole && kind.workWidth() > 0) work = Tensor.zeros(device, B, kind.workWidth() * H);
            if (whole) {
                int[] rows = new int[T];
                for (int t = 0; t < T; t++) rows[t] = pk.size(t);
                if (reverse) startReverseSequences(st, h0, h0Off, c0, c0Off);
                be.run(new Op.RecurrentForward(kind, B, H, rows, reverse, g, 0, buf(w.hh()), 0,
                        kind.foldsHiddenBias() || w.biasHh() == null ? null : buf(w.biasHh()), 0,
                        hb, 0, st.c == null ? null : DeviceAccess.buffer(st.c), 0, saved > 0 ? DeviceAccess.buffer(st.gates) : null, 0));
                if (kind.keepsGates()) {
                    st.gates = gx;
                    gx = null;
                }
                ok = true;
                return st;
            }
            CellType.Step step = step(w, hb, st);
            step.scratch = gh == null ? null : DeviceAccess.buffer(gh);
            step.work = work == null ? null : DeviceAccess.buffer(work);
            step.g = g;
            for (int s = 0; s < T; s++) {
                int t = reverse ? T - 1 - s : s;
                int rows = pk.size(t);
                if (rows == 0) continue;   // every sequence ended before t: no work at all
                if (reverse && t < T - 1 && rows > pk.size(t + 1)) {
                    // Sequences whose last step is t start the reverse direction here, from their
                    // initial state: put it where this step reads h_{t+1} (a padded slot, never output).
                    int from = pk.size(t + 1), n = rows - from;
                    if (h0 != null) be.copy(h0, h0Off + from * (long) hOut, hb, prevSlot(t, true) * hSlot + from * (long) hOut, (long) n * hOut);
                    if (c0 != null) be.copy(c0, c0Off + from * (long) H, DeviceAccess.buffer(st.c), prevSlot(t, true) * cSlot + from * (long) H, (long) n * H);
                }
                long row = pk.offset(t);
                step.rows = rows;
                step.gOff = row * GH;
                step.prevH = prevSlot(t, reverse) * hSlot;
                step.outH = outSlot(t, reverse) * hSlot;
                step.prevC = prevSlot(t, reverse) * cSlot;
                step.outC = outSlot(t, reverse) * cSlot;
                step.savedOff = row * saved;
                step.hrawOff = row * H;
                kind.forward(step);
            }
            // The step turned gx into the activated gates, which backward needs.
            if (kind.keepsGates()) {
                st.gates = gx;
                gx = null;
            }
            ok = true;
            return st;
        } finally {
            Closeables.closeAll(gx, gh, bias, work);
            if (!ok) st.close();
        }
    }

    /**
     * Reverse direction with lengths: each sequence whose last step t is before T-1 starts there
     * from its initial state, which goes where step t reads h_{t+1} (rows [b_{t+1}, b_t) of slot
     * t+1: a padded slot that no step writes). h0 / c0 null: those rows stay zero.
     */
    private void startReverseSequences(State st, DeviceBuffer h0, long h0Off, DeviceBuffer c0, long c0Off) {
        long hSlot = (long) batch * hOut, cSlot = (long) batch * hidden;
        for (int t = 0; t < steps - 1; t++) {
            int from = pk.size(t + 1), n = pk.size(t) - from;
            if (n <= 0) continue;
            if (h0 != null) be.copy(h0, h0Off + from * (long) hOut, DeviceAccess.buffer(st.h), prevSlot(t, true) * hSlot + from * (long) hOut, (long) n * hOut);
            if (c0 != null) be.copy(c0, c0Off + from * (long) hidden, DeviceAccess.buffer(st.c), prevSlot(t, true) * cSlot + from * (long) hidden, (long) n * hidden);
        }
    }

    /**
     * Copies this direction's outputs h_t, packed, into columns [yCol, yCol + H_out) of the
     * (N, ldY) matrix {@code y}: one copy for a full batch, one per step otherwise.
     */
    void copyOutputs(State st, boolean reverse, DeviceBuffer y, long yCol, int ldY) {
        long hSlot = (long) batch * hOut;
        if (pk.isFull()) {
            be.copy2d(pk.total, hOut, DeviceAccess.buffer(st.h), outputsOffset(reverse), hOut, y, yCol, ldY);
            return;
        }
        for (int t = 0; t < steps; t++)
            if (pk.size(t) > 0)
                be.copy2d(pk.size(t), hOut, DeviceAccess.buffer(st.h), outSlot(t, reverse) * hSlot, hOut, y, yCol + pk.offset(t) * ldY, ldY);
    }

    /**
     * Copies the last state of every sequence, (B, width) in sorted order, into {@code dst}:
     * for the forward direction the state after each sequence's own last step (one copy per
     * distinct length), for the reverse direction the state after step 0.
     */
    void copyLast(State st, boolean reverse, boolean cell, DeviceBuffer dst, long dstOff) {
        int w = cell ? hidden : hOut;
        DeviceBuffer src = cell ? DeviceAccess.buffer(st.c) : DeviceAccess.buffer(st.h);
        long slot = (long) batch * w;
        if (reverse || pk.isFull()) {
            be.copy(src, (reverse ? 0L : steps) * slot, dst, dstOff, slot);
            return;
        }
        for (int t = 0; t < steps; t++) {
            int from = t + 1 < steps ? pk.size(t + 1) : 0, to = pk.size(t);   // these rows have length t + 1
            if (to > from) be.copy(src, (t + 1) * slot + (long) from * w, dst, dstOff + (long) from * w, (long) (to - from) * w);
        }
    }

    /** Offset of the (T*B, H_out) block of outputs h_t (time order) inside {@code state.h}. */
    long outputsOffset(boolean reverse) { return (reverse ? 0L : 1L) * batch * hOut; }

    /** Offset of h_n (the last state this direction computed) inside {@code state.h}. */
    long lastHOffset(boolean reverse) { return (reverse ? 0L : steps) * batch * hOut; }

    /** Offset of c_n inside {@code state.c}. */
    long lastCOffset(boolean reverse) { return (reverse ? 0L : steps) * batch * hidden; }

    /**
     * Backward through one direction. Gradient sources, each may be null for zero:
     * {@code dY} the gradient of this direction's outputs, read as (T*B, H_out) at column
     * offset {@code dYOff} with row stride {@code ldY} (the layer output interleaves the
     * directions); {@code dHn} (B, H_out) and {@code dCn} (B, H) for the last states.
     *
     * <p>Results: {@code dX} ((T*B, inW), accumulated: += dG W_ih); {@code dH0} (B, H_out) and,
     * for the LSTM, {@code dC0} (B, H), overwritten; parameter gradients accumulated into
     * {@link Parameter#grad()}. Reads the state and weights only, so it may run repeatedly.
     */
    void backward(State st, Weights w, boolean reverse, DeviceBuffer x,
                  DeviceBuffer dY, long dYOff, int ldY,
                  DeviceBuffer dHn, long dHnOff, DeviceBuffer dCn, long dCnOff,
                  DeviceBuffer dX, DeviceBuffer dH0, long dH0Off, DeviceBuffer dC0, long dC0Off) {
        final int T = steps, B = batch, H = hidden, GH = kind.gates * H;
        final int TB = pk.total;
        final long hSlot = (long) B * hOut, cSlot = (long) B * H;
        try (TensorScope tmp = new TensorScope(device)) {
            // dG: gradient w.r.t. the gate pre-activations of every step (for the GRU, of gx);
            // the GRU's gradient w.r.t. gh differs in the n block and needs its own matrix.
            DeviceBuffer dG = DeviceAccess.buffer(tmp.zeros(TB, GH));
            DeviceBuffer dGh = kind.separateRecurrentGradient() ? DeviceAccess.buffer(tmp.zeros(TB, GH)) : dG;
            // Total gradient reaching h_t: one buffer reused per step, or, with a projection,
            // one slot per step because dW_hr needs all of them.
            DeviceBuffer dh = proj ? DeviceAccess.buffer(tmp.zeros(TB, hOut)) : DeviceAccess.buffer(tmp.zeros(B, hOut));
            // Gradient reaching h_{t-1} through the recurrence. A step writes only its own rows, so
            // with lengths a row keeps dHn until its sequence's last step (forward direction) and
            // ends holding the gradient of its initial state (reverse direction); likewise dc.
            DeviceBuffer dhRec = DeviceAccess.buffer(tmp.zeros(B, hOut));
            if (dHn != null) be.copy(dHn, dHnOff, dhRec, 0, hSlot);
            DeviceBuffer dc = null, dhRaw = null;
            if (kind.hasCellState()) {
                dc = DeviceAccess.buffer(tmp.zeros(B, H));
                if (dCn != null) be.copy(dCn, dCnOff, dc, 0, cSlot);
                if (proj) dhRaw = DeviceAccess.buffer(tmp.zeros(B, H));
            }
            DeviceBuffer hb = DeviceAccess.buffer(st.h);
            CellType.Step step = step(w, hb, st);
            step.g = st.gates == null ? null : DeviceAccess.buffer(st.gates);
            step.dh = dh;
            step.dhRec = dhRec;
            step.dc = dc;
            step.dhRaw = dhRaw;
            step.dG = dG;
            step.dGh = dGh;
            step.work = kind.workWidth() > 0 ? DeviceAccess.buffer(tmp.zeros(B, kind.workWidth() * H)) : null;
            int saved = kind.keepsGates() ? GH : kind.savedWidth() * H;

            for (int s = T - 1; s >= 0; s--) {
                int t = reverse ? T - 1 - s : s;
                int rows = pk.size(t);
                if (rows == 0) continue;
                long row = pk.offset(t), n = (long) rows * hOut;
                long dhOff = proj ? row * hOut : 0;
                step.rows = rows;
                step.gOff = row * saved;
                step.dGOff = row * GH;
                step.prevH = prevSlot(t, reverse) * hSlot;
                step.outH = outSlot(t, reverse) * hSlot;
                step.prevC = prevSlot(t, reverse) * cSlot;
                step.outC = outSlot(t, reverse) * cSlot;
                step.savedOff = row * saved;
                step.dhOff = dhOff;
                if (dY != null) {
                    be.copy2d(rows, hOut, dY, dYOff + row * ldY, ldY, dh, dhOff, hOut);
                    be.axpy(n, 1f, dhRec, 0, dh, dhOff);
                } else {
                    be.copy(dhRec, 0, dh, dhOff, n);
                }
                kind.backward(step);
            }

            // Everything that does not feed the recurrence, over all T*B rows at once.
            be.gemm(false, false, TB, inW, GH, 1f, dG, 0, GH, buf(w.ih()), 0, inW, 1f, dX, 0, inW, 1, 0, 0, 0);
            be.gemm(true, false, GH, inW, TB, 1f, dG, 0, GH, x, 0, inW,
                    1f, DeviceAccess.buffer(w.ih().grad()), 0, inW, 1, 0, 0, 0);
            // The h_{t-1} each step read, as an (N, H_out) matrix aligned with dGh: in place for a
            // full batch, else gathered (one copy per step: a step reads a prefix of its slot).
            DeviceBuffer prev = hb;
            long prevOff = (reverse ? 1L : 0L) * hSlot;
            if (!pk.isFull()) {
                prev = DeviceAccess.buffer(tmp.zeros(TB, hOut));
                prevOff = 0;
                for (int t = 0; t < T; t++)
                    if (pk.size(t) > 0)
                        be.copy(hb, prevSlot(t, reverse) * hSlot, prev, pk.offset(t) * hOut, (long) pk.size(t) * hOut);
            }
            kind.recurrentWeightGradient(be, TB, GH, hOut, dGh, prev, prevOff, DeviceAccess.buffer(w.hh().grad()));
            if (w.biasIh() != null) be.sumRows(TB, GH, dG, 0, GH, 1f, DeviceAccess.buffer(w.biasIh().grad()), 0);
            if (w.biasHh() != null) be.sumRows(TB, GH, dGh, 0, GH, 1f, DeviceAccess.buffer(w.biasHh().grad()), 0);
            if (proj) be.gemm(true, false, hOut, H, TB, 1f, dh, 0, hOut, DeviceAccess.buffer(st.hraw), 0, H,
                    1f, DeviceAccess.buffer(w.hr().grad()), 0, H, 1, 0, 0, 0);

            if (dH0 != null) be.copy(dhRec, 0, dH0, dH0Off, hSlot);
            if (dC0 != null && dc != null) be.copy(dc, 0, dC0, dC0Off, cSlot);
        }
    }

    /**
     * dst[j, i, :] = src[i, j, :] for a (d0, d1, width) tensor: the batch_first transpose in
     * either direction. One copy2d per index of the smaller of the two leading dimensions.
     */
    static void swapLeadingDims(Backend be, int d0, int d1, int width,
                                DeviceBuffer src, long srcOff, DeviceBuffer dst, long dstOff) {
        if (d1 <= d0) {
            for (int j = 0; j < d1; j++)   // column j of src becomes row block j of dst
                be.copy2d(d0, width, src, srcOff + (long) j * width, d1 * width, dst, dstOff + (long) j * d0 * width, width);
        } else {
            for (int i = 0; i < d0; i++)
                be.copy2d(d1, width, src, srcOff + (long) i * d1 * width, width, dst, dstOff + (long) i * width, d0 * width);
        }
    }
}
