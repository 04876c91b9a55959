package dev.rnn4j.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * PyTorch's {@code StepLR}: every {@code stepSize} epochs the lr is multiplied by {@code gamma}
 * (lr of epoch e = base_lr * gamma^(e / stepSize), reached by repeated multiplication).
 */
public final class StepLR extends LRScheduler {
    private final int stepSize;
    private final double gamma;

    /**
     * @param optimizer its current lr becomes the base lr
     * @param stepSize  epochs between decays, {@code >= 1}
     * @param gamma     the factor (PyTorch's default is 0.1)
     * @throws IllegalArgumentException if stepSize &lt; 1 or gamma is not finite
     */
    public StepLR(Optimizer optimizer, int stepSize, double gamma) {
        super(optimizer);
        if (stepSize < 1) throw new IllegalArgumentException("stepSize must be at least 1, got " + stepSize);
        if (!Double.isFinite(gamma)) throw new IllegalArgumentException("gamma must be finite, got " + gamma);
        this.stepSize = stepSize;
        this.gamma = gamma;
    }

    /** StepLR with PyTorch's default gamma 0.1. */
    public StepLR(Optimizer optimizer, int stepSize) { this(optimizer, stepSize, 0.1); }

    @Override double next(double lr, int epoch) { return epoch % stepSize == 0 ? lr * gamma : lr; }

    @Override public String type() { return "StepLR"; }

    @Override
    Map<String, String> options() {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("step_size", Integer.toString(stepSize));
        o.put("gamma", Double.toString(gamma));
        return o;
    }
}
