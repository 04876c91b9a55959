package dev.rnn4j.train;

import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;

import java.util.Arrays;

/**
 * Loss functions with their gradients, computed on the input's device: PyTorch's
 * {@code nn.MSELoss} (also weighted or masked) and {@code nn.CrossEntropyLoss} (logits and
 * class indices, with class weights and {@code ignore_index}), with PyTorch's reductions.
 */
public final class Losses {
    private Losses() {}

    /**
     * Mean squared error, PyTorch's {@code mse_loss(input, target, reduction)}: the mean (or
     * sum) of (input - target)^2 over all elements, and its gradient 2 (input - target) / N (or
     * without / N for SUM).
     *
     * @param input  any shape
     * @param target the same shape, on the same device
     * @return the loss and d loss / d input (the caller closes it)
     * @throws IllegalArgumentException if the shapes or devices differ or the tensors are empty with MEAN
     * @throws NullPointerException     if an argument is null
     */
    public static LossValue mse(Tensor input, Tensor target, Reduction reduction) {
        if (input == null) throw new NullPointerException("input is null");
        if (target == null) throw new NullPointerException("target is null");
        if (reduction == null) throw new NullPointerException("reduction is null");
        sameDevice(input, target, "target");
        if (!Arrays.equals(input.shape(), target.shape()))
            throw new IllegalArgumentException("target: expected the input's shape " + Shapes.str(input.shape()) + ", got " + Shapes.str(target.shape()));
        long n = input.numel();
        if (n == 0 && reduction == Reduction.MEAN) throw new IllegalArgumentException("mean of an empty input");
        Backend be = DeviceAccess.backend(input);
        Tensor diff = input.copy();
        try {
            be.axpy(n, -1f, DeviceAccess.buffer(target), 0, DeviceAccess.buffer(diff), 0);
            double sum = be.sumSquares(n, DeviceAccess.buffer(diff), 0);
            double value = reduction == Reduction.MEAN ? sum / n : sum;
            be.scale(n, (float) (reduction == Reduction.MEAN ? 2.0 / n : 2.0), DeviceAccess.buffer(diff), 0);
            return new LossValue(value, diff);
        } catch (RuntimeException | Error e) {
            diff.close();
            throw e;
        }
    }

    /**
     * Weighted (or masked) mean squared error: {@code sum(weight * (input - target)^2)}, divided
     * by {@code sum(weight)} for MEAN, the PyTorch idiom
     * {@code ((input - target)**2 * weight).sum() / weight.sum()}; a 0/1 mask gives the mean over
     * the elements it keeps, e.g. the real steps of a padded batch. The gradient is
     * {@code 2 * weight * (input - target)}, divided by {@code sum(weight)} for MEAN. With MEAN
     * and {@code sum(weight) == 0} the loss is NaN (0/0) and the gradient zero. A mask over
     * fewer dimensions than the input can be widened with {@link Tensor#expandDim}.
     *
     * @param weight the input's shape, on its device: each element's weight
     * @return the loss and d loss / d input (the caller closes it)
     * @throws IllegalArgumentException if the shapes or devices differ
     * @throws NullPointerException     if an argument is null
     */
    public static LossValue mse(Tensor input, Tensor target, Tensor weight, Reduction reduction) {
        if (input == null) throw new NullPointerException("input is null");
        if (target == null) throw new NullPointerException("target is null");
        if (weight == null) throw new NullPointerException("weight is null");
        if (reduction == null) throw new NullPointerException("reduction is null");
        sameDevice(input, target, "target");
        sameDevice(input, weight, "weight");
        if (!Arrays.equals(input.shape(), target.shape()))
            throw new IllegalArgumentException("target: expected the input's shape " + Shapes.str(input.shape()) + ", got " + Shapes.str(target.shape()));
        if (!Arrays.equals(input.shape(), weight.shape()))
            throw new IllegalArgumentException("weight: expected the input's shape " + Shapes.str(input.shape()) + ", got " + Shapes.str(weight.shape()));
        long n = input.numel();
        Backend be = DeviceAccess.backend(input);
        boolean mean = reduction == Reduction.MEAN;
        double div = mean ? weight.sumAll() : 1;
        try (Tensor diff = input.sub(target)) {
            Tensor grad = diff.mul(weight);                        // w * d
            try {
                if (mean && div == 0) {
                    grad.fill(0f);
                    return new LossValue(Double.NaN, grad);
                }
                be.mul(n, DeviceAccess.buffer(grad), 0, DeviceAccess.buffer(diff), 0, DeviceAccess.buffer(diff), 0);   // diff := w * d^2
                double value = diff.sumAll() / div;
                be.scale(n, (float) (2.0 / div), DeviceAccess.buffer(grad), 0);
                return new LossValue(value, grad);
            } catch (RuntimeException | Error e) {
                grad.close();
                throw e;
            }
        }
    }

