package dev.rnn4j.nn;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;

/**
 * A recurrent cell as the generic driver ({@link Recurrence}) sees it: its number of gate blocks
 * G (weight_ih is (G*H, in)), whether it carries a cell state c, and its per-step forward and
 * backward ops. Adding a cell is one subclass plus its ops; the driver, the modules and the
 * state handling stay as they are.
 */
abstract class CellType {
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

    /** The cell as {@link Op.RecurrentForward} names it. */
    abstract Op.RecurrentForward.Cell cell();

    /** Whether the cell has a cell state c (the LSTM). */
    boolean hasCellState() { return false; }

    /** Whether b_hh can be added to the input projections of all steps at once (false where it sits inside a gate). */
    boolean foldsHiddenBias() { return true; }

    /** Per-step values the backward step needs beyond h and c, as a width per (batch row) in units of H; 0 for none. */
    int savedWidth() { return 0; }

    /** Whether the forward step turns the gate pre-activations into the values backward needs, in place (kept as the gates). */
    boolean keepsGates() { return false; }

    /** Whether the gradient w.r.t. the recurrent product differs from that w.r.t. the input projection (needs its own matrix). */
    boolean separateRecurrentGradient() { return false; }

    /**
     * One forward step for the first {@code s.rows()} rows of the batch: gate pre-activations at
     * {@code s.g}, h_{t-1} at {@code s.prevH}, writes h_t at {@code s.outH} (and c_t for an LSTM).
     */
    abstract void forward(Step s);

    /**
     * One backward step: from the gradient {@code s.dh} reaching h_t (and {@code s.dc} reaching
     * c_t), writes the gate gradients {@code s.dG} (and {@code s.dGh} where it differs) and the
     * gradient reaching h_{t-1} through the recurrence into {@code s.dhRec} (overwritten).
     */
    abstract void backward(Step s);

    /**
     * Everything one step reads and writes: buffers with element offsets for this step, the
     * recurrent weights, and the sizes. {@code rows} is the number of batch rows that take part
     * (all of them, or the ones whose sequence has not ended).
     */
    static final class Step {
        Backend be;
        int rows, hidden, hOut, gh;
        boolean proj;
        Recurrence.Weights w;
        /** Gate pre-activations of this step (forward) / activated gates kept for backward (LSTM). */
        DeviceBuffer g; long gOff;
        /** Hidden-state slots: h_{t-1} and h_t. */
        DeviceBuffer h; long prevH, outH;
        /** Cell-state slots (LSTM). */
        DeviceBuffer c; long prevC, outC;
        /** Per-step saved values (GRU: r, z, n, gh_n) at this step. */
        DeviceBuffer saved; long savedOff;
        /** LSTM with projection: o * tanh(c) before W_hr, at this step. */
        DeviceBuffer hraw; long hrawOff;
        /** Scratch of (B, G*H) for the recurrent product (GRU forward). */
        DeviceBuffer scratch;
        /** Backward: the gradient reaching h_t, and where the recurrent gradient of h_{t-1} goes. */
        DeviceBuffer dh; long dhOff;
        DeviceBuffer dhRec;
        /** Backward (LSTM): the running dc and, with a projection, a (B, H) scratch. */
        DeviceBuffer dc, dhRaw;
        /** Backward: gate gradients of this step, w.r.t. gx and w.r.t. gh. */
        DeviceBuffer dG, dGh; long dGOff;

        DeviceBuffer whh() { return w.hh().value().buffer(); }

        /** g += h_{t-1} W_hh^T over this step's rows. */
        void recurrentProductInto(DeviceBuffer out, long outOff, float beta) {
            be.gemm(false, true, rows, gh, hOut, 1f, h, prevH, hOut, whh(), 0, hOut, beta, out, outOff, gh, 1, 0, 0, 0);
        }

        /** dhRec (+)= dGates W_hh over this step's rows. */
        void recurrentGradient(DeviceBuffer dGates, float beta) {
            be.gemm(false, false, rows, hOut, gh, 1f, dGates, dGOff, gh, whh(), 0, hOut, beta, dhRec, 0, hOut, 1, 0, 0, 0);
        }
    }

    // ------------------------------------------------------------------ the cells

