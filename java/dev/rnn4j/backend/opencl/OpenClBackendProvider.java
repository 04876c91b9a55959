package dev.rnn4j.backend.opencl;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.BackendProvider;
import dev.rnn4j.BackendUnavailableException;

import java.util.List;

/**
 * Provides the OpenCL backend. The device is the first GPU of any platform, else the first
 * device; the system property {@value #DEVICE_PROPERTY} picks another by index (as listed by
 * {@link #devices()}) or by a case-insensitive substring of its device or platform name.
 */
public final class OpenClBackendProvider implements BackendProvider {
    /** System property selecting the device: an index or a name substring. */
    public static final String DEVICE_PROPERTY = "rnn4j.opencl.device";

    /** Reason given when the OpenCL loader library itself is missing. */
    public static final String NO_RUNTIME =
            "no OpenCL runtime: libOpenCL could not be loaded (install ocl-icd-libopencl1 and pocl-opencl-icd)";
    /** Reason given when the loader finds no platform (no installable client driver). */
    public static final String NO_PLATFORM = "no OpenCL platform found (install pocl-opencl-icd)";
    /** Start of the reason given when platforms exist but none has a device; platform names follow. */
    public static final String NO_DEVICE_PREFIX = "no OpenCL device found on platform(s): ";

    /** Why the backend is or is not available. */
    public enum Status {
        AVAILABLE,
        /** No libOpenCL on this machine. */
        NO_RUNTIME,
        /** libOpenCL present, but no platform (ICD) installed. */
        NO_PLATFORM,
        /** Platforms, but no device on any of them. */
        NO_DEVICE,
        /** Something else went wrong (JOCL natives, a failing driver, a bad device selector). */
        ERROR;

        /** Whether this status means OpenCL is simply not installed here (as opposed to broken). */
        public boolean absent() { return this == NO_RUNTIME || this == NO_PLATFORM || this == NO_DEVICE; }
    }

    /** A probe result with its status: {@code detail} is the device description or the reason. */
    public record Probe(Status status, String detail) implements Probed {
        @Override public boolean available() { return status == Status.AVAILABLE; }
    }

    @Override public String name() { return "opencl"; }

    @Override public Availability probe() { return probeStatus().availability(); }

    /** Like {@link #probe()}, with the status that tells "not installed" from "broken". Never throws. */
    public static Probe probeStatus() {
        OpenClRuntime.Discovery d = OpenClRuntime.discover();
        if (d.status() != Status.AVAILABLE) return new Probe(d.status(), d.reason());
        try {
            OpenClRuntime.DeviceInfo dev = OpenClRuntime.select(d.devices(), System.getProperty(DEVICE_PROPERTY));
            return new Probe(Status.AVAILABLE, dev.describe());
        } catch (IllegalArgumentException e) {
            return new Probe(Status.ERROR, e.getMessage());
        }
    }

    /** Every OpenCL device of every platform, one line each, numbered as {@value #DEVICE_PROPERTY} counts them. */
    public static List<String> devices() {
        return OpenClRuntime.discover().devices().stream().map(OpenClRuntime.DeviceInfo::describe).toList();
    }

    @Override
    public Backend create() { return open(); }

    /** Opens the backend on the selected device; throws {@link BackendUnavailableException} saying why it cannot. */
    public static OpenClBackend open() {
        OpenClRuntime.Discovery d = OpenClRuntime.discover();
        if (d.status() != Status.AVAILABLE) throw new BackendUnavailableException("opencl: " + d.reason());
        OpenClRuntime.DeviceInfo dev;
        try {
            dev = OpenClRuntime.select(d.devices(), System.getProperty(DEVICE_PROPERTY));
        } catch (IllegalArgumentException e) {
            throw new BackendUnavailableException("opencl: " + e.getMessage());
        }
        return new OpenClBackend(dev);
    }
}
