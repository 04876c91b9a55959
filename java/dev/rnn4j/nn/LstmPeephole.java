package dev.rnn4j.nn;

import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;

/**
 * The LSTM cell with peephole connections (Gers and Schmidhuber; ONNX's LSTM input P): the
 * input and forget gates also read c_{t-1}, the output gate c_t:
 * <pre>
 * i = sigmoid(W_ii x + b_ii + W_hi h + b_hi + p_i * c)    f = sigmoid(W_if x + b_if + W_hf h + b_hf + p_f * c)
 * o = sigmoid(W_io x + b_io + W_ho h + b_ho + p_o * c')   g, c' and h' as in {@link LSTM}
 * </pre>
 * Its own parameter {@code weight_peephole} (3H: p_i, p_f, p_o, in PyTorch's gate order; PyTorch
 * has no such parameter, so the name is rnn4j's), after the LSTM's. Composed from existing ops:
 * the i and f terms are added to the pre-activations, the LSTM pointwise op runs on a copy of
 * them to get c_t, then the o term is added and the op runs again on the gates themselves.
 * Backward runs the LSTM pointwise backward op twice likewise: the first gives the gradient of
 * o's pre-activation, whose share p_o * do' joins the gradient reaching c_t before the second.
 */
final class LstmPeephole extends CellType {
    LstmPeephole() { super(4); }

    @Override public boolean hasCellState() { return true; }

    @Override boolean keepsGates() { return true; }

    @Override boolean fuses(boolean proj) { return false; }

    @Override String ownParameter() { return "weight_peephole"; }

    @Override int[] ownParameterShape(int hidden) { return new int[]{3 * hidden}; }

    /** Forward: two (B, H) blocks for one gate's peephole term and a (B, 4H) copy of the pre-activations; backward uses the first two. */
    @Override int workWidth() { return 6; }

    /** gates[:, block] += x * p[pBlock] over the step's rows, through the work buffer (the gate block is strided). */
    private static void addPeephole(Op.RecurrentForward.Step s, DeviceBuffer work, DeviceBuffer p, int pBlock,
                                    DeviceBuffer x, long xOff, int block) {
        int n = s.rows, H = s.hidden;
        long e = (long) n * H;
        s.run(new Op.MulRows(n, H, x, xOff, p, (long) pBlock * H, work, e));
        s.run(new Op.Copy2d(n, H, s.g, s.gOff + (long) block * H, 4 * H, work, 0, H));
        s.run(new Op.Axpy(e, 1f, work, e, work, 0));
        s.run(new Op.Copy2d(n, H, work, 0, H, s.g, s.gOff + (long) block * H, 4 * H));
    }

    @Override
    public void forwardStep(Op.RecurrentForward.Step s) {
        throw new UnsupportedOperationException("the LSTM with peepholes runs on the per-step path");
    }

    @Override
    void forward(Step s) {
        int n = s.rows, H = s.hidden;
        DeviceBuffer p = DeviceAccess.buffer(s.w.own().value()), work = s.work;
        long pre = 2L * n * H;
        s.recurrentProductInto(s.g, s.gOff, 1f);
        addPeephole(s, work, p, 0, s.c, s.prevC, 0);   // i
        addPeephole(s, work, p, 1, s.c, s.prevC, 1);   // f
        // c_t from a copy (the op activates its gates in place), then o's term and the real step
        s.be.copy(s.g, s.gOff, work, pre, 4L * n * H);
        s.be.lstmPointwiseForward(n, H, work, pre, s.c, s.prevC, s.c, s.outC, s.h, s.outH);
        addPeephole(s, work, p, 2, s.c, s.outC, 3);    // o
        s.be.lstmPointwiseForward(n, H, s.g, s.gOff, s.c, s.prevC, s.c, s.outC, s.h, s.outH);
    }

    /**
     * dc += dA[:, block] * p[pBlock]; dp[pBlock] += sum over rows of dA[:, block] * c (c_{t-1}
     * for i and f, c_t for o).
     */
    private static void backPeephole(Step s, DeviceBuffer p, DeviceBuffer dp, int pBlock, long cOff, int block) {
        int n = s.rows, H = s.hidden;
        long e = (long) n * H;
        s.be.copy2d(n, H, s.dG, s.dGOff + (long) block * H, 4 * H, s.work, 0, H);
        s.be.execute(new Op.MulRows(n, H, s.work, 0, p, (long) pBlock * H, s.work, e));
        s.be.axpy(e, 1f, s.work, e, s.dc, 0);
        s.be.execute(new Op.Mul(e, s.work, 0, s.c, cOff, s.work, 0));
        s.be.sumRows(n, H, s.work, 0, H, 1f, dp, (long) pBlock * H);
    }

    @Override
    void backward(Step s) {
        int n = s.rows, H = s.hidden;
        DeviceBuffer p = DeviceAccess.buffer(s.w.own().value()), dp = DeviceAccess.buffer(s.w.own().grad());
        // First pass for o's pre-activation gradient (it does not depend on dc); dcPrev into the work buffer
        s.be.lstmPointwiseBackward(n, H, s.g, s.gOff, s.c, s.prevC, s.c, s.outC, s.dh, s.dhOff, s.dc, 0, s.dG, s.dGOff, s.work, 0);
        backPeephole(s, p, dp, 2, s.outC, 3);   // o read c_t: its share joins the gradient reaching c_t
        s.be.lstmPointwiseBackward(n, H, s.g, s.gOff, s.c, s.prevC, s.c, s.outC, s.dh, s.dhOff, s.dc, 0, s.dG, s.dGOff, s.dc, 0);
        backPeephole(s, p, dp, 0, s.prevC, 0);  // i and f read c_{t-1}
        backPeephole(s, p, dp, 1, s.prevC, 1);
        s.recurrentGradient(s.dG, 0f);
    }

    @Override public String toString() { return "LSTM(peepholes)"; }
}
