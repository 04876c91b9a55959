package dev.rnn4j.serve;

import dev.rnn4j.nn.RNNBase;
import dev.rnn4j.nn.SRU;

import java.util.List;

/**
 * What the {@link Batcher} needs from a model: one batched forward call over host arrays.
 * {@link #of(RNNBase)} and {@link #of(SRU)} adapt the library's recurrent modules; the
 * interface is public so that a service can put its own model (or a test its own failure)
 * behind a batcher.
 *
 * <p>Layouts are row-major and time-major: the input is (T, B, inputSize), the output
 * (T, B, outputSize), and each state (rows, B, width), the module's own h0/c0 layout. Calls come
 * from the batcher's one worker thread.
 */
public interface ServedModel {

    /**
     * One recurrent state a sequence carries from call to call: h or c, (rows, width) per sequence.
     *
     * @param name  the state's name ("h", "c")
     * @param rows  its rows per sequence, as in the module's h0/c0 (num_layers, times the directions for RNN, LSTM and GRU)
     * @param width its values per row
     */
    record StateSpec(String name, int rows, int width) {
        /** The state's values per sequence, {@code rows * width}. */
        public int perSequence() { return rows * width; }
    }

    /**
     * What one batched forward call returns.
     *
     * @param output      (T, B, outputSize), time-major
     * @param finalStates the final states, one (rows, B, width) array per {@link #states()} entry
     */
    record BatchOutput(float[] output, List<float[]> finalStates) {}

    /** Values per step of one sequence's input: the last dimension of {@link #forward}'s input. */
    int inputSize();

    /** Values per step of one sequence's output: the last dimension of {@link BatchOutput#output()}. */
    int outputSize();

    /** The states in the order of {@link #forward}'s {@code initial} and of {@link BatchOutput#finalStates()}. */
    List<StateSpec> states();

    /**
     * Whether {@link #forward} takes sequences of different lengths in one call (padded to the
     * longest, with {@code lengths}); if not, the batcher runs each length as its own call.
     */
    default boolean takesLengths() { return false; }

    /**
     * Runs B sequences of T steps at once.
     *
     * @param input   (T, B, inputSize), time-major
     * @param steps   T
     * @param batch   B
     * @param lengths each sequence's length ({@code <= T}, the rest is padding), or null when all are T;
     *                never non-null unless {@link #takesLengths()}
     * @param initial one (rows, B, width) array per state, or null entries (or a null list) for zeros
     * @return the output and the final states
     */
    BatchOutput forward(float[] input, int steps, int batch, int[] lengths, List<float[]> initial);

    /**
     * An RNN, LSTM or GRU in eval mode (batch-first modules included: the adapter transposes).
     *
     * @param module the module, which stays the caller's to close
     * @return the module as a served model
     */
    static ServedModel of(RNNBase module) {
        if (module == null) throw new NullPointerException("module is null");
        return new ModuleAdapter.Recurrent(module);
    }

    /**
     * An SRU in eval mode; its one state is c (num_layers, D*hidden).
     *
     * @param module the module, which stays the caller's to close
     * @return the module as a served model
     */
    static ServedModel of(SRU module) {
        if (module == null) throw new NullPointerException("module is null");
        return new ModuleAdapter.Sru(module);
    }
}
