package dev.rnn4j.train;

import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.nn.Parameter;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stochastic gradient descent with PyTorch's {@code torch.optim.SGD} update rule. For each
 * parameter p with gradient g, at step t:
 * <pre>
 * d = g + weight_decay * p                      (if weight_decay != 0)
 * buf = d                                       (first step, if momentum != 0)
 * buf = momentum * buf + (1 - dampening) * d    (later steps)
 * d = nesterov ? d + momentum * buf : buf       (if momentum != 0)
 * p = p - lr * d
 * </pre>
 * The gradient itself is not modified. State: {@code momentum_buffer} per parameter (only
 * with momentum). Runs on the parameters' device over the backend's axpy, scale and copy.
 *
 * <pre>{@code
 * try (SGD sgd = SGD.builder(model.namedParameters().values()).lr(0.1).momentum(0.9).build()) { ... }
 * }</pre>
 */
public final class SGD extends Optimizer {
    private final double momentum, dampening, weightDecay;
    private final boolean nesterov;
    /** Holds d when it differs from g (weight decay or Nesterov); sized for the largest parameter. */
    private Tensor scratch;

    private SGD(Builder b) {
        super(b.params, b.lr);
        this.momentum = b.momentum;
        this.dampening = b.dampening;
        this.weightDecay = b.weightDecay;
        this.nesterov = b.nesterov;
    }

    /** A builder over {@code params} with PyTorch's defaults: lr 1e-3, no momentum, dampening or weight decay. */
    public static Builder builder(Collection<Parameter> params) { return new Builder(params); }

    /** Options of {@link SGD}, validated as PyTorch validates them. */
    public static final class Builder {
        private final Collection<Parameter> params;
        private double lr = 1e-3, momentum, dampening, weightDecay;
        private boolean nesterov;

        private Builder(Collection<Parameter> params) { this.params = params; }

        /** Learning rate, {@code >= 0} (default 1e-3). */
        public Builder lr(double lr) { this.lr = Optimizer.check("learning rate", lr, 0, true, Double.POSITIVE_INFINITY, false); return this; }

        /** Momentum factor, {@code >= 0} (default 0: no momentum buffer). */
        public Builder momentum(double m) { this.momentum = Optimizer.check("momentum value", m, 0, true, Double.POSITIVE_INFINITY, false); return this; }

        /** Dampening of the momentum, applied from the second step (default 0). */
        public Builder dampening(double d) { this.dampening = Optimizer.check("dampening", d, Double.NEGATIVE_INFINITY, false, Double.POSITIVE_INFINITY, false); return this; }

        /** L2 penalty added to the gradient, {@code >= 0} (default 0). */
        public Builder weightDecay(double wd) { this.weightDecay = Optimizer.check("weight_decay value", wd, 0, true, Double.POSITIVE_INFINITY, false); return this; }

        /** Nesterov momentum (default false); needs momentum &gt; 0 and dampening 0. */
        public Builder nesterov(boolean n) { this.nesterov = n; return this; }

        /**
         * The optimizer.
         *
         * @throws IllegalArgumentException if nesterov is set without momentum &gt; 0 and zero
         *                                  dampening, or the parameter list is invalid (see {@link Optimizer})
         */
        public SGD build() {
            if (nesterov && (momentum <= 0 || dampening != 0))
                throw new IllegalArgumentException("Nesterov momentum requires a momentum and zero dampening");
            return new SGD(this);
        }
    }

    @Override public String type() { return "SGD"; }

    /** The momentum factor. */
    public double momentum() { return momentum; }

    /** The dampening. */
    public double dampening() { return dampening; }

    /** The L2 penalty. */
    public double weightDecay() { return weightDecay; }

    /** Whether Nesterov momentum is on. */
    public boolean nesterov() { return nesterov; }

    @Override
    void update(int index, Parameter p) {
        Tensor v = p.value(), g = p.grad();
        Backend be = DeviceAccess.backend(v);
        long n = v.numel();
        Tensor d = g;
        if (weightDecay != 0) {
            d = scratch(n);
            be.copy(DeviceAccess.buffer(g), 0, DeviceAccess.buffer(d), 0, n);
            be.axpy(n, (float) weightDecay, DeviceAccess.buffer(v), 0, DeviceAccess.buffer(d), 0);
        }
        if (momentum != 0) {
            Tensor buf = state(index, "momentum_buffer");
            if (buf == null) {
                buf = newState(index, "momentum_buffer", p.shape());
                be.copy(DeviceAccess.buffer(d), 0, DeviceAccess.buffer(buf), 0, n);
            } else {
                be.scale(n, (float) momentum, DeviceAccess.buffer(buf), 0);
                be.axpy(n, (float) (1 - dampening), DeviceAccess.buffer(d), 0, DeviceAccess.buffer(buf), 0);
            }
            if (nesterov) {
                if (d == g) {
                    d = scratch(n);
                    be.copy(DeviceAccess.buffer(g), 0, DeviceAccess.buffer(d), 0, n);
                }
                be.axpy(n, (float) momentum, DeviceAccess.buffer(buf), 0, DeviceAccess.buffer(d), 0);
            } else {
                d = buf;
            }
        }
        be.axpy(n, (float) -lr(), DeviceAccess.buffer(d), 0, DeviceAccess.buffer(v), 0);
    }

    private Tensor scratch(long n) {
        if (scratch == null) {
            long max = 0;
            for (Parameter q : parameters()) max = Math.max(max, q.numel());
            scratch = Tensor.zeros(device(), Math.toIntExact(max));
        }
        return scratch;
    }

    @Override
    Map<String, String> options() {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("momentum", Double.toString(momentum));
        o.put("dampening", Double.toString(dampening));
        o.put("weight_decay", Double.toString(weightDecay));
        o.put("nesterov", Boolean.toString(nesterov));
        return o;
    }

    @Override List<String> tensorNames() { return List.of("momentum_buffer"); }

    @Override
    public void close() {
        if (scratch != null) scratch.close();
        super.close();
    }
}
