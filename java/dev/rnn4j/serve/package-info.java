/**
 * Serving one model to many threads: {@link dev.rnn4j.serve.Batcher} merges the single
 * sequences that callers submit into batched forward calls of a
 * {@link dev.rnn4j.serve.ServedModel} (an RNN, LSTM, GRU or SRU in eval mode through
 * {@code ServedModel.of}, or a model of your own), on one worker thread, and completes each
 * caller's future with its own output and final states, so a streaming caller can pass them to
 * its next request. Options (batch size, latency bound, queue capacity, warm-up) are set on
 * {@link dev.rnn4j.serve.Batcher.Builder}; README, "Serving", has an example and measurements.
 */
package dev.rnn4j.serve;
