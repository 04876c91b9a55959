package dev.rnn4j.nn;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceBuffer;

import java.util.Arrays;

/**
 * The packed layout of a variable-length batch, as PyTorch's {@code PackedSequence}: the
 * sequences are sorted by length, longest first (stable, so equal lengths keep their order),
 * and the rows of step t are the first {@code size(t)} sorted sequences, stored contiguously at
 * row {@code offset(t)} of an (N, width) matrix, N = the number of real tokens. Since the
 * active sequences of every step are a prefix, the recurrence runs each step on {@code size(t)}
 * rows and every whole-sequence GEMM on the N real rows, so the cost follows the real tokens.
 *
 * <p>A full batch (every length T) is the trivial packing: size B at every step, offset t*B,
 * the identity order, so the packed layout is the time-major padded one.
 */
final class Packing {
    final int steps, batch, total;
    /** Sorted position i -> batch index of that sequence in the caller's order. */
    private final int[] order;
    /** Length of the sequence at sorted position i (non-increasing). */
    private final int[] sortedLength;
    private final int[] size;
    private final long[] offset;
    private final boolean full;

    private Packing(int steps, int batch, int[] order, int[] sortedLength) {
        this.steps = steps;
        this.batch = batch;
        this.order = order;
        this.sortedLength = sortedLength;
        this.size = new int[steps];
        this.offset = new long[steps + 1];
        int rows = batch;
        for (int t = 0; t < steps; t++) {
            while (rows > 0 && sortedLength[rows - 1] <= t) rows--;
            size[t] = rows;
            offset[t + 1] = offset[t] + rows;
        }
        this.total = Math.toIntExact(offset[steps]);
        this.full = total == (long) steps * batch;
    }

    /** Every sequence runs all {@code steps} steps. */
    static Packing full(int steps, int batch) {
        int[] order = new int[batch], len = new int[batch];
        for (int i = 0; i < batch; i++) { order[i] = i; len[i] = steps; }
        return new Packing(steps, batch, order, len);
    }

    /**
     * The packing of {@code lengths} (one per batch element, any order, each 1..steps), checked
     * here, before any work: a wrong count or a length out of range is an
     * IllegalArgumentException naming it.
     */
    static Packing of(int[] lengths, int steps, int batch) {
        if (lengths == null) throw new NullPointerException("lengths is null");
        if (lengths.length != batch)
            throw new IllegalArgumentException("lengths: expected one length per batch element (" + batch + "), got "
                    + lengths.length + " lengths");
        for (int b = 0; b < batch; b++)
            if (lengths[b] < 1 || lengths[b] > steps)
                throw new IllegalArgumentException("lengths[" + b + "] = " + lengths[b] + " is out of range: every length must be in 1.."
                        + steps + " (the padded sequence length)");
        Integer[] idx = new Integer[batch];
        for (int i = 0; i < batch; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> Integer.compare(lengths[b], lengths[a]));   // stable: ties keep their order
        int[] order = new int[batch], len = new int[batch];
        for (int i = 0; i < batch; i++) { order[i] = idx[i]; len[i] = lengths[idx[i]]; }
        return new Packing(steps, batch, order, len);
    }

    /** Whether every sequence has all the steps (then the packed layout is the padded one). */
    boolean isFull() { return full; }

    /** Number of sequences still running at step t. */
    int size(int t) { return size[t]; }

    /** First packed row of step t. */
    long offset(int t) { return offset[t]; }

    int order(int i) { return order[i]; }

    int length(int i) { return sortedLength[i]; }

    int[] lengthsInCallerOrder() {
        int[] l = new int[batch];
        for (int i = 0; i < batch; i++) l[order[i]] = sortedLength[i];
        return l;
    }

    /**
     * Packs a padded batch in the caller's order into {@code dst} ((N, width), rows of padded
     * steps left out). {@code src} holds sequence b's step t at element
     * {@code b*batchStride + t*timeStride}; time-major (T, B, w) is (w, B*w), batch-first
     * (B, T, w) is (T*w, w). {@code scratch} is a zeroed (T, B, width) buffer.
     */
    void pack(Backend be, int width, DeviceBuffer src, long srcOff, long batchStride, long timeStride,
              DeviceBuffer scratch, DeviceBuffer dst, long dstOff) {
        long slot = (long) batch * width;
        // Sorted padded copy, one strided copy per sequence, then one contiguous copy per step.
        for (int i = 0; i < batch; i++)
            be.copy2d(sortedLength[i], width, src, srcOff + order[i] * batchStride, Math.toIntExact(timeStride),
                    scratch, (long) i * width, Math.toIntExact(slot));
        for (int t = 0; t < steps; t++)
            be.copy(scratch, t * slot, dst, dstOff + offset[t] * width, (long) size[t] * width);
    }

    /**
     * The inverse of {@link #pack}: writes the packed rows of {@code src} into a padded batch
     * in the caller's order (strides as for pack). Padded steps of {@code dst} are not written
     * (the caller gives a zeroed tensor); {@code scratch} is a (T, B, width) buffer.
     */
    void unpack(Backend be, int width, DeviceBuffer src, long srcOff, DeviceBuffer scratch,
                DeviceBuffer dst, long dstOff, long batchStride, long timeStride) {
        long slot = (long) batch * width;
        for (int t = 0; t < steps; t++)
            be.copy(src, srcOff + offset[t] * width, scratch, t * slot, (long) size[t] * width);
        for (int i = 0; i < batch; i++)
            be.copy2d(sortedLength[i], width, scratch, (long) i * width, Math.toIntExact(slot),
                    dst, dstOff + order[i] * batchStride, Math.toIntExact(timeStride));
    }

    /**
     * Reorders the batch dimension of a (rows, B, width) tensor: {@code toSorted} moves the
     * caller's order into the sorted one, else back. One strided copy per batch element.
     */
    void permute(Backend be, int rows, int width, DeviceBuffer src, DeviceBuffer dst, boolean toSorted) {
        int ld = Math.toIntExact((long) batch * width);
        for (int i = 0; i < batch; i++) {
            long sorted = (long) i * width, caller = (long) order[i] * width;
            be.copy2d(rows, width, src, toSorted ? caller : sorted, ld, dst, toSorted ? sorted : caller, ld);
        }
    }
}
