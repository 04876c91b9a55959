package dev.rnn4j.nn;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;

/**
 * A recurrent cell, the whole of what is particular to it: its parameters (names, shapes,
 * initialisation), its number of gate blocks G (weight_ih is (G*H, in)), whether it carries a
 * cell state c, and its per-step forward and backward ops. The generic driver
 * ({@link Recurrence}), the modules ({@link RNNBase}, {@link RNNCellBase}), serving, streaming,
 * conformance and the whole-recurrence op ({@link Op.RecurrentForward}, of which this is the
 * {@link Op.RecurrentForward.Cell}) work from this declaration. Adding a cell is one subclass
 * plus its ops.
 */
abstract class CellType implements Op.RecurrentForward.Cell {
    /** The Elman RNN with tanh. */
    static final CellType RNN_TANH = new Elman(Activation.TANH);
    /** The Elman RNN with relu. */
    static final CellType RNN_RELU = new Elman(Activation.RELU);
    static final CellType LSTM = new Lstm();
    static final CellType GRU = new Gru();

    /** The Elman cell for a nonlinearity ("relu" or "tanh", already checked). */
    static CellType rnn(String nonlinearity) { return nonlinearity.equals("relu") ? RNN_RELU : RNN_TANH; }

    final int gates;

    CellType(int gates) { this.gates = gates; }

    @Override public final int gates() { return gates; }

    /** Whether b_hh can be added to the input projections of all steps at once (false where it sits inside a gate). */
    final boolean foldsHiddenBias() { return !takesHiddenBias(); }

    /** Whether the forward step turns the gate pre-activations into the values backward needs, in place (kept as the gates). */
    boolean keepsGates() { return false; }

    /** Whether the gradient w.r.t. the recurrent product differs from that w.r.t. the input projection (needs its own matrix). */
    boolean separateRecurrentGradient() { return false; }

    /** Whether the fused whole-recurrence op may run this cell with these options (false: the per-step path). */
    boolean fuses(boolean proj) { return !proj; }

    // ------------------------------------------------------------------ parameters

    /** The shape of weight_hh for G*H gate rows and an h of width hOut: (G*H, hOut). */
    int[] recurrentWeightShape(int gh, int hOut) { return new int[]{gh, hOut}; }

    /** Whether the cell has bias_hh besides bias_ih (when the layer has biases). */
    boolean hasHiddenBias() { return true; }

    /** The name (before the layer suffix) of a parameter of the cell's own, registered after the others; null for none. */
    String ownParameter() { return null; }

    /** The shape of {@link #ownParameter} for a hidden size. */
    int[] ownParameterShape(int hidden) { return null; }

    /** Width in units of H of a (B, width*H) work buffer the per-step forward and backward may use ({@link Step#work}); 0 for none. */
    int workWidth() { return 0; }

    /** Initialises every parameter of {@code m}, in order: PyTorch's U(-1/sqrt(H), +1/sqrt(H)). */
    void initialise(Module m, int hidden, long seed) { Init.uniformAll(m, 1.0 / Math.sqrt(hidden), seed); }

    /** What PyTorch's repr adds for the cell's options (RNNCell's ", nonlinearity=relu"). */
    String reprOptions() { return ""; }

    // ------------------------------------------------------------------ steps

    /**
     * One forward step for the first {@code s.rows} rows of the batch: gate pre-activations at
     * {@code s.g}, h_{t-1} at {@code s.prevH}, writes h_t at {@code s.outH} (and c_t for an LSTM).
     * The layer's per-step path; by default the whole-recurrence op's step.
     */
    void forward(Step s) { forwardStep(s); }

    /**
     * One backward step: from the gradient {@code s.dh} reaching h_t (and {@code s.dc} reaching
     * c_t), writes the gate gradients {@code s.dG} (and {@code s.dGh} where it differs) and the
     * gradient reaching h_{t-1} through the recurrence into {@code s.dhRec} (overwritten).
     */
    abstract void backward(Step s);

    /**
     * dW_hh += dGh^T prev over all N rows: the gradient of the recurrent weight from the
     * gradients w.r.t. the recurrent product (N, G*H) and the h_{t-1} each step read (N, H_out).
     */
    void recurrentWeightGradient(Backend be, int rows, int gh, int hOut, DeviceBuffer dGh, DeviceBuffer prev, long prevOff,
                                 DeviceBuffer grad) {
        be.gemm(true, false, gh, hOut, rows, 1f, dGh, 0, gh, prev, prevOff, hOut, 1f, grad, 0, hOut, 1, 0, 0, 0);
    }

    /**
     * Everything one step reads and writes: buffers with element offsets for this step, the
     * recurrent weights, and the sizes. {@code rows} is the number of batch rows that take part
     * (all of them, or the ones whose sequence has not ended). The forward part is the
     * whole-recurrence op's step, here run with the backend's own ops.
     */
    static final class Step extends Op.RecurrentForward.Step {
        Backend be;
        int hOut, gh;
        boolean proj;
        Recurrence.Weights w;
        /** LSTM with projection: o * tanh(c) before W_hr, at this step. */
        DeviceBuffer hraw; long hrawOff;
        /** Backward: the gradient reaching h_t, and where the recurrent gradient of h_{t-1} goes. */
        DeviceBuffer dh; long dhOff;
        DeviceBuffer dhRec;
        /** Backward (LSTM): the running dc and, with a projection, a (B, H) scratch. */
        DeviceBuffer dc, dhRaw;
        /** Backward: gate gradients of this step, w.r.t. gx and w.r.t. gh. */
        DeviceBuffer dG, dGh; long dGOff;
        /** A (B, workWidth*H) buffer of the cell's own ({@link CellType#workWidth}), or null; its contents do not carry between steps. */
        DeviceBuffer work;

