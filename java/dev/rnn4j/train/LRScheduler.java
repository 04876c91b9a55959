package dev.rnn4j.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A learning-rate schedule over an {@link Optimizer}, PyTorch's {@code lr_scheduler} protocol:
 * creating it records the optimizer's lr as {@code base_lr} and sets epoch 0; each
 * {@link #step()} (called once per epoch, after the optimizer's steps) advances the epoch and
 * sets the optimizer's lr from the previous one (PyTorch's chainable form).
 */
public abstract sealed class LRScheduler permits StepLR, ExponentialLR {
    private final Optimizer optimizer;
    private double baseLr;
    private int lastEpoch;

    LRScheduler(Optimizer optimizer) {
        if (optimizer == null) throw new NullPointerException("optimizer is null");
        this.optimizer = optimizer;
        this.baseLr = optimizer.lr();
    }

    /** The optimizer whose lr this schedule sets. */
    public final Optimizer optimizer() { return optimizer; }

    /** The epoch count: 0 after construction, +1 per {@link #step()} (PyTorch's {@code last_epoch}). */
    public final int lastEpoch() { return lastEpoch; }

    /** The lr the optimizer had when the schedule was created (PyTorch's {@code base_lrs[0]}). */
    public final double baseLr() { return baseLr; }

    /** The optimizer's current lr (PyTorch's {@code get_last_lr()[0]}). */
    public final double lastLr() { return optimizer.lr(); }

    /** Advances one epoch and updates the optimizer's lr. */
    public final void step() {
        lastEpoch++;
        optimizer.setLr(next(optimizer.lr(), lastEpoch));
    }

    /** The lr of epoch {@code epoch} (&gt; 0) given the lr of the epoch before. */
    abstract double next(double lr, int epoch);

    /** PyTorch's class name: "StepLR" or "ExponentialLR". */
    public abstract String type();

    /** Every setting but the epoch and base lr, by PyTorch's name. */
    abstract Map<String, String> options();

    /** The schedule's state as strings: {@code type}, {@code last_epoch}, {@code base_lrs.0} and the options. */
    public final Map<String, String> state() {
        Map<String, String> out = new LinkedHashMap<>();
        out.put("type", type());
        out.put("last_epoch", Integer.toString(lastEpoch));
        out.put("base_lrs.0", Double.toString(baseLr));
        out.putAll(options());
        return out;
    }

    /**
     * Restores {@link #state()} written by a schedule of the same type and options (the
     * optimizer's lr is restored with the optimizer).
     *
     * @throws IllegalArgumentException if the type or an option differs or a value is missing
     */
    public final void load(Map<String, String> state) {
        if (state == null) throw new NullPointerException("state is null");
        if (!type().equals(state.get("type")))
            throw new IllegalArgumentException("saved schedule is " + state.get("type") + ", this one is " + type());
        for (var e : options().entrySet())
            if (!e.getValue().equals(state.get(e.getKey())))
                throw new IllegalArgumentException("saved schedule has " + e.getKey() + "=" + state.get(e.getKey()) + ", this one " + e.getValue());
        String le = state.get("last_epoch"), base = state.get("base_lrs.0");
        if (le == null || base == null) throw new IllegalArgumentException("saved schedule lacks last_epoch or base_lrs.0");
        lastEpoch = Integer.parseInt(le);
        baseLr = Double.parseDouble(base);
    }
}
