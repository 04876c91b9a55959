package dev.rnn4j.nn;

import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;

/**
 * The GRU cell with the reset gate applied to h before the recurrent product (ONNX's GRU with
 * linear_before_reset = 0, the original GRU of Cho et al.):
 * <pre>
 * r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)      z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 * n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)   h' = (1 - z) * n + z * h
 * </pre>
 * Same parameters as {@link CellType.Gru}. Composed from existing ops, no kernel of its own:
 * every bias sits outside a product, so b_hh folds into gx; the step adds h W_hr,hz^T to gx,
 * runs the GRU pointwise op on a zero recurrent product (which gives r), adds (r * h) W_hn^T to
 * gx and runs the pointwise op again, now with the complete pre-activations. Per row and step
 * it keeps the pointwise op's (r, z, n, 0) block, then r, r * h and (1 - r) * h, each a
 * contiguous (rows, H) block, for backward.
 */
final class GruResetBefore extends CellType {
    GruResetBefore() { super(3); }

    @Override public boolean productInScratch() { return true; }   // a zero (B, 3H) "recurrent product"

    @Override public int savedWidth() { return 7; }

    @Override boolean separateRecurrentGradient() { return true; }

    /** The per-step path only: the second product reads r from the step's first pointwise op. */
    @Override boolean fuses(boolean proj) { return false; }

    @Override
    public void forwardStep(Op.RecurrentForward.Step s) {
        int n = s.rows, H = s.hidden;
        long e = (long) n * H, rOff = s.savedOff + 4 * e, rhOff = rOff + e, qOff = rhOff + e;
        // gx_r,z += h W_hr,hz^T
        s.run(new Op.Gemm(false, true, n, 2 * H, H, 1f, s.h, s.prevH, H, s.whh, s.whhOff, H, 1f, s.g, s.gOff, 3 * H, 1, 0, 0, 0));
        Op.GruPointwiseForward step = new Op.GruPointwiseForward(n, H, s.g, s.gOff, s.scratch, 0, null, 0,
                s.h, s.prevH, s.h, s.outH, s.saved, s.savedOff);
        s.run(step);   // r (and a provisional n, h)
        s.run(new Op.Copy2d(n, H, s.saved, s.savedOff, 4 * H, s.saved, rOff, H));
        s.run(new Op.Mul(e, s.saved, rOff, s.h, s.prevH, s.saved, rhOff));
        // gx_n += (r * h) W_hn^T
        s.run(new Op.Gemm(false, true, n, H, H, 1f, s.saved, rhOff, H, s.whh, s.whhOff + 2L * H * H, H,
                1f, s.g, s.gOff + 2L * H, 3 * H, 1, 0, 0, 0));
        s.run(step);   // the final n and h
        // (1 - r) * h = h - r * h, which backward multiplies into the gradient of r
        s.run(new Op.Copy(s.h, s.prevH, s.saved, qOff, e));
        s.run(new Op.Axpy(e, -1f, s.saved, rhOff, s.saved, qOff));
    }

    @Override
    void backward(Step s) {
        int n = s.rows, H = s.hidden;
        long e = (long) n * H, rOff = s.savedOff + 4 * e, rhOff = rOff + e, qOff = rhOff + e;
        long nOff = s.dGOff + 2L * H;
        // dG = (0, dz, dn), dGh likewise with dGh_n = dn * r (replaced below), dhRec = dh * z
        s.be.gruPointwiseBackward(n, H, s.saved, s.savedOff, s.h, s.prevH, s.dh, s.dhOff, s.dG, s.dGOff, s.dGh, s.dGOff, s.dhRec, 0);
        // d(r * h) = dn W_hn, into dh (read by the op above, free now)
        s.be.gemm(false, false, n, H, H, 1f, s.dG, nOff, 3 * H, s.whh, 2L * H * H, H, 0f, s.dh, s.dhOff, H, 1, 0, 0, 0);
        // dW_hn += dn^T (r * h): this block's product read r * h, not h
        s.be.gemm(true, false, H, H, n, 1f, s.dG, nOff, 3 * H, s.saved, rhOff, H,
                1f, DeviceAccess.buffer(s.w.hh().grad()), 2L * H * H, H, 1, 0, 0, 0);
        s.be.copy2d(n, H, s.dG, nOff, 3 * H, s.dGh, nOff, 3 * H);   // b_hn's gradient is dn (summed from dGh)
        // dhRec += d(r * h) * r; then dr = d(r * h) * r * (1 - r) * h
        s.be.execute(new Op.Mul(e, s.dh, s.dhOff, s.saved, rOff, s.dh, s.dhOff));
        s.be.axpy(e, 1f, s.dh, s.dhOff, s.dhRec, 0);
        s.be.execute(new Op.Mul(e, s.dh, s.dhOff, s.saved, qOff, s.dh, s.dhOff));
        s.be.copy2d(n, H, s.dh, s.dhOff, H, s.dG, s.dGOff, 3 * H);
        s.be.copy2d(n, H, s.dh, s.dhOff, H, s.dGh, s.dGOff, 3 * H);
        // dhRec += (dr, dz) W_hr,hz
        s.be.gemm(false, false, n, H, 2 * H, 1f, s.dGh, s.dGOff, 3 * H, s.whh, 0, H, 1f, s.dhRec, 0, H, 1, 0, 0, 0);
    }

    /** dW_hr,hz += (dr, dz)^T h_{t-1}; the n block was added per step (it read r * h). */
    @Override
    void recurrentWeightGradient(dev.rnn4j.backend.Backend be, int rows, int gh, int hOut, DeviceBuffer dGh, DeviceBuffer prev,
                                 long prevOff, DeviceBuffer grad) {
        be.gemm(true, false, 2 * hOut, hOut, rows, 1f, dGh, 0, gh, prev, prevOff, hOut, 1f, grad, 0, hOut, 1, 0, 0, 0);
    }

    @Override public String toString() { return "GRU(linear_before_reset=False)"; }
}
