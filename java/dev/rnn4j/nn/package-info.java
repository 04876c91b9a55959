/**
 * Layers with PyTorch's semantics and {@code state_dict} names: {@link dev.rnn4j.nn.RNN},
 * {@link dev.rnn4j.nn.LSTM}, {@link dev.rnn4j.nn.GRU} and their cells, {@link dev.rnn4j.nn.SRU},
 * {@link dev.rnn4j.nn.Linear}, {@link dev.rnn4j.nn.Embedding}, {@link dev.rnn4j.nn.Dropout};
 * the containers {@link dev.rnn4j.nn.Sequential} and {@link dev.rnn4j.nn.ModuleList} (a
 * composite of one's own is a {@link dev.rnn4j.nn.Module} subclass that registers its layers);
 * {@link dev.rnn4j.nn.RecurrentStream} carries a layer's state across chunks of a long sequence.
 *
 * <p>Backward is explicit: a layer's {@code backward} takes its forward result and the upstream
 * gradients, returns the input gradients and adds the parameter gradients to
 * {@link dev.rnn4j.nn.Parameter#grad()}.
 *
 * <p>The base class is called {@code Module}, like PyTorch's, which clashes with
 * {@code java.lang.Module} under {@code import dev.rnn4j.nn.*;}: add a single-type import
 * {@code import dev.rnn4j.nn.Module;}, which takes precedence over both.
 */
package dev.rnn4j.nn;
