/**
 * Training: the optimizers {@link dev.rnn4j.train.SGD}, {@link dev.rnn4j.train.Adam} and
 * {@link dev.rnn4j.train.AdamW} with PyTorch's update rules and defaults, gradient-norm clipping
 * ({@link dev.rnn4j.train.Gradients}, optionally failing on a non-finite norm with
 * {@link dev.rnn4j.train.NonFiniteGradientException}), mean-squared-error and cross-entropy
 * losses with their gradients, also weighted or masked ({@code ignore_index})
 * ({@link dev.rnn4j.train.Losses}), the schedules {@link dev.rnn4j.train.StepLR} and
 * {@link dev.rnn4j.train.ExponentialLR}, and {@link dev.rnn4j.train.Checkpoints} that store a
 * model with its optimizer state. Everything runs on the parameters' device.
 *
 * <pre>{@code
 * try (Adam adam = Adam.builder(model.namedParameters().values()).lr(1e-2).build()) {
 *     for (int epoch = 0; epoch < 100; epoch++) {
 *         model.zeroGrad();
 *         try (RecurrentOutput out = gru.forward(x); LossValue loss = Losses.mse(out.output(), y)) {
 *             gru.backward(out, loss.grad(), null).close();
 *         }
 *         Gradients.clipGradNorm(model.namedParameters().values(), 1.0);
 *         adam.step();
 *     }
 * }
 * }</pre>
 */
package dev.rnn4j.train;
