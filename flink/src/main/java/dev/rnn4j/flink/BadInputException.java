// Thrown for an event the model cannot take under BadInputPolicy.FAIL.
package dev.rnn4j.flink;

/** An event the model cannot take; the message names the key and what is wrong. */
public class BadInputException extends IllegalArgumentException {
    public BadInputException(String message) { super(message); }
}
