package dev.rnn4j.natives;

/**
 * The rnn4j native library could not be loaded or bound: not found, not loadable, a symbol
 * missing or an ABI mismatch. The message names the library path (or every path tried).
 */
public class NativeLibraryException extends RuntimeException {
    public NativeLibraryException(String message) { super(message); }
    public NativeLibraryException(String message, Throwable cause) { super(message, cause); }
}
