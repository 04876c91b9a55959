package dev.rnn4j.lm;

import dev.rnn4j.backend.DropoutRng;
import dev.rnn4j.nn.Parameter;

import java.io.IOException;
import java.util.Collection;
import java.util.Objects;

/**
 * The training loop of the SRU language-model script, step for step:
 *
 * <ul>
 *   <li>epochs are numbered from 0; before epoch e, if lrDecayEpoch &gt; 0 and e &gt;= lrDecayEpoch,
 *       {@code lr *= lrDecay};</li>
 *   <li>an epoch walks the training batches in windows of unrollSize steps (the last may be
 *       shorter), starting from a zero recurrent state and carrying it, detached, from window to
 *       window;</li>
 *   <li>per window: gradients zeroed, loss = summed cross-entropy / batchSize, backward, the
 *       global gradient norm clipped to clipGrad (the tied matrix counted once), then for every
 *       parameter {@code p *= 1 - weightDecay} (if &gt; 0) and {@code p -= lr * grad}; a NaN or
 *       infinite loss stops training with an {@link IllegalStateException} before any update;</li>
 *   <li>train_ppl = exp(mean over the epoch's windows of loss / window length);</li>
 *   <li>after the epoch, dev perplexity = exp(summed cross-entropy / dev targets) with batch 1;
 *       when it improves on the best, the test perplexity too; training stops after
 *       {@link TrainConfig#PATIENCE} epochs without improvement.</li>
 * </ul>
 *
 * <p>Dropout masks of window w of epoch e come from {@link #windowSeed}(seed, e, w), so a run
 * resumed from any checkpoint draws the same masks as the uninterrupted run.
 */
public final class Trainer {

    /** What the loop reports; every method has an empty default. */
    public interface Listener {
        /** After every training window. */
        default void window(int epoch, int window, int windows, long tokens, double seconds, double lossSum, int windowsDone) {}

        /** After an epoch and its dev evaluation. */
        default void epoch(EpochResult r) {}

        /** After the test evaluation that follows an improved dev perplexity. */
        default void test(int epoch, double testPpl, double seconds) {}

        /** Whether to write a checkpoint now, asked after every window (mid-epoch checkpoints). */
        default boolean checkpointDue() { return false; }

        /** A checkpoint of {@code state} (the model's parameters are current); called after every epoch and when due. */
        default void checkpoint(TrainingState state) throws IOException {}
    }

    /**
     * One finished epoch.
     *
     * @param seconds  training plus dev evaluation, as the script times it
     * @param tokens   target tokens trained on
     * @param trainSeconds training only
     */
    public record EpochResult(int epoch, double lr, double trainPpl, double devPpl, boolean improved,
                              double seconds, long tokens, double trainSeconds) {}

    private final LanguageModel model;
    private final TrainConfig cfg;
    private final Batches train, dev, test;
    private final Collection<Parameter> params;

    public Trainer(LanguageModel model, TrainConfig cfg, Batches train, Batches dev, Batches test) {
        this.model = Objects.requireNonNull(model, "model");
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        this.train = Objects.requireNonNull(train, "train");
        this.dev = dev;
        this.test = test;
        if (train.batch() != cfg.batchSize())
            throw new IllegalArgumentException("training batches have batch " + train.batch() + ", config says " + cfg.batchSize());
        this.params = model.namedParameters().values();
    }

    /** Number of windows per epoch: the script's {@code (steps - 1) // unroll_size + 1}. */
    public static int windows(int steps, int unroll) { return (steps - 1) / unroll + 1; }

    /** The seed every dropout mask of window {@code window} of epoch {@code epoch} derives from. */
    public static long windowSeed(long seed, int epoch, int window) {
        return DropoutRng.stream(DropoutRng.stream(seed, epoch), window);
    }

    /**
     * Trains from {@code state} until the epoch limit or the patience runs out; returns the final
     * state (also given to the listener's last checkpoint call).
     */
    public TrainingState run(TrainingState state, Listener listener) throws IOException {
        Objects.requireNonNull(state, "state");
        Listener l = listener != null ? listener : new Listener() {};
        TrainingState st = state;
        while (!st.finished(cfg)) st = runEpoch(st, l);
        return st;
    }

