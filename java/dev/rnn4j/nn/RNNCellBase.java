package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;

import java.lang.ref.Reference;
import java.util.SplittableRandom;

/**
 * Common part of the single-step cells {@link RNNCell}, {@link LSTMCell} and {@link GRUCell},
 * PyTorch's {@code nn.RNNCellBase}: parameters {@code weight_ih} (G*H, input_size),
 * {@code weight_hh} (G*H, H), {@code bias_ih} and {@code bias_hh} (G*H) in that order, and one
 * step of the same equations as the modules. A cell step is one time step of the modules' own
 * recurrence code, so cells and modules share their arithmetic.
 *
 * <p>Shapes: x (B, input_size) or unbatched (input_size); h and c (B, H) or (H). Backward
 * takes the gradients w.r.t. the step's h (and c) and returns those w.r.t. x, the previous h
 * (and c), also when that state defaulted to zeros; parameter gradients accumulate into
 * {@link Parameter#grad()}.
 */
public abstract class RNNCellBase extends Module {
    final CellType kind;
    private final int inputSize, hiddenSize;
    private final boolean bias;
    private final Recurrence.Weights weights;

    RNNCellBase(Device device, CellType kind, RecurrentBuilder<?> b) {
        super(device);
        this.kind = kind;
        this.inputSize = b.inputSize;
        this.hiddenSize = b.hiddenSize;
        this.bias = b.bias;
        try {
            this.weights = Recurrence.Weights.register(this, kind, "", inputSize, hiddenSize, hiddenSize, bias);
            resetParameters(b.seed != null ? b.seed : new SplittableRandom().nextLong());
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** The number of input features. */
    public int inputSize() { return inputSize; }

    /** The number of features of h (and c). */
    public int hiddenSize() { return hiddenSize; }

    /** Whether the cell carries a cell state c besides h (the LSTMCell): its step takes c and gives c'. */
    public boolean hasCellState() { return kind.hasCellState(); }

    /**
     * The step of every cell in one signature, for code that drives any of them: as the cell's
     * own {@code forward} with h and, where {@link #hasCellState()}, c (each null for zeros).
     *
     * @throws IllegalArgumentException as the cell's {@code forward}, and for a c given to a cell
     *                                  without a cell state
     */
    public final CellOutput forwardStates(Tensor x, Tensor h, Tensor c) {
        if (c != null && !kind.hasCellState()) throw new IllegalArgumentException("c: " + getClass().getSimpleName() + " has no cell state");
        return forwardImpl(x, h, c);
    }

    /**
     * The backward step of every cell in one signature: as the cell's own {@code backward}, with
     * the gradient of c' where {@link #hasCellState()} (each gradient null for zero).
     *
     * @throws IllegalArgumentException as the cell's {@code backward}, and for a gradC given to a
     *                                  cell without a cell state
     */
    public final CellGrads backwardStates(CellOutput out, Tensor gradH, Tensor gradC) {
        if (gradC != null && !kind.hasCellState()) throw new IllegalArgumentException("gradC: " + getClass().getSimpleName() + " has no cell state");
        return backwardImpl(out, gradH, gradC);
    }

    /** Whether the layer has the bias_ih and bias_hh parameters. */
    public boolean bias() { return bias; }

    /** PyTorch's default: every parameter from U(-1/sqrt(hidden_size), +1/sqrt(hidden_size)), as {@link RNNBase#resetParameters}. */
    public void resetParameters(long seed) {
        exclusiveUse("resetParameters", () -> kind.initialise(this, hiddenSize, seed));
    }

    /** PyTorch's repr, e.g. {@code RNNCell(4, 5, bias=False, nonlinearity=relu)}. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(getClass().getSimpleName()).append('(')
                .append(inputSize).append(", ").append(hiddenSize);
        if (!bias) s.append(", bias=False");
        s.append(kind.reprOptions());
        return s.append(')').toString();
    }

    /** What one step keeps for backward; owned by its {@link CellOutput}. */
    private static final class Saved implements AutoCloseable {
        final RNNCellBase owner;
        final int batch;
        final int[] inputShape, stateShape;
        Tensor x;
        Recurrence.State state;
        boolean closed;

        Saved(RNNCellBase owner, int batch, int[] inputShape, int[] stateShape) {
            this.owner = owner;
            this.batch = batch;
            this.inputShape = inputShape;
            this.stateShape = stateShape;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            Closeables.closeAll(x, state);
        }
    }

    final CellOutput forwardImpl(Tensor x, Tensor h, Tensor c) {
        return forwardUse(() -> forwardInUse(x, h, c));
    }

    private CellOutput forwardInUse(Tensor x, Tensor h, Tensor c) {
        Args.tensor("input", x, device);
        if (x.dim() != 2 && x.dim() != 1)
            throw new IllegalArgumentException("input: expected a 2-D tensor (batch, input_size) or a 1-D unbatched tensor (input_size), got shape "
                    + Shapes.str(x.shape()));
        if (x.size(x.dim() - 1) != inputSize)
            throw new IllegalArgumentException("input: expected last dimension input_size=" + inputSize + ", got shape " + Shapes.str(x.shape()));
        boolean unbatched = x.dim() == 1;
        int batch = unbatched ? 1 : x.size(0);
        if (batch < 1) throw new IllegalArgumentException("input: needs at least one batch element, got shape " + Shapes.str(x.shape()));
        int[] stateShape = unbatched ? new int[]{hiddenSize} : new int[]{batch, hiddenSize};
        String dims = unbatched ? "(hidden_size)" : "(batch, hidden_size)";
        if (h != null) Args.tensor("h", h, device, stateShape, dims);
        if (c != null) Args.tensor("c", c, device, stateShape, dims);
        if (kind.hasCellState() && (h == null) != (c == null))
            throw new IllegalArgumentException(getClass().getSimpleName() + ": h and c must be given together or both be null (PyTorch's (h_0, c_0)); got only "
                    + (h != null ? "h" : "c"));
        Args.fits(this, x, 2, batch, Math.max(kind.gates * hiddenSize + hiddenSize, inputSize));

        Saved sv = new Saved(this, batch, x.shape(), stateShape);
        Tensor hOut = null, cOut = null;
        boolean ok = false;
        try {
            var be = DeviceAccess.backend(device);
            // A private copy: backward needs x for dW_ih even if the caller reuses its tensor.
            sv.x = Tensor.zeros(device, batch, inputSize);
            be.copy(DeviceAccess.buffer(x), 0, DeviceAccess.buffer(sv.x), 0, x.numel());
            Recurrence rec = new Recurrence(device, kind, 1, batch, inputSize, hiddenSize, hiddenSize);
            sv.state = rec.forward(weights, false, DeviceAccess.buffer(sv.x),
                    h == null ? null : DeviceAccess.buffer(h), 0, c == null ? null : DeviceAccess.buffer(c), 0);
            long n = (long) batch * hiddenSize;
            hOut = Tensor.zeros(device, stateShape);
            be.copy(DeviceAccess.buffer(sv.state.h), rec.lastHOffset(false), DeviceAccess.buffer(hOut), 0, n);
            if (kind.hasCellState()) {
                cOut = Tensor.zeros(device, stateShape);
                be.copy(DeviceAccess.buffer(sv.state.c), rec.lastCOffset(false), DeviceAccess.buffer(cOut), 0, n);
            }
            ok = true;
            return new CellOutput(hOut, cOut, sv);
        } finally {
            if (!ok) Closeables.closeAll(hOut, cOut, sv);
            // The caller's tensors must outlive every use of their buffers above, even if the caller drops them.
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(h);
            Reference.reachabilityFence(c);
        }
    }

    final CellGrads backwardImpl(CellOutput out, Tensor gradH, Tensor gradC) {
        return exclusiveUse("backward", () -> backwardInUse(out, gradH, gradC));
    }

    private CellGrads backwardInUse(CellOutput out, Tensor gradH, Tensor gradC) {
        if (out == null) throw new NullPointerException("out is null");
        if (!(out.saved instanceof Saved sv) || sv.owner != this)
            throw new IllegalArgumentException("out: was not produced by forward of this cell " + this);
        if (sv.closed) throw new IllegalStateException("out: the CellOutput is closed");
        if (gradH != null) Args.tensor("gradH", gradH, device, sv.stateShape, "the shape of h");
        if (gradC != null) Args.tensor("gradC", gradC, device, sv.stateShape, "the shape of c");

        Tensor gx = null, gh = null, gc = null;
        boolean ok = false;
        try {
            gx = Tensor.zeros(device, sv.inputShape);
            gh = Tensor.zeros(device, sv.stateShape);
            if (kind.hasCellState()) gc = Tensor.zeros(device, sv.stateShape);
            Recurrence rec = new Recurrence(device, kind, 1, sv.batch, inputSize, hiddenSize, hiddenSize);
            rec.backward(sv.state, weights, false, DeviceAccess.buffer(sv.x), null, 0, hiddenSize,
                    gradH == null ? null : DeviceAccess.buffer(gradH), 0, gradC == null ? null : DeviceAccess.buffer(gradC), 0,
                    DeviceAccess.buffer(gx), DeviceAccess.buffer(gh), 0, gc == null ? null : DeviceAccess.buffer(gc), 0);
            ok = true;
            return new CellGrads(gx, gh, gc);
        } finally {
            if (!ok) Closeables.closeAll(gx, gh, gc);
            Reference.reachabilityFence(gradH);
            Reference.reachabilityFence(gradC);
        }
    }
}
