package dev.rnn4j.train;

import java.util.Map;

/** PyTorch's {@code ExponentialLR}: every epoch the lr is multiplied by {@code gamma}. */
public final class ExponentialLR extends LRScheduler {
    private final double gamma;

    /**
     * @param optimizer its current lr becomes the base lr
     * @param gamma     the factor per epoch
     * @throws IllegalArgumentException if gamma is not finite
     */
    public ExponentialLR(Optimizer optimizer, double gamma) {
        super(optimizer);
        if (!Double.isFinite(gamma)) throw new IllegalArgumentException("gamma must be finite, got " + gamma);
        this.gamma = gamma;
    }

    @Override double next(double lr, int epoch) { return lr * gamma; }

    @Override public String type() { return "ExponentialLR"; }

    @Override Map<String, String> options() { return Map.of("gamma", Double.toString(gamma)); }
}