    /** Runs the rest of the epoch {@code state} is in (all of it at an epoch boundary) and its evaluations. */
    public TrainingState runEpoch(TrainingState state, Listener l) throws IOException {
        int epoch = state.epoch();
        double lr = state.lr();
        if (state.atEpochBoundary() && cfg.lrDecayEpoch() > 0 && epoch >= cfg.lrDecayEpoch()) lr *= cfg.lrDecay();
        long start = System.nanoTime();
        int steps = train.steps(), unroll = cfg.unrollSize(), batch = train.batch();
        int windows = windows(steps, unroll);
        double lossSum = state.lossSum();
        long tokens = state.tokens();

        model.train(true);
        try (LanguageModel.State hidden = model.newState(batch)) {
            if (!state.atEpochBoundary()) {
                if (state.hidden() == null || (model.isLstm() && state.hiddenH() == null))
                    throw new IllegalArgumentException("a mid-epoch training state needs the carried recurrent state");
                hidden.c().copyFrom(state.hidden().data());
                if (model.isLstm()) hidden.h().copyFrom(state.hiddenH().data());
            }
            for (int w = state.window(); w < windows; w++) {
                int from = w * unroll, len = Math.min(unroll, steps - from);
                model.setDropoutSeed(windowSeed(cfg.seed(), epoch, w));
                model.zeroGrad();
                double nll = model.trainWindow(train.x(from, len), train.y(from, len), len, batch, hidden);
                double loss = nll / batch;
                if (!Double.isFinite(loss))
                    throw new IllegalStateException("training diverged: the loss of epoch " + epoch + ", window " + w
                            + " is " + loss + " (lr=" + lr + "); stopped before updating the parameters");
                Sgd.clipGradNorm(params, cfg.clipGrad());
                Sgd.step(params, lr, cfg.weightDecay());
                lossSum += loss / len;
                tokens += (long) len * batch;
                l.window(epoch, w, windows, tokens, (System.nanoTime() - start) / 1e9, lossSum, w + 1);
                if (w + 1 < windows && l.checkpointDue())
                    l.checkpoint(new TrainingState(epoch, w + 1, lr, lossSum, tokens, state.bestDev(), state.unchanged(),
                            hidden.c().toHost(), model.isLstm() ? hidden.h().toHost() : null));
            }
        }
        double trainSeconds = (System.nanoTime() - start) / 1e9;
        double trainPpl = Math.exp(lossSum / windows);
        double devPpl = dev != null ? perplexity(model, dev, unroll) : Double.NaN;
        double seconds = (System.nanoTime() - start) / 1e9;
        double best = state.bestDev();
        int unchanged = state.unchanged();
        boolean improved = devPpl < best;
        l.epoch(new EpochResult(epoch, lr, trainPpl, devPpl, improved, seconds, tokens, trainSeconds));
        if (improved) {
            best = devPpl;
            unchanged = 0;
            if (test != null) {
                long t0 = System.nanoTime();
                double testPpl = perplexity(model, test, unroll);
                l.test(epoch, testPpl, (System.nanoTime() - t0) / 1e9);
            }
        } else {
            unchanged++;
        }
        TrainingState next = new TrainingState(epoch + 1, 0, lr, 0, 0, best, unchanged, null, null);
        l.checkpoint(next);
        return next;
    }

    /**
     * Perplexity of {@code model} on {@code data}: exp(summed cross-entropy / number of targets),
     * in evaluation mode (no dropout), walking windows of {@code unroll} steps from a zero state
     * carried across windows. The model's training mode is restored afterwards.
     */
    public static double perplexity(LanguageModel model, Batches data, int unroll) {
        return Math.exp(nll(model, data, unroll) / data.tokens());
    }

    /** Summed cross-entropy of {@code data} under the model (evaluation mode). */
    public static double nll(LanguageModel model, Batches data, int unroll) {
        boolean wasTraining = model.isTraining();
        model.eval();
        try (LanguageModel.State hidden = model.newState(data.batch())) {
            double total = 0;
            int steps = data.steps();
            for (int w = 0, n = windows(steps, unroll); w < n; w++) {
                int from = w * unroll, len = Math.min(unroll, steps - from);
                total += model.evalWindow(data.x(from, len), data.y(from, len), len, data.batch(), hidden);
            }
            return total;
        } finally {
            model.train(wasTraining);
        }
    }
}
