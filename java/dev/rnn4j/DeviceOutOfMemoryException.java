package dev.rnn4j;

/**
 * A backend could not allocate device memory: the Java heap of the reference backend, or the
 * device memory of a native backend. The message names the backend and the requested size.
 * Nothing was allocated, and the device stays usable: free something and try again.
 */
public class DeviceOutOfMemoryException extends RuntimeException {
    private final String backend;
    private final long requestedBytes;

    /**
     * @param backend        the backend's short name
     * @param requestedBytes bytes the failed allocation asked for
     * @param detail         what the device reported (may be null or empty)
     * @param cause          the underlying failure, or null
     */
    public DeviceOutOfMemoryException(String backend, long requestedBytes, String detail, Throwable cause) {
        super(backend + ": out of device memory allocating " + requestedBytes + " bytes"
                + (detail == null || detail.isEmpty() ? "" : " (" + detail + ")"), cause);
        this.backend = backend;
        this.requestedBytes = requestedBytes;
    }

    /** The backend's short name ("reference", "opencl", ...). */
    public String backend() { return backend; }

    /** Bytes the failed allocation asked for. */
    public long requestedBytes() { return requestedBytes; }
}
