package dev.rnn4j.natives;

/** A native call returned a failure status; the message names the call and carries rnn4j_last_error(). */
public class NativeCallException extends RuntimeException {
    private final String call;
    private final int status;

    public NativeCallException(String call, int status, String message) {
        super(message);
        this.call = call;
        this.status = status;
    }

    /** The C function that failed, e.g. {@code rnn4j_abi_version}. */
    public String call() { return call; }

    /** The status it returned (one of the RNN4J_ERR_* codes of rnn4j.h). */
    public int status() { return status; }
}
