package dev.rnn4j.lm;

/**
 * The hyper-parameters of a language-model run, named as the original script's flags.
 *
 * @param lstm         LSTM instead of SRU
 * @param batchSize    sequences trained side by side
 * @param unrollSize   steps of truncated back-propagation through time per window
 * @param maxEpoch     number of epochs at most
 * @param d            embedding and hidden size
 * @param dropout      dropout on the embeddings and the recurrent output
 * @param rnnDropout   dropout inside the recurrent layers
 * @param bias         initial highway-gate bias of the SRU layers
 * @param depth        number of recurrent layers
 * @param lr           learning rate
 * @param lrDecay      factor applied to the learning rate before every epoch from lrDecayEpoch on
 * @param lrDecayEpoch first epoch (numbered from 0) whose learning rate is decayed; 0 or less: never
 * @param weightDecay  multiplicative weight decay per step
 * @param clipGrad     maximum global gradient norm
 * @param seed         seed of the initialisation and of every dropout mask
 * @param sru2         sru 2.x layers ({@code v1=False}: weight_c peepholes) instead of the SRU v1
 * @param layerNorm    with sru2: layer normalisation in every layer (before it, sru's default)
 */
public record TrainConfig(boolean lstm, int batchSize, int unrollSize, int maxEpoch, int d, double dropout,
                          double rnnDropout, double bias, int depth, double lr, double lrDecay, int lrDecayEpoch,
                          double weightDecay, double clipGrad, long seed, boolean sru2, boolean layerNorm) {

    /** The v1 SRU (or LSTM) configuration: no sru 2.x layers. */
    public TrainConfig(boolean lstm, int batchSize, int unrollSize, int maxEpoch, int d, double dropout,
                       double rnnDropout, double bias, int depth, double lr, double lrDecay, int lrDecayEpoch,
                       double weightDecay, double clipGrad, long seed) {
        this(lstm, batchSize, unrollSize, maxEpoch, d, dropout, rnnDropout, bias, depth, lr, lrDecay, lrDecayEpoch,
                weightDecay, clipGrad, seed, false, false);
    }

    /** Epochs without a better dev perplexity after which training stops, as in the script. */
    public static final int PATIENCE = 30;

    public TrainConfig {
        positive("batch_size", batchSize);
        positive("unroll_size", unrollSize);
        if (maxEpoch < 0) throw new IllegalArgumentException("--max_epoch must be >= 0, got " + maxEpoch);
        positive("d", d);
        positive("depth", depth);
        probability("dropout", dropout);
        probability("rnn_dropout", rnnDropout);
        finite("bias", bias);
        if (!(lr > 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("--lr must be positive, got " + lr);
        if (!(lrDecay > 0) || Double.isInfinite(lrDecay)) throw new IllegalArgumentException("--lr_decay must be positive, got " + lrDecay);
        if (!(weightDecay >= 0 && weightDecay < 1)) throw new IllegalArgumentException("--weight_decay must be in [0, 1), got " + weightDecay);
        if (!(clipGrad > 0) || Double.isInfinite(clipGrad)) throw new IllegalArgumentException("--clip_grad must be positive, got " + clipGrad);
        if (sru2 && lstm) throw new IllegalArgumentException("--sru2 and --lstm cannot be combined");
        if (layerNorm && !sru2) throw new IllegalArgumentException("--layer_norm needs --sru2 (the v1 SRU has no layer norm)");
    }

    private static void positive(String name, int v) {
        if (v < 1) throw new IllegalArgumentException("--" + name + " must be >= 1, got " + v);
    }

    private static void probability(String name, double p) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("--" + name + " must be in [0, 1), got " + p);
    }

    private static void finite(String name, double v) {
        if (!Double.isFinite(v)) throw new IllegalArgumentException("--" + name + " must be a finite number, got " + v);
    }

    /** The learning rate of epoch {@code epoch} when training started from {@code lr} at epoch 0. */
    public double lrAtEpoch(int epoch) {
        double r = lr;
        for (int e = 0; e <= epoch; e++) if (lrDecayEpoch > 0 && e >= lrDecayEpoch) r *= lrDecay;
        return r;
    }
}
