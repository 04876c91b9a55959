package dev.rnn4j.train;

import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.Op;
import dev.rnn4j.nn.Parameter;

import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The update shared by {@link Adam} and {@link AdamW} (PyTorch's {@code _single_tensor_adam},
 * without amsgrad): the weight decay over the backend's scale, copy and axpy, then the moments
 * and the parameter in one fused backend op:
 * <pre>
 * t = t + 1
 * p = p * (1 - lr * weight_decay)                 (AdamW)
 * g = g + weight_decay * p                        (Adam, if weight_decay != 0)
 * m = beta1 * m + (1 - beta1) * g
 * v = beta2 * v + (1 - beta2) * g * g
 * p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * </pre>
 */
public abstract sealed class AdamBase extends Optimizer permits Adam, AdamW {
    private final double beta1, beta2, eps, weightDecay;
    private final boolean decoupled;
    private final Map<Integer, Integer> steps = new HashMap<>();
    private Tensor scratch;

    AdamBase(Collection<Parameter> params, double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
        super(params, lr);
        this.beta1 = check("beta parameter at index 0", beta1, 0, true, 1, false);
        this.beta2 = check("beta parameter at index 1", beta2, 0, true, 1, false);
        this.eps = check("epsilon value", eps, 0, true, Double.POSITIVE_INFINITY, false);
        this.weightDecay = check("weight_decay value", weightDecay, 0, true, Double.POSITIVE_INFINITY, false);
        this.decoupled = decoupled;
    }

    /** The coefficient of the running average of the gradient. */
    public final double beta1() { return beta1; }

    /** The coefficient of the running average of the squared gradient. */
    public final double beta2() { return beta2; }

    /** The term added to the denominator for numerical stability. */
    public final double eps() { return eps; }

    /** The weight decay (L2 penalty for Adam, decoupled for AdamW). */
    public final double weightDecay() { return weightDecay; }

    /** Steps taken so far by parameter {@code index} (PyTorch's {@code state[p]["step"]}). */
    public final int steps(int index) { return steps.getOrDefault(index, 0); }

    @Override
    final void update(int index, Parameter p) {
        Tensor v = p.value(), g = p.grad();
        Backend be = DeviceAccess.backend(v);
        long n = v.numel();
        Tensor m = state(index, "exp_avg"), s = state(index, "exp_avg_sq");
        if (m == null) {
            m = newState(index, "exp_avg", p.shape());
            s = newState(index, "exp_avg_sq", p.shape());
        }
        int t = steps(index) + 1;
        steps.put(index, t);
        double lr = lr();
        if (decoupled) be.scale(n, (float) (1 - lr * weightDecay), DeviceAccess.buffer(v), 0);
        Tensor grad = g;
        if (!decoupled && weightDecay != 0) {
            grad = scratch();
            be.copy(DeviceAccess.buffer(g), 0, DeviceAccess.buffer(grad), 0, n);
            be.axpy(n, (float) weightDecay, DeviceAccess.buffer(v), 0, DeviceAccess.buffer(grad), 0);
        }
        double bc1 = 1 - Math.pow(beta1, t), bc2 = 1 - Math.pow(beta2, t);
        // The moments and the parameter in one pass on the device (Op.AdamStep).
        be.run(new Op.AdamStep(n, (float) beta1, (float) beta2, (float) (lr / bc1), (float) Math.sqrt(bc2), (float) eps,
                DeviceAccess.buffer(grad), 0, DeviceAccess.buffer(m), 0, DeviceAccess.buffer(s), 0, DeviceAccess.buffer(v), 0));
    }

    /** Holds g + weight_decay * p for Adam's L2 penalty; sized for the largest parameter. */
    private Tensor scratch() {
        if (scratch == null) {
            long max = 0;
            for (Parameter q : parameters()) max = Math.max(max, q.numel());
            scratch = Tensor.zeros(device(), Math.toIntExact(max));
        }
        return scratch;
    }

    @Override
    final Map<String, String> options() {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("betas", beta1 + "," + beta2);
        o.put("eps", Double.toString(eps));
        o.put("weight_decay", Double.toString(weightDecay));
        o.put("amsgrad", "false");
        return o;
    }

    @Override final List<String> tensorNames() { return List.of("exp_avg", "exp_avg_sq"); }

    @Override final List<String> scalarNames() { return List.of("step"); }

    @Override
    final Map<String, Float> scalarState(int index) {
        Integer t = steps.get(index);
        return t == null ? Map.of() : Map.of("step", (float) t);
    }

    @Override
    final boolean loadScalarState(int index, String name, float value) {
        if (!name.equals("step")) return false;
        if (!(value >= 0) || value != Math.rint(value)) throw new IllegalArgumentException("optimizer state step must be a count, got " + value);
        steps.put(index, (int) value);
        return true;
    }

    @Override final void resetScalarState() { steps.clear(); }

    @Override
    public final void close() {
        if (scratch != null) scratch.close();
        super.close();
    }
}