    /** {@link #mse(Tensor, Tensor, Reduction)} with {@link Reduction#MEAN}. */
    public static LossValue mse(Tensor input, Tensor target) { return mse(input, target, Reduction.MEAN); }

    /**
     * Cross-entropy of logits against class indices, PyTorch's
     * {@code cross_entropy(logits, targets, reduction)}: for each row i,
     * -log(softmax(logits_i)[targets[i]]), averaged over rows (MEAN) or summed; gradient
     * (softmax(logits_i) - onehot(targets_i)), divided by the row count for MEAN. For padded
     * batches and class weights see {@link #crossEntropy(Tensor, int[], float[], int, Reduction)}.
     *
     * @param logits  (N, C), or (C) for one unbatched row
     * @param targets N class indices, each in [0, C)
     * @return the loss and d loss / d logits (the caller closes it)
     * @throws IllegalArgumentException if the shapes disagree, a target is out of range, or N is 0 with MEAN
     * @throws UnsupportedOperationException if the backend has no fused log-softmax (every bundled backend has one)
     */
    public static LossValue crossEntropy(Tensor logits, int[] targets, Reduction reduction) {
        return crossEntropy(logits, targets, null, false, 0, reduction);
    }

    /** PyTorch's default {@code ignore_index}: a target of -100 marks a row (e.g. a padded step) that does not count. */
    public static final int IGNORE_INDEX = -100;

    /**
     * Cross-entropy with class weights and ignored rows, PyTorch's
     * {@code cross_entropy(logits, targets, weight=weight, ignore_index=ignoreIndex, reduction)}.
     * Row i has weight {@code w_i = weight[targets[i]]} (1 without weights), or 0 if
     * {@code targets[i] == ignoreIndex}. SUM is {@code sum_i w_i * nll_i}; MEAN divides it by
     * {@code sum_i w_i} (the mean over the rows that count, weighted), as PyTorch does. The
     * gradient of row i is {@code w_i (softmax(logits_i) - onehot(targets_i))}, divided by
     * {@code sum_i w_i} for MEAN; ignored rows get zero. With MEAN and a total weight of 0 (every
     * row ignored) the loss is NaN, as PyTorch's 0/0, and the gradient zero.
     *
     * <p>For per-step losses over a padded (T, B, C) batch, view the logits as (T*B, C) and set
     * the targets of the padded steps to {@link #IGNORE_INDEX}. Cost: one fused log-softmax
     * per distinct row weight (one in all without class weights), plus a gather and a scatter
     * of the rows when some are ignored or the weights differ.
     *
     * @param logits      (N, C), or (C) for one unbatched row
     * @param targets     N values, each a class index in [0, C) or {@code ignoreIndex}
     * @param weight      C finite class weights, or null for weight 1 everywhere
     * @param ignoreIndex the target value of rows that do not count: PyTorch's default {@link #IGNORE_INDEX}, or a
     *                    class index (e.g. a padding class 0), whose rows then never count
     * @return the loss and d loss / d logits (the caller closes it)
     * @throws IllegalArgumentException if the shapes disagree, a target is neither a class index nor ignoreIndex,
     *                                  or weight has the wrong length or a non-finite value
     */
    public static LossValue crossEntropy(Tensor logits, int[] targets, float[] weight, int ignoreIndex, Reduction reduction) {
        return crossEntropy(logits, targets, weight, true, ignoreIndex, reduction);
    }

