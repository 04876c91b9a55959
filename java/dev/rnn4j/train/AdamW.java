package dev.rnn4j.train;

import dev.rnn4j.nn.Parameter;

import java.util.Collection;

/**
 * AdamW with PyTorch's {@code torch.optim.AdamW} update rule and defaults (lr 1e-3, betas
 * (0.9, 0.999), eps 1e-8, weight_decay 0.01, decoupled: p is multiplied by 1 - lr * weight_decay before the Adam step; amsgrad is
 * not supported). The update is written in {@link AdamBase}'s class comment. State per
 * parameter: {@code step}, {@code exp_avg}, {@code exp_avg_sq}.
 *
 * <pre>{@code
 * try (AdamW adam = AdamW.builder(gru.namedParameters().values()).lr(0.01).build()) {
 *     gru.zeroGrad(); ...backward...; adam.step();
 * }
 * }</pre>
 */
public final class AdamW extends AdamBase {
    private AdamW(Builder b) { super(b.params, b.lr, b.beta1, b.beta2, b.eps, b.weightDecay, true); }

    /** A builder over {@code params} with PyTorch's defaults. */
    public static Builder builder(Collection<Parameter> params) { return new Builder(params); }

    @Override public String type() { return "AdamW"; }

    /** Options of {@link AdamW}. */
    public static final class Builder {
        private final Collection<Parameter> params;
        private double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 1e-2;

        private Builder(Collection<Parameter> params) { this.params = params; }

        /** Learning rate, {@code >= 0} (default 1e-3). */
        public Builder lr(double lr) { this.lr = lr; return this; }

        /** The averaging coefficients, each in [0, 1) (default 0.9, 0.999). */
        public Builder betas(double beta1, double beta2) { this.beta1 = beta1; this.beta2 = beta2; return this; }

        /** Added to the denominator, {@code >= 0} (default 1e-8). */
        public Builder eps(double eps) { this.eps = eps; return this; }

        /** Decoupled weight decay, {@code >= 0} (default 0.01). */
        public Builder weightDecay(double wd) { this.weightDecay = wd; return this; }

        /**
         * The optimizer.
         *
         * @throws IllegalArgumentException naming an option out of range (PyTorch's messages) or an invalid parameter list
         */
        public AdamW build() { return new AdamW(this); }
    }
}