    /** nn.RNN: h_t = act(W_ih x + b_ih + W_hh h_{t-1} + b_hh). */
    static final class Elman extends CellType {
        final Activation act;

        Elman(Activation act) { super(1); this.act = act; }

        @Override
        Op.RecurrentForward.Cell cell() { return act == Activation.RELU ? Op.RecurrentForward.Cell.RNN_RELU : Op.RecurrentForward.Cell.RNN_TANH; }

        @Override
        void forward(Step s) {
            s.recurrentProductInto(s.g, s.gOff, 1f);
            s.be.rnnPointwiseForward(act, s.rows * s.hidden, s.g, s.gOff, s.h, s.outH);
        }

        @Override
        void backward(Step s) {
            s.be.rnnPointwiseBackward(act, s.rows * s.hidden, s.h, s.outH, s.dh, s.dhOff, s.dG, s.dGOff);
            s.recurrentGradient(s.dG, 0f);
        }
    }

    /** nn.LSTM, gate order i, f, g, o; optional projection h = W_hr (o * tanh(c)). */
    static final class Lstm extends CellType {
        Lstm() { super(4); }

        @Override Op.RecurrentForward.Cell cell() { return Op.RecurrentForward.Cell.LSTM; }

        @Override boolean hasCellState() { return true; }

        @Override boolean keepsGates() { return true; }

        @Override
        void forward(Step s) {
            s.recurrentProductInto(s.g, s.gOff, 1f);
            if (s.proj) {
                s.be.lstmPointwiseForward(s.rows, s.hidden, s.g, s.gOff, s.c, s.prevC, s.c, s.outC, s.hraw, s.hrawOff);
                s.be.gemm(false, true, s.rows, s.hOut, s.hidden, 1f, s.hraw, s.hrawOff, s.hidden, s.w.hr().value().buffer(), 0, s.hidden,
                        0f, s.h, s.outH, s.hOut, 1, 0, 0, 0);
            } else {
                s.be.lstmPointwiseForward(s.rows, s.hidden, s.g, s.gOff, s.c, s.prevC, s.c, s.outC, s.h, s.outH);
            }
        }

        @Override
        void backward(Step s) {
            DeviceBuffer dCell = s.dh;
            long dCellOff = s.dhOff;
            if (s.proj) {   // back through h = W_hr hraw
                s.be.gemm(false, false, s.rows, s.hidden, s.hOut, 1f, s.dh, s.dhOff, s.hOut, s.w.hr().value().buffer(), 0, s.hidden,
                        0f, s.dhRaw, 0, s.hidden, 1, 0, 0, 0);
                dCell = s.dhRaw;
                dCellOff = 0;
            }
            s.be.lstmPointwiseBackward(s.rows, s.hidden, s.g, s.gOff, s.c, s.prevC, s.c, s.outC,
                    dCell, dCellOff, s.dc, 0, s.dG, s.dGOff, s.dc, 0);
            s.recurrentGradient(s.dG, 0f);
        }
    }

    /** nn.GRU, gate order r, z, n; b_hn stays inside r * (W_hn h + b_hn). */
    static final class Gru extends CellType {
        Gru() { super(3); }

        @Override Op.RecurrentForward.Cell cell() { return Op.RecurrentForward.Cell.GRU; }

        @Override boolean foldsHiddenBias() { return false; }

        @Override int savedWidth() { return 4; }

        @Override boolean separateRecurrentGradient() { return true; }

        @Override
        void forward(Step s) {
            s.recurrentProductInto(s.scratch, 0, 0f);
            // b_hh is added inside the pointwise step (no separate bias launch)
            s.be.gruPointwiseForward(s.rows, s.hidden, s.g, s.gOff, s.scratch, 0,
                    s.w.biasHh() == null ? null : s.w.biasHh().value().buffer(), 0,
                    s.h, s.prevH, s.h, s.outH, s.saved, s.savedOff);
        }

        @Override
        void backward(Step s) {
            // dhRec = dh * z, then += dgh W_hh
            s.be.gruPointwiseBackward(s.rows, s.hidden, s.saved, s.savedOff, s.h, s.prevH, s.dh, s.dhOff,
                    s.dG, s.dGOff, s.dGh, s.dGOff, s.dhRec, 0);
            s.recurrentGradient(s.dGh, 1f);
        }
    }

}
