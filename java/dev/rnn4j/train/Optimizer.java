package dev.rnn4j.train;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.Parameter;

import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Base of the optimizers: a fixed list of parameters (one parameter group, as PyTorch's
 * {@code optimizer.param_groups[0]}), a learning rate, and per-parameter state tensors kept on
 * the parameters' device. {@link #step()} updates every parameter from its current gradient
 * ({@link Parameter#grad()}); a parameter whose gradient was never allocated is skipped, as
 * PyTorch skips a parameter whose {@code grad} is None.
 *
 * <p>State: {@link #stateTensors()} and {@link #hyperParameters()} name the state like PyTorch's
 * {@code optimizer.state_dict()} flattened: tensor {@code state.<i>.<name>} for parameter i (in
 * the order given to the constructor) and metadata {@code param_groups.0.<name>}.
 * {@link Checkpoints} stores both next to a model. An optimizer owns its state tensors:
 * {@link #close()} frees them (idempotent); a closed optimizer throws
 * {@link IllegalStateException}.
 */
public abstract class Optimizer implements AutoCloseable {
    private final List<Parameter> params;
    private final Device device;
    /** Per-parameter state by name ("momentum_buffer", "exp_avg", ...), created on first use. */
    private final List<Map<String, Tensor>> state;
    private double lr;
    private boolean closed;

    /**
     * @param params the parameters, each once, all on one device (for example
     *               {@code module.namedParameters().values()})
     * @param lr     the learning rate, finite and {@code >= 0}
     * @throws IllegalArgumentException if params is empty, repeats a parameter, mixes devices, or lr is invalid
     * @throws NullPointerException     if params or one of them is null
     */
    protected Optimizer(Collection<Parameter> params, double lr) {
        if (params == null) throw new NullPointerException("params is null");
        this.params = List.copyOf(params);
        if (this.params.isEmpty()) throw new IllegalArgumentException("optimizer got an empty parameter list");
        IdentityHashMap<Parameter, Boolean> seen = new IdentityHashMap<>();
        Device dev = null;
        for (Parameter p : this.params) {
            if (seen.put(p, Boolean.TRUE) != null)
                throw new IllegalArgumentException("a parameter " + Shapes.str(p.shape()) + " appears twice in the parameter list");
            Device d = p.value().device();
            if (dev == null) dev = d;
            else if (d != dev)
                throw new IllegalArgumentException("parameters are on different devices: " + dev + " and " + d);
        }
        this.device = dev;
        this.state = new ArrayList<>();
        for (int i = 0; i < this.params.size(); i++) state.add(new LinkedHashMap<>());
        setLr(lr);
    }

    /** The parameters, in the order of the state indices. */
    public final List<Parameter> parameters() { return params; }

    /** The device of the parameters and the state. */
    public final Device device() { return device; }

    /** The current learning rate. */
    public final double lr() { return lr; }

    /**
     * Sets the learning rate used by the following steps (schedules call this).
     *
     * @throws IllegalArgumentException if lr is negative, NaN or infinite
     */
    public final void setLr(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("invalid learning rate: " + lr);
        this.lr = lr;
    }

    /** PyTorch's class name of this optimizer: "SGD", "Adam" or "AdamW". */
    public abstract String type();

    /** Updates every parameter that has a gradient, once. */
    public final void step() {
        checkOpen();
        for (int i = 0; i < params.size(); i++) {
            Parameter p = params.get(i);
            if (p.hasGrad()) update(i, p);
        }
    }

    /** The update of parameter {@code index}; its gradient exists. */
    abstract void update(int index, Parameter p);

    /** Zeroes the gradient of every parameter. */
    public final void zeroGrad() {
        checkOpen();
        for (Parameter p : params) p.zeroGrad();
    }

    /** The state tensor {@code name} of parameter {@code index}, or null if it has none yet. */
    final Tensor state(int index, String name) { return state.get(index).get(name); }

    /** Creates the zero-filled state tensor {@code name} of parameter {@code index}, shaped like it. */
    final Tensor newState(int index, String name, int... shape) {
        Tensor t = Tensor.zeros(device, shape);
        Tensor old = state.get(index).put(name, t);
        if (old != null) old.close();
        return t;
    }

    /**
     * The optimizer's per-parameter state as host tensors named {@code state.<i>.<name>} (PyTorch's
     * names: {@code momentum_buffer}; {@code step}, {@code exp_avg}, {@code exp_avg_sq}).
     * A parameter that has not been updated yet has no entries.
     */
    public final Map<String, HostTensor> stateTensors() {
        checkOpen();
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++)
            for (var e : state.get(i).entrySet()) out.put("state." + i + "." + e.getKey(), e.getValue().toHost());
        for (int i = 0; i < params.size(); i++)
            for (var e : scalarState(i).entrySet()) out.put("state." + i + "." + e.getKey(), new HostTensor(new int[0], new float[] {e.getValue()}));
        return out;
    }

    /** Scalar state of parameter {@code index} stored as 0-d tensors (Adam's step); none by default. */
    Map<String, Float> scalarState(int index) { return Map.of(); }

    /** Restores scalar state from the 0-d tensor {@code name}; returns false if the name is not scalar state. */
    boolean loadScalarState(int index, String name, float value) { return false; }

    /** The hyper-parameters as strings named {@code param_groups.0.<name>} (lr, momentum, betas, ...) and {@code type}. */
    public final Map<String, String> hyperParameters() {
        Map<String, String> out = new LinkedHashMap<>();
        out.put("type", type());
        out.put("param_groups.0.lr", Double.toString(lr));
        for (var e : options().entrySet()) out.put("param_groups.0." + e.getKey(), e.getValue());
        return out;
    }

    /** Every hyper-parameter but lr, by PyTorch's name. */
    abstract Map<String, String> options();

    /**
     * Restores state saved by {@link #stateTensors()} and {@link #hyperParameters()} into this
     * optimizer, which must have the same type, options and parameter shapes. The learning rate
     * is taken from the saved hyper-parameters. Nothing changes if anything does not match.
     *
     * @throws IllegalArgumentException naming the first mismatch: another optimizer type or
     *                                  option, an unknown state name, a parameter index out of
     *                                  range, or a state tensor of the wrong shape
     */
    public final void load(Map<String, HostTensor> tensors, Map<String, String> hyper) {
        if (tensors == null) throw new NullPointerException("tensors is null");
        if (hyper == null) throw new NullPointerException("hyper-parameters are null");
        checkOpen();
        if (!type().equals(hyper.get("type")))
            throw new IllegalArgumentException("saved optimizer is " + hyper.get("type") + ", this one is " + type());
        for (var e : options().entrySet()) {
            String saved = hyper.get("param_groups.0." + e.getKey());
            if (!e.getValue().equals(saved))
                throw new IllegalArgumentException("saved optimizer has " + e.getKey() + "=" + saved + ", this one " + e.getValue());
        }
        String savedLr = hyper.get("param_groups.0.lr");
        if (savedLr == null) throw new IllegalArgumentException("saved optimizer state has no param_groups.0.lr");
        double newLr = Double.parseDouble(savedLr);
        // Validate everything before changing anything.
        List<Object[]> plan = new ArrayList<>();
        for (var e : tensors.entrySet()) {
            String key = e.getKey();
            String[] parts = key.split("\\.", 3);
            if (parts.length != 3 || !parts[0].equals("state"))
                throw new IllegalArgumentException("unexpected optimizer state entry " + key);
            int idx;
            try {
                idx = Integer.parseInt(parts[1]);
            } catch (NumberFormatException nfe) {
                throw new IllegalArgumentException("unexpected optimizer state entry " + key);
            }
            if (idx < 0 || idx >= params.size())
                throw new IllegalArgumentException("optimizer state " + key + " names parameter " + idx + " of " + params.size());
            HostTensor t = e.getValue();
            if (scalarNames().contains(parts[2])) {
                if (t.numel() != 1) throw new IllegalArgumentException("optimizer state " + key + " must hold one value, has shape " + Shapes.str(t.shape()));
            } else if (tensorNames().contains(parts[2])) {
                if (!java.util.Arrays.equals(t.shape(), params.get(idx).shape()))
                    throw new IllegalArgumentException("optimizer state " + key + ": expected shape " + Shapes.str(params.get(idx).shape())
                            + ", got " + Shapes.str(t.shape()));
            } else {
                throw new IllegalArgumentException("unknown optimizer state " + key + " for " + type());
            }
            plan.add(new Object[] {idx, parts[2], t});
        }
        setLr(newLr);
        for (Map<String, Tensor> m : state) {
            for (Tensor t : m.values()) t.close();
            m.clear();
        }
        resetScalarState();
        for (Object[] p : plan) {
            int idx = (Integer) p[0];
            String name = (String) p[1];
            HostTensor t = (HostTensor) p[2];
            if (!loadScalarState(idx, name, t.data()[0])) newState(idx, name, t.shape()).copyFrom(t.data());
        }
    }

    /** Names of this optimizer's per-parameter tensor state. */
    abstract List<String> tensorNames();

    /** Names of this optimizer's per-parameter scalar state. */
    List<String> scalarNames() { return List.of(); }

    /** Forgets scalar state before a load. */
    void resetScalarState() {}

    final void checkOpen() {
        if (closed) throw new IllegalStateException(type() + " optimizer is closed");
    }

    /** Whether {@link #close()} was called. */
    public final boolean isClosed() { return closed; }

    /** Frees the state tensors; idempotent. The parameters are not touched. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (Map<String, Tensor> m : state) {
            for (Tensor t : m.values()) t.close();
            m.clear();
        }
    }

    static double check(String name, double v, double lo, boolean loInclusive, double hi, boolean hiInclusive) {
        boolean ok = (loInclusive ? v >= lo : v > lo) && (hiInclusive ? v <= hi : v < hi);
        if (!ok) throw new IllegalArgumentException("invalid " + name + ": " + v);
        return v;
    }
}
