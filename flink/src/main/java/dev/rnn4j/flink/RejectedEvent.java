// The side-output record for an event skipped as bad input.
package dev.rnn4j.flink;

/**
 * An event the operator skipped: its key ({@code String.valueOf}), why, and the event
 * ({@code String.valueOf}).
 */
public record RejectedEvent(String key, String reason, String event) {}
