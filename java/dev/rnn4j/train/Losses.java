package dev.rnn4j.train;

import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;

import java.util.Arrays;

/**
 * Loss functions with their gradients, computed on the input's device: PyTorch's
 * {@code nn.MSELoss} and {@code nn.CrossEntropyLoss} (logits and class indices).
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
        Backend be = input.backend();
        Tensor diff = input.copy();
        try {
            be.axpy(n, -1f, target.buffer(), 0, diff.buffer(), 0);
            double sum = be.sumSquares(n, diff.buffer(), 0);
            double value = reduction == Reduction.MEAN ? sum / n : sum;
            be.scale(n, (float) (reduction == Reduction.MEAN ? 2.0 / n : 2.0), diff.buffer(), 0);
            return new LossValue(value, diff);
        } catch (RuntimeException | Error e) {
            diff.close();
            throw e;
        }
    }

    /** {@link #mse(Tensor, Tensor, Reduction)} with {@link Reduction#MEAN}. */
    public static LossValue mse(Tensor input, Tensor target) { return mse(input, target, Reduction.MEAN); }

    /**
     * Cross-entropy of logits against class indices, PyTorch's
     * {@code cross_entropy(logits, targets, reduction)}: for each row i,
     * -log(softmax(logits_i)[targets[i]]), averaged over rows (MEAN) or summed; gradient
     * (softmax(logits_i) - onehot(targets_i)), divided by the row count for MEAN.
     *
     * @param logits  (N, C), or (C) for one unbatched row
     * @param targets N class indices, each in [0, C) (PyTorch's ignore_index and label smoothing are not supported)
     * @return the loss and d loss / d logits (the caller closes it)
     * @throws IllegalArgumentException if the shapes disagree, a target is out of range, or N is 0 with MEAN
     * @throws UnsupportedOperationException if the backend has no fused log-softmax (every bundled backend has one)
     */
    public static LossValue crossEntropy(Tensor logits, int[] targets, Reduction reduction) {
        if (logits == null) throw new NullPointerException("logits is null");
        if (targets == null) throw new NullPointerException("targets is null");
        if (reduction == null) throw new NullPointerException("reduction is null");
        int[] s = logits.shape();
        if (s.length != 1 && s.length != 2)
            throw new IllegalArgumentException("logits: expected shape (N, C) or (C), got " + Shapes.str(s));
        int rows = s.length == 2 ? s[0] : 1, classes = s[s.length - 1];
        if (targets.length != rows)
            throw new IllegalArgumentException("targets: expected " + rows + " class indices for logits " + Shapes.str(s) + ", got " + targets.length);
        for (int i = 0; i < rows; i++)
            if (targets[i] < 0 || targets[i] >= classes)
                throw new IllegalArgumentException("targets[" + i + "] = " + targets[i] + " is not a class index in [0, " + classes + ")");
        if (rows == 0 && reduction == Reduction.MEAN) throw new IllegalArgumentException("mean over zero rows");
        Backend be = logits.backend();
        Tensor grad = Tensor.zeros(logits.device(), s);
        try {
            float scale = reduction == Reduction.MEAN ? 1f / rows : 1f;
            double sum = rows == 0 ? 0 : be.logSoftmaxNll(rows, classes, logits.buffer(), 0, targets.clone(), 0, scale, grad.buffer(), 0);
            return new LossValue(reduction == Reduction.MEAN ? sum / rows : sum, grad);
        } catch (RuntimeException | Error e) {
            grad.close();
            throw e;
        }
    }

    /** {@link #crossEntropy(Tensor, int[], Reduction)} with {@link Reduction#MEAN}. */
    public static LossValue crossEntropy(Tensor logits, int[] targets) { return crossEntropy(logits, targets, Reduction.MEAN); }

    private static void sameDevice(Tensor a, Tensor b, String what) {
        if (a.device() != b.device())
            throw new IllegalArgumentException(what + " is on " + b.device() + ", the input on " + a.device());
    }
}
