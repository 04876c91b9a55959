package dev.rnn4j;

/** A backend was asked for but cannot run here; the message says why. */
public class BackendUnavailableException extends RuntimeException {
    /** @param message why the backend cannot run here */
    public BackendUnavailableException(String message) { super(message); }

    /**
     * @param message why the backend cannot run here
     * @param cause   the failure that showed it
     */
    public BackendUnavailableException(String message, Throwable cause) { super(message, cause); }
}
