package dev.rnn4j.backend;

/**
 * Positional shorthands for the SRU ops, for tests that sweep every operand (argument storms,
 * zero sizes, offsets): each builds the op with its builder, which checks it, and runs it.
 */
public final class SruCalls {
    private SruCalls() {}

    /** {@link Op.SruForward} with its operands in declaration order. */
    public static void forward(Backend be, int seqLen, int batch, int hidden, int dirs, int k, Activation act,
                               DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                               DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                               DeviceBuffer h, long hOff, DeviceBuffer c, long cOff, DeviceBuffer cLast, long cLastOff) {
        be.run(Op.SruForward.builder(seqLen, batch, hidden, dirs, k, act).u(u, uOff).x(x, xOff).bias(bias, biasOff)
                .c0(c0, c0Off).maskH(maskH, maskOff).h(h, hOff).c(c, cOff).cLast(cLast, cLastOff).build());
    }

    /** {@link Op.SruBackward} with its operands in declaration order. */
    public static void backward(Backend be, int seqLen, int batch, int hidden, int dirs, int k, Activation act,
                                DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                                DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                                DeviceBuffer c, long cOff, DeviceBuffer dh, long dhOff, DeviceBuffer dcLast, long dcLastOff,
                                DeviceBuffer du, long duOff, DeviceBuffer dx, long dxOff,
                                DeviceBuffer dBias, long dBiasOff, DeviceBuffer dc0, long dc0Off) {
        be.run(Op.SruBackward.builder(seqLen, batch, hidden, dirs, k, act).u(u, uOff).x(x, xOff).bias(bias, biasOff)
                .c0(c0, c0Off).maskH(maskH, maskOff).c(c, cOff).dh(dh, dhOff).dcLast(dcLast, dcLastOff)
                .du(du, duOff).dx(dx, dxOff).dBias(dBias, dBiasOff).dc0(dc0, dc0Off).build());
    }
}