    /** The two public forms: without {@code hasIgnore} every target must be a class index, and MEAN over zero rows fails. */
    private static LossValue crossEntropy(Tensor logits, int[] targets, float[] weight, boolean hasIgnore, int ignoreIndex,
                                          Reduction reduction) {
        if (logits == null) throw new NullPointerException("logits is null");
        if (targets == null) throw new NullPointerException("targets is null");
        if (reduction == null) throw new NullPointerException("reduction is null");
        int[] s = logits.shape();
        if (s.length != 1 && s.length != 2)
            throw new IllegalArgumentException("logits: expected shape (N, C) or (C), got " + Shapes.str(s));
        int rows = s.length == 2 ? s[0] : 1, classes = s[s.length - 1];
        if (targets.length != rows)
            throw new IllegalArgumentException("targets: expected " + rows + " class indices for logits " + Shapes.str(s) + ", got " + targets.length);
        if (weight != null) {
            if (weight.length != classes)
                throw new IllegalArgumentException("weight: expected " + classes + " class weights, got " + weight.length);
            for (int c = 0; c < classes; c++)
                if (!Float.isFinite(weight[c])) throw new IllegalArgumentException("weight[" + c + "] = " + weight[c] + " is not finite");
        }
        int[] t = targets.clone();
        float[] rowWeight = new float[rows];
        boolean ignored = false;
        for (int i = 0; i < rows; i++) {
            if (hasIgnore && t[i] == ignoreIndex) {
                ignored = true;
                continue;
            }
            if (t[i] < 0 || t[i] >= classes)
                throw new IllegalArgumentException("targets[" + i + "] = " + t[i] + " is not a class index in [0, " + classes + ")"
                        + (hasIgnore ? " nor the ignoreIndex " + ignoreIndex : ""));
            rowWeight[i] = weight == null ? 1f : weight[t[i]];
        }
        if (rows == 0 && reduction == Reduction.MEAN && !hasIgnore) throw new IllegalArgumentException("mean over zero rows");
        double total = 0;
        for (float w : rowWeight) total += w;
        boolean mean = reduction == Reduction.MEAN;
        Backend be = DeviceAccess.backend(logits);
        Tensor grad = Tensor.zeros(logits.device(), s);
        try {
            if (mean && total == 0) return new LossValue(Double.NaN, grad);   // PyTorch's 0/0; no row counts, so no gradient
            double div = mean ? total : 1;
            boolean oneWeight = !ignored;
            for (int i = 1; oneWeight && i < rows; i++) oneWeight = rowWeight[i] == rowWeight[0];
            if (oneWeight) {
                // every row counts with one weight: the fused op over the logits as they are
                float w = rows == 0 ? 1f : rowWeight[0];
                double sum = rows == 0 ? 0 : be.logSoftmaxNll(rows, classes, DeviceAccess.buffer(logits), 0, t, 0, (float) (w / div), DeviceAccess.buffer(grad), 0);
                return new LossValue(w * sum / div, grad);
            }
            return new LossValue(groupedCrossEntropy(be, logits, t, rowWeight, classes, div, grad) / div, grad);
        } catch (RuntimeException | Error e) {
            grad.close();
            throw e;
        }
    }

    /**
     * The rows of non-zero weight, gathered (an embedding lookup over the logits' rows) in order
     * of weight, so that each run of equal weight is one fused log-softmax whose gradient scale
     * is that weight / div, computed in place; then scattered back into the zero gradient.
     * Returns sum_i w_i * nll_i.
     */
    private static double groupedCrossEntropy(Backend be, Tensor logits, int[] t, float[] rowWeight, int classes, double div,
                                              Tensor grad) {
        int rows = t.length;
        Integer[] order = new Integer[rows];
        int n = 0;
        for (int i = 0; i < rows; i++) if (rowWeight[i] != 0f) order[n++] = i;
        if (n == 0) return 0;
        Arrays.sort(order, 0, n, (a, b) -> Float.compare(rowWeight[a], rowWeight[b]));   // stable: rows keep their order within a run
        int[] ids = new int[n], sortedTargets = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = order[i];
            sortedTargets[i] = t[order[i]];
        }
        double loss = 0;
        try (Tensor rowsOf = Tensor.zeros(logits.device(), n, classes)) {
            be.embeddingForward(ids, 0, n, classes, DeviceAccess.buffer(logits), 0, DeviceAccess.buffer(rowsOf), 0);
            for (int start = 0; start < n; ) {
                float w = rowWeight[ids[start]];
                int end = start + 1;
                while (end < n && rowWeight[ids[end]] == w) end++;
                long off = (long) start * classes;
                loss += w * be.logSoftmaxNll(end - start, classes, DeviceAccess.buffer(rowsOf), off, sortedTargets, start, (float) (w / div),
                        DeviceAccess.buffer(rowsOf), off);
                start = end;
            }
            be.embeddingBackward(ids, 0, n, classes, DeviceAccess.buffer(rowsOf), 0, DeviceAccess.buffer(grad), 0);
        }
        return loss;
    }

    /** {@link #crossEntropy(Tensor, int[], Reduction)} with {@link Reduction#MEAN}. */
    public static LossValue crossEntropy(Tensor logits, int[] targets) { return crossEntropy(logits, targets, Reduction.MEAN); }

    private static void sameDevice(Tensor a, Tensor b, String what) {
        if (a.device() != b.device())
            throw new IllegalArgumentException(what + " is on " + b.device() + ", the input on " + a.device());
    }
}
