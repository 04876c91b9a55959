package dev.rnn4j.backend.opencl;

import org.jocl.CL;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

import java.nio.charset.StandardCharsets;

/** Small helpers over JOCL: status checks that name the call, and typed info queries. */
final class Cl {
    private Cl() {}

    /** The OpenCL name of a status code, e.g. "CL_INVALID_VALUE". */
    static String errorName(int code) {
        try {
            return CL.stringFor_errorCode(code);
        } catch (RuntimeException | LinkageError e) {
            return "CL error";
        }
    }

    /** Throws {@link OpenClException} naming {@code call} unless {@code status} is CL_SUCCESS. */
    static void check(int status, String call) {
        if (status != CL.CL_SUCCESS) throw failure(call, status);
    }

    static OpenClException failure(String call, int status) {
        return new OpenClException(call + " failed: " + errorName(status) + " (" + status + ")", status);
    }

    static String platformString(cl_platform_id p, int param) {
        long[] size = new long[1];
        check(CL.clGetPlatformInfo(p, param, 0, null, size), "clGetPlatformInfo");
        byte[] buf = new byte[(int) size[0]];
        check(CL.clGetPlatformInfo(p, param, buf.length, Pointer.to(buf), null), "clGetPlatformInfo");
        return cString(buf);
    }

    static String deviceString(cl_device_id d, int param) {
        long[] size = new long[1];
        check(CL.clGetDeviceInfo(d, param, 0, null, size), "clGetDeviceInfo");
        byte[] buf = new byte[(int) size[0]];
        check(CL.clGetDeviceInfo(d, param, buf.length, Pointer.to(buf), null), "clGetDeviceInfo");
        return cString(buf);
    }

    static long deviceLong(cl_device_id d, int param) {
        long[] v = new long[1];
        check(CL.clGetDeviceInfo(d, param, Sizeof.cl_ulong, Pointer.to(v), null), "clGetDeviceInfo");
        return v[0];
    }

    static int deviceInt(cl_device_id d, int param) {
        int[] v = new int[1];
        check(CL.clGetDeviceInfo(d, param, Sizeof.cl_uint, Pointer.to(v), null), "clGetDeviceInfo");
        return v[0];
    }

    static long deviceSizeT(cl_device_id d, int param) {
        long[] v = new long[1];
        check(CL.clGetDeviceInfo(d, param, Sizeof.size_t, Pointer.to(v), null), "clGetDeviceInfo");
        return v[0];
    }

    static long[] deviceSizeTs(cl_device_id d, int param) {
        long[] size = new long[1];
        check(CL.clGetDeviceInfo(d, param, 0, null, size), "clGetDeviceInfo");
        long[] v = new long[(int) (size[0] / Sizeof.size_t)];
        check(CL.clGetDeviceInfo(d, param, size[0], Pointer.to(v), null), "clGetDeviceInfo");
        return v;
    }

    private static String cString(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) n++;
        return new String(b, 0, n, StandardCharsets.UTF_8).trim();
    }
}
