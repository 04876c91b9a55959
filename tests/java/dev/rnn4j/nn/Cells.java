package dev.rnn4j.nn;

import dev.rnn4j.backend.Op;

import java.util.List;

/** The library's cells as the whole-recurrence op takes them, for the backend tests (the cell classes are package-private). */
public final class Cells {
    private Cells() {}

    public static final Op.RecurrentForward.Cell RNN_TANH = CellType.RNN_TANH, RNN_RELU = CellType.RNN_RELU,
            LSTM = CellType.LSTM, GRU = CellType.GRU;

    /** Every cell that runs in {@link Op.RecurrentForward}. */
    public static List<Op.RecurrentForward.Cell> fused() { return List.of(RNN_TANH, RNN_RELU, LSTM, GRU); }
}
