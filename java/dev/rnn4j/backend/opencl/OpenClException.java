package dev.rnn4j.backend.opencl;

/**
 * An OpenCL call failed. The message names the call and the error code by its OpenCL name
 * (e.g. {@code clEnqueueNDRangeKernel(rnn4j_gemm) failed: CL_INVALID_WORK_GROUP_SIZE (-54)});
 * a failed program build carries the compiler's build log.
 */
public class OpenClException extends RuntimeException {
    private final int errorCode;

    public OpenClException(String message, int errorCode) {
        super(message);
        this.errorCode = errorCode;
    }

    /** The OpenCL status code ({@code CL_SUCCESS} = 0 when the failure is not a status code). */
    public int errorCode() { return errorCode; }
}
