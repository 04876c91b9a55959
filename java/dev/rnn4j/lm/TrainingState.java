package dev.rnn4j.lm;

import dev.rnn4j.HostTensor;

/**
 * Where a training run stands, everything besides the parameters that a checkpoint needs so
 * that a resumed run continues exactly as the uninterrupted one would have.
 *
 * <p>Dropout needs no generator state here: the masks of window w of epoch e are drawn from
 * seeds derived from (seed, e, w) alone ({@link Trainer#windowSeed}).
 *
 * @param epoch       the epoch in progress or next to run (numbered from 0)
 * @param window      the next window of that epoch; 0 at an epoch boundary
 * @param lr          the learning rate in effect: at an epoch boundary that of the finished epoch
 *                    (the next epoch's decay is still to come), otherwise that of the epoch in progress
 * @param lossSum     sum over the epoch's finished windows of (window loss / window length)
 * @param tokens      target tokens trained on in the epoch so far
 * @param bestDev     best dev perplexity so far (infinity before the first)
 * @param unchanged   epochs since the dev perplexity last improved
 * @param hidden      mid-epoch only: the recurrent state carried into the next window, c (depth, B, d)
 * @param hiddenH     mid-epoch LSTM only: h (depth, B, d)
 */
public record TrainingState(int epoch, int window, double lr, double lossSum, long tokens, double bestDev,
                            int unchanged, HostTensor hidden, HostTensor hiddenH) {

    /** The state before the first epoch. */
    public static TrainingState start(TrainConfig cfg) {
        return new TrainingState(0, 0, cfg.lr(), 0, 0, Double.POSITIVE_INFINITY, 0, null, null);
    }

    /** Whether this state lies between two epochs (no carried recurrent state). */
    public boolean atEpochBoundary() { return window == 0; }

    /** Whether training from this state would stop at once (epoch limit or patience reached). */
    public boolean finished(TrainConfig cfg) { return epoch >= cfg.maxEpoch() || unchanged >= TrainConfig.PATIENCE; }
}
