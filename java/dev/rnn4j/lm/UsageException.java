package dev.rnn4j.lm;

/** A usage error of {@code rnn4j lm}: printed on one line, exit status 2. */
final class UsageException extends Exception {
    UsageException(String message) { super(message); }
}
