package dev.rnn4j.backend.opencl;

import org.jocl.CL;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What OpenCL offers on this machine: loads JOCL (whose JNI library then opens the system's
 * libOpenCL), and lists every device of every platform. Never throws: failures become a
 * {@link Discovery} with a status and a one-line reason.
 */
final class OpenClRuntime {
    private OpenClRuntime() {}

    /**
     * One OpenCL device, numbered across all platforms in enumeration order; {@code hostMemory}
     * for a CPU device, whose buffers are the host's own memory.
     */
    record DeviceInfo(int index, cl_platform_id platform, cl_device_id device,
                      String platformName, String name, String version, boolean gpu,
                      int computeUnits, long globalMemBytes, boolean hostMemory) {
        String describe() {
            return "#" + index + " " + name + " [" + (gpu ? "GPU" : "non-GPU") + ", " + platformName + ", " + version
                    + ", " + computeUnits + " compute units, " + (globalMemBytes >> 20) + " MiB]";
        }
    }

    record Discovery(OpenClBackendProvider.Status status, String reason, List<DeviceInfo> devices) {}

    /** The outcome of loading JOCL's natives: null when loaded, else why not. Loaded at most once. */
    private static final class Load {
        static final OpenClBackendProvider.Probe FAILURE = load();

        private static OpenClBackendProvider.Probe load() {
            try {
                CL.stringFor_errorCode(CL.CL_SUCCESS); // runs org.jocl.CL's static initialiser, which loads the natives
                return null;
            } catch (UnsatisfiedLinkError e) {
                String msg = String.valueOf(e.getMessage());
                if (msg.contains("Could not initialize native OpenCL library"))
                    return new OpenClBackendProvider.Probe(OpenClBackendProvider.Status.NO_RUNTIME, OpenClBackendProvider.NO_RUNTIME);
                return new OpenClBackendProvider.Probe(OpenClBackendProvider.Status.ERROR, "cannot load JOCL's native library: " + msg);
            } catch (NoClassDefFoundError e) {
                return new OpenClBackendProvider.Probe(OpenClBackendProvider.Status.ERROR,
                        "JOCL (org.jocl:jocl) is not on the class path: " + e.getMessage());
            } catch (LinkageError | RuntimeException e) {
                return new OpenClBackendProvider.Probe(OpenClBackendProvider.Status.ERROR, "cannot initialise JOCL: " + e);
            }
        }
    }

    static synchronized Discovery discover() {
        OpenClBackendProvider.Probe failed = Load.FAILURE;
        if (failed != null) return new Discovery(failed.status(), failed.detail(), List.of());
        try {
            int[] count = new int[1];
            int st = CL.clGetPlatformIDs(0, null, count);
            if (st == CL.CL_PLATFORM_NOT_FOUND_KHR || (st == CL.CL_SUCCESS && count[0] == 0))
                return new Discovery(OpenClBackendProvider.Status.NO_PLATFORM, OpenClBackendProvider.NO_PLATFORM, List.of());
            Cl.check(st, "clGetPlatformIDs");
            cl_platform_id[] platforms = new cl_platform_id[count[0]];
            Cl.check(CL.clGetPlatformIDs(platforms.length, platforms, null), "clGetPlatformIDs");
            List<DeviceInfo> devices = new ArrayList<>();
            List<String> platformNames = new ArrayList<>();
            for (cl_platform_id p : platforms) {
                String pname = Cl.platformString(p, CL.CL_PLATFORM_NAME);
                platformNames.add(pname);
                int[] n = new int[1];
                st = CL.clGetDeviceIDs(p, CL.CL_DEVICE_TYPE_ALL, 0, null, n);
                if (st == CL.CL_DEVICE_NOT_FOUND || (st == CL.CL_SUCCESS && n[0] == 0)) continue;
                Cl.check(st, "clGetDeviceIDs");
                cl_device_id[] ids = new cl_device_id[n[0]];
                Cl.check(CL.clGetDeviceIDs(p, CL.CL_DEVICE_TYPE_ALL, ids.length, ids, null), "clGetDeviceIDs");
                for (cl_device_id d : ids) {
                    long type = Cl.deviceLong(d, CL.CL_DEVICE_TYPE);
                    devices.add(new DeviceInfo(devices.size(), p, d, pname,
                            Cl.deviceString(d, CL.CL_DEVICE_NAME),
                            Cl.deviceString(d, CL.CL_DEVICE_VERSION),
                            (type & CL.CL_DEVICE_TYPE_GPU) != 0,
                            Cl.deviceInt(d, CL.CL_DEVICE_MAX_COMPUTE_UNITS),
                            Cl.deviceLong(d, CL.CL_DEVICE_GLOBAL_MEM_SIZE),
                            (type & CL.CL_DEVICE_TYPE_CPU) != 0));
                }
            }
            if (devices.isEmpty())
                return new Discovery(OpenClBackendProvider.Status.NO_DEVICE,
                        OpenClBackendProvider.NO_DEVICE_PREFIX + String.join(", ", platformNames), List.of());
            return new Discovery(OpenClBackendProvider.Status.AVAILABLE, "", List.copyOf(devices));
        } catch (RuntimeException | LinkageError e) {
            return new Discovery(OpenClBackendProvider.Status.ERROR, "OpenCL device discovery failed: " + e.getMessage(), List.of());
        }
    }

    /**
     * Picks the device: by {@code selector} (a device index, or a case-insensitive substring of
     * the device or platform name) when given, else the first GPU, else the first device.
     * Throws IllegalArgumentException when the selector matches nothing.
     */
    static DeviceInfo select(List<DeviceInfo> devices, String selector) {
        if (selector != null && !selector.isBlank()) {
            String s = selector.trim();
            if (s.length() < 9 && s.chars().allMatch(Character::isDigit)) {
                int i = Integer.parseInt(s);
                if (i < devices.size()) return devices.get(i);
            } else {
                String key = s.toLowerCase(Locale.ROOT);
                for (DeviceInfo d : devices)
                    if (d.name().toLowerCase(Locale.ROOT).contains(key)) return d;
                for (DeviceInfo d : devices)
                    if (d.platformName().toLowerCase(Locale.ROOT).contains(key)) return d;
            }
            List<String> all = devices.stream().map(DeviceInfo::describe).toList();
            throw new IllegalArgumentException(OpenClBackendProvider.DEVICE_PROPERTY + "=" + selector
                    + " matches no OpenCL device; devices: " + String.join("; ", all));
        }
        for (DeviceInfo d : devices) if (d.gpu()) return d;
        return devices.get(0);
    }
}