        /** g (+)= h_{t-1} W_hh^T over this step's rows. */
        @Override
        public void product(float beta, DeviceBuffer out, long outOff) { recurrentProductInto(out, outOff, beta); }

        @Override
        public void run(Op<?> op) { be.execute(op); }

        /** g += h_{t-1} W_hh^T over this step's rows. */
        void recurrentProductInto(DeviceBuffer out, long outOff, float beta) {
            be.gemm(false, true, rows, gh, hOut, 1f, h, prevH, hOut, whh, 0, hOut, beta, out, outOff, gh, 1, 0, 0, 0);
        }

        /** dhRec (+)= dGates W_hh over this step's rows. */
        void recurrentGradient(DeviceBuffer dGates, float beta) {
            be.gemm(false, false, rows, hOut, gh, 1f, dGates, dGOff, gh, whh, 0, hOut, beta, dhRec, 0, hOut, 1, 0, 0, 0);
        }
    }

    // ------------------------------------------------------------------ the cells

    /** nn.RNN: h_t = act(W_ih x + b_ih + W_hh h_{t-1} + b_hh). */
    static final class Elman extends CellType {
        final Activation act;

        Elman(Activation act) { super(1); this.act = act; }

        @Override String reprOptions() { return act == Activation.RELU ? ", nonlinearity=relu" : ""; }

        @Override
        public void forwardStep(Op.RecurrentForward.Step s) {
            s.product(1f, s.g, s.gOff);
            s.run(new Op.RnnPointwiseForward(act, Math.multiplyExact(s.rows, s.hidden), s.g, s.gOff, s.h, s.outH));
        }

        @Override
        void backward(Step s) {
            s.be.rnnPointwiseBackward(act, s.rows * s.hidden, s.h, s.outH, s.dh, s.dhOff, s.dG, s.dGOff);
            s.recurrentGradient(s.dG, 0f);
        }

        @Override public String toString() { return act == Activation.RELU ? "RNN_RELU" : "RNN_TANH"; }
    }

    /** nn.LSTM, gate order i, f, g, o; optional projection h = W_hr (o * tanh(c)). */
    static final class Lstm extends CellType {
        Lstm() { super(4); }

        @Override public boolean hasCellState() { return true; }

        @Override boolean keepsGates() { return true; }

        @Override
        public void forwardStep(Op.RecurrentForward.Step s) {
            s.product(1f, s.g, s.gOff);
            s.run(new Op.LstmPointwiseForward(s.rows, s.hidden, s.g, s.gOff, s.c, s.prevC, s.c, s.outC, s.h, s.outH));
        }

        @Override
        void forward(Step s) {
            if (!s.proj) {
                forwardStep(s);
                return;
            }
            s.recurrentProductInto(s.g, s.gOff, 1f);
            s.be.lstmPointwiseForward(s.rows, s.hidden, s.g, s.gOff, s.c, s.prevC, s.c, s.outC, s.hraw, s.hrawOff);
            s.be.gemm(false, true, s.rows, s.hOut, s.hidden, 1f, s.hraw, s.hrawOff, s.hidden, DeviceAccess.buffer(s.w.hr().value()), 0, s.hidden,
                    0f, s.h, s.outH, s.hOut, 1, 0, 0, 0);
        }

        @Override
        void backward(Step s) {
            DeviceBuffer dCell = s.dh;
            long dCellOff = s.dhOff;
            if (s.proj) {   // back through h = W_hr hraw
                s.be.gemm(false, false, s.rows, s.hidden, s.hOut, 1f, s.dh, s.dhOff, s.hOut, DeviceAccess.buffer(s.w.hr().value()), 0, s.hidden,
                        0f, s.dhRaw, 0, s.hidden, 1, 0, 0, 0);
                dCell = s.dhRaw;
                dCellOff = 0;
            }
            s.be.lstmPointwiseBackward(s.rows, s.hidden, s.g, s.gOff, s.c, s.prevC, s.c, s.outC,
                    dCell, dCellOff, s.dc, 0, s.dG, s.dGOff, s.dc, 0);
            s.recurrentGradient(s.dG, 0f);
        }

        @Override public String toString() { return "LSTM"; }
    }

    /** nn.GRU, gate order r, z, n; b_hn stays inside r * (W_hn h + b_hn). */
    static final class Gru extends CellType {
        Gru() { super(3); }

        @Override public boolean takesHiddenBias() { return true; }

        @Override public boolean productInScratch() { return true; }

        @Override public int savedWidth() { return 4; }

        @Override boolean separateRecurrentGradient() { return true; }

        @Override
        public void forwardStep(Op.RecurrentForward.Step s) {
            s.product(0f, s.scratch, 0);
            // b_hh is added inside the pointwise step (no separate bias launch)
            s.run(new Op.GruPointwiseForward(s.rows, s.hidden, s.g, s.gOff, s.scratch, 0, s.biasHh, s.biasHhOff,
                    s.h, s.prevH, s.h, s.outH, s.saved, s.savedOff));
        }

        @Override
        void backward(Step s) {
            // dhRec = dh * z, then += dgh W_hh
            s.be.gruPointwiseBackward(s.rows, s.hidden, s.saved, s.savedOff, s.h, s.prevH, s.dh, s.dhOff,
                    s.dG, s.dGOff, s.dGh, s.dGOff, s.dhRec, 0);
            s.recurrentGradient(s.dGh, 1f);
        }

        @Override public String toString() { return "GRU"; }
    }
}
