package dev.rnn4j.nn;

import dev.rnn4j.backend.Op;

/**
 * The LSTM cell with coupled input and forget gates (ONNX's LSTM with input_forget = 1):
 * f = 1 - i, and everything else as in {@link LSTM}. The f rows of the weights and biases stay
 * (same parameters as the LSTM) but are not read, so their gradients are zero. Composed from
 * existing ops: since sigmoid(-a) = 1 - sigmoid(a), the step writes -a_i over f's
 * pre-activation and runs the LSTM pointwise op; backward takes f's share back into i
 * (da_i -= da_f) and clears f's.
 */
final class LstmCoupled extends CellType {
    LstmCoupled() { super(4); }

    @Override public boolean hasCellState() { return true; }

    @Override boolean keepsGates() { return true; }

    @Override boolean fuses(boolean proj) { return false; }

    /** Two (B, H) blocks: one gate's values, contiguous, and zeros. */
    @Override int workWidth() { return 2; }

    @Override
    public void forwardStep(Op.RecurrentForward.Step s) {
        throw new UnsupportedOperationException("the LSTM with coupled gates runs on the per-step path");
    }

    @Override
    void forward(Step s) {
        int n = s.rows, H = s.hidden;
        s.recurrentProductInto(s.g, s.gOff, 1f);
        s.be.copy2d(n, H, s.g, s.gOff, 4 * H, s.work, 0, H);   // a_f := -a_i
        s.be.scale((long) n * H, -1f, s.work, 0);
        s.be.copy2d(n, H, s.work, 0, H, s.g, s.gOff + H, 4 * H);
        s.be.lstmPointwiseForward(n, H, s.g, s.gOff, s.c, s.prevC, s.c, s.outC, s.h, s.outH);
    }

    @Override
    void backward(Step s) {
        int n = s.rows, H = s.hidden;
        long e = (long) n * H;
        s.be.lstmPointwiseBackward(n, H, s.g, s.gOff, s.c, s.prevC, s.c, s.outC, s.dh, s.dhOff, s.dc, 0, s.dG, s.dGOff, s.dc, 0);
        // da_i -= da_f (f's pre-activation was -a_i), then da_f = 0 (W_f, b_f are not read)
        s.be.copy2d(n, H, s.dG, s.dGOff + H, 4 * H, s.work, 0, H);
        s.be.copy2d(n, H, s.dG, s.dGOff, 4 * H, s.work, e, H);
        s.be.axpy(e, -1f, s.work, 0, s.work, e);
        s.be.copy2d(n, H, s.work, e, H, s.dG, s.dGOff, 4 * H);
        s.be.execute(new Op.Fill(s.work, 0, e, 0f));
        s.be.copy2d(n, H, s.work, 0, H, s.dG, s.dGOff + H, 4 * H);
        s.recurrentGradient(s.dG, 0f);
    }

    @Override public String toString() { return "LSTM(input_forget)"; }
}
