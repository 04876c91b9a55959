package dev.rnn4j.lm;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code rnn4j lm train} shows while it runs: a progress bar on a terminal (else a line
 * every 30 s) on stderr, one line per epoch and per test evaluation on stdout, checkpoints
 * written when due, and the closing summary.
 */
final class TrainProgress implements Trainer.Listener {
    private final PrintStream out, err;
    private final boolean terminal;
    private final LanguageModel model;
    private final TrainConfig cfg;
    private final Vocabulary vocab;
    private final Path save;
    private final double saveIntervalNanos;
    private final Map<String, String> dataMeta;
    private final long start = System.nanoTime();
    private long lastPrint = System.nanoTime(), lastSave = System.nanoTime();
    private int barWidth;
    private long tokensTotal;
    private double trainSecondsTotal;
    private int epochsRun;
    private double bestDev = Double.NaN, bestTest = Double.NaN;
    private int bestEpoch = -1;

    TrainProgress(PrintStream out, PrintStream err, boolean terminal, LanguageModel model, TrainConfig cfg,
                  Vocabulary vocab, Path save, double saveIntervalMinutes, Map<String, String> dataMeta) {
        this.out = out;
        this.err = err;
        this.terminal = terminal;
        this.model = model;
        this.cfg = cfg;
        this.vocab = vocab;
        this.save = save;
        this.saveIntervalNanos = saveIntervalMinutes * 60e9;
        this.dataMeta = dataMeta;
    }

    @Override
    public void window(int epoch, int window, int windows, long tokens, double seconds, double lossSum, int windowsDone) {
        long now = System.nanoTime();
        boolean last = window + 1 == windows;
        double rate = tokens / Math.max(seconds, 1e-9);
        double loss = lossSum / Math.max(1, windowsDone);
        if (terminal) {
            if (now - lastPrint < 200_000_000L && !last) return;
            lastPrint = now;
            int width = 24, filled = (int) ((long) width * (window + 1) / windows);
            String line = String.format(Locale.ROOT, "epoch %d [%s%s] %d/%d  %,.0f tokens/s  loss %.3f (ppl %.1f)",
                    epoch, "#".repeat(filled), ".".repeat(width - filled), window + 1, windows, rate, loss, Math.exp(loss));
            err.print("\r" + line + " ".repeat(Math.max(0, barWidth - line.length())));
            barWidth = line.length();
            err.flush();
        } else if (now - lastPrint >= 30_000_000_000L && !last) {
            lastPrint = now;
            err.printf(Locale.ROOT, "  epoch %d: window %d/%d, %,.0f tokens/s, loss %.3f (ppl %.1f)%n",
                    epoch, window + 1, windows, rate, loss, Math.exp(loss));
            err.flush();
        }
    }

    private void clearBar() {
        if (terminal && barWidth > 0) {
            err.print("\r" + " ".repeat(barWidth) + "\r");
            err.flush();
            barWidth = 0;
        }
    }

    @Override
    public void epoch(Trainer.EpochResult r) {
        clearBar();
        tokensTotal += r.tokens();
        trainSecondsTotal += r.trainSeconds();
        epochsRun++;
        if (r.improved()) {
            bestDev = r.devPpl();
            bestEpoch = r.epoch();
        }
        out.printf(Locale.ROOT, "Epoch=%d  lr=%.4f  train_ppl=%.2f  dev_ppl=%.2f  [%.2fm]%n",
                r.epoch(), r.lr(), r.trainPpl(), r.devPpl(), r.seconds() / 60);
        out.flush();
        lastPrint = System.nanoTime();
    }

    @Override
    public void test(int epoch, double testPpl, double seconds) {
        bestTest = testPpl;
        out.printf(Locale.ROOT, "        [eval]  test_ppl=%.2f  [%.2fm]%n", testPpl, seconds / 60);
        out.flush();
    }

    @Override
    public boolean checkpointDue() {
        return save != null && saveIntervalNanos > 0 && System.nanoTime() - lastSave >= saveIntervalNanos;
    }

    @Override
    public void checkpoint(TrainingState state) throws IOException {
        if (save == null) return;
        Checkpoint.save(save, model, cfg, vocab, state, dataMeta);
        lastSave = System.nanoTime();
        if (!state.atEpochBoundary()) {
            clearBar();
            err.println("  checkpoint: " + save + " (epoch " + state.epoch() + ", window " + state.window() + ")");
        }
    }

    void summary(TrainingState end) {
        clearBar();
        double minutes = (System.nanoTime() - start) / 60e9;
        String why = end.unchanged() >= TrainConfig.PATIENCE ? "no dev improvement for " + TrainConfig.PATIENCE + " epochs"
                : "--max_epoch " + cfg.maxEpoch() + " reached";
        out.printf(Locale.ROOT, "done (%s): %d epochs in %.2fm, %,.0f tokens/s while training", why, epochsRun, minutes,
                tokensTotal / Math.max(trainSecondsTotal, 1e-9));
        if (bestEpoch >= 0)
            out.printf(Locale.ROOT, "; best dev_ppl=%.2f (epoch %d), test_ppl=%.2f", bestDev, bestEpoch, bestTest);
        out.println();
        if (save != null) out.println("checkpoint: " + save);
        out.flush();
    }
}
