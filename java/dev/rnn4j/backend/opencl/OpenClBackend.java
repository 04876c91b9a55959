package dev.rnn4j.backend.opencl;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.BackendChecks;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.DeviceOutOfMemoryException;
import org.jocl.CL;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;
import org.jocl.cl_program;
import org.jocl.cl_queue_properties;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The OpenCL backend: every primitive of {@link Backend} as a hand-written kernel from
 * {@code kernels/}, run through JOCL on one device with one context and one in-order queue.
 *
 * <p>All kernel sources are built once, as one program, when the backend is created (PoCL and
 * most drivers cache compiled programs on disk; see {@code docs/opencl.md}). Every argument
 * range is checked on the host before a launch, because on a CPU device an out-of-range
 * kernel access would write into the JVM's own memory. Kernel launches are asynchronous;
 * {@link #download} blocks until the queue has produced the data. Calls are serialised by
 * one lock (kernel arguments are per-kernel state in OpenCL).
 */
public final class OpenClBackend implements Backend {
    private static final System.Logger LOG = System.getLogger(OpenClBackend.class.getName());

    /**
     * System property capping the work-group tile side (16, 8, 4, 2 or 1; default 16). The
     * backend lowers the tile by itself on devices that need it; the property exists to test
     * and tune the smaller tiles.
     */
    public static final String MAX_TILE_PROPERTY = "rnn4j.opencl.maxTile";

    /**
     * System property capping the bytes of device memory the backend's buffers may hold at once
     * (default: the device's global memory size). Read when the backend opens; for tests and for
     * sharing a device with other programs.
     */
    public static final String MEMORY_LIMIT_PROPERTY = "rnn4j.opencl.memoryLimit";

    /** Work-group size for the 1-D kernels (lowered on devices or kernels that allow less). */
    private static final int LOCAL_1D = 128;
    /** Most work-groups used by the sum-of-squares partial reduction. */
    private static final int MAX_PARTIALS = 256;
    /** Outputs per work-item along each dimension in rnn4j_gemm_blocked (RNN4J_GEMM_WPT in gemm.cl). */
    private static final int GEMM_WPT = 4;
    /** Most groups along dimension 2 of a GEMM launch; the kernel loops over further batches. */
    private static final int MAX_BATCH_GROUPS = 65535;

    private enum K {
        COPY("rnn4j_copy"), COPY2D("rnn4j_copy2d"), FILL("rnn4j_fill"),
        AXPY("rnn4j_axpy"), SCALE("rnn4j_scale"), MUL("rnn4j_mul"), MUL_ROWS("rnn4j_mul_rows"),
        ADD_ROW_VECTOR("rnn4j_add_row_vector"),
        SUM_ROWS("rnn4j_sum_rows"), SUM_SQUARES("rnn4j_sum_squares_partial"),
        DROPOUT_MASK("rnn4j_dropout_mask"), GEMM("rnn4j_gemm"), GEMM_BLOCKED("rnn4j_gemm_blocked"),
        RNN_FWD("rnn4j_rnn_pointwise_fwd"), RNN_BWD("rnn4j_rnn_pointwise_bwd"),
        LSTM_FWD("rnn4j_lstm_pointwise_fwd"), LSTM_BWD("rnn4j_lstm_pointwise_bwd"),
        GRU_FWD("rnn4j_gru_pointwise_fwd"), GRU_BWD("rnn4j_gru_pointwise_bwd"),
        SRU_FWD("rnn4j_sru_fwd"), SRU_BWD("rnn4j_sru_bwd"),
        EMBEDDING_FWD("rnn4j_embedding_fwd"), EMBEDDING_BWD("rnn4j_embedding_bwd"),
        LOG_SOFTMAX_NLL("rnn4j_log_softmax_nll");

        final String symbol;

        K(String symbol) { this.symbol = symbol; }

        /** Kernels launched with TILE x TILE (or TILE*TILE) work-groups. */
        boolean tiled() {
            return switch (this) {
                case COPY2D, ADD_ROW_VECTOR, SUM_ROWS, GEMM, GEMM_BLOCKED, SUM_SQUARES, EMBEDDING_FWD, EMBEDDING_BWD, LOG_SOFTMAX_NLL -> true;
                default -> false;
            };
        }
    }

    private final OpenClRuntime.DeviceInfo info;
    private final cl_device_id device;
    private final cl_context context;
    private final cl_command_queue queue;
    private final cl_program program;
    private final Map<K, cl_kernel> kernels = new EnumMap<>(K.class);
    private final Map<K, Integer> local1d = new EnumMap<>(K.class);
    private final int tile;
    private final String description;
    private final Object lock = new Object();
    private final Set<OpenClBuffer> live = ConcurrentHashMap.newKeySet();
    /** Stand-in for optional (null) buffer arguments; kernels never read it (their flag is 0). */
    private final cl_mem dummy;
    /** Per-group partial sums of sumSquares. */
    private final cl_mem partials;
    /** Host int data (token ids, targets) staged for a kernel; grown on demand, guarded by lock. */
    private cl_mem ints;
    private long intsCapacity;
    /** Per-row losses of logSoftmaxNll; grown on demand, guarded by lock. */
    private cl_mem losses;
    private long lossesCapacity;
    private volatile boolean closed;
    /** CL_DEVICE_MAX_MEM_ALLOC_SIZE: the largest single buffer the device allows. */
    private final long maxAllocBytes;
    /** Bytes the live buffers may hold together (global memory, or the memory-limit property). */
    private final long memoryLimitBytes;
    /** Bytes held by live buffers (each at least one float); guarded by lock. */
    private long allocatedBytes;

    /** Opens the backend on one device: context, queue, program and kernels. */
    OpenClBackend(OpenClRuntime.DeviceInfo info) {
        this.info = info;
        this.device = info.device();
        cl_context ctx = null;
        cl_command_queue q = null;
        cl_program prog = null;
        cl_mem dm = null, pm = null;
        int t;
        try {
            int[] err = new int[1];
            ctx = CL.clCreateContext(null, 1, new cl_device_id[]{device}, null, null, err);
            Cl.check(err[0], "clCreateContext");
            q = createQueue(ctx, device, info.version());
            dm = CL.clCreateBuffer(ctx, CL.CL_MEM_READ_WRITE, Sizeof.cl_float, null, err);
            Cl.check(err[0], "clCreateBuffer");
            pm = CL.clCreateBuffer(ctx, CL.CL_MEM_READ_WRITE, (long) MAX_PARTIALS * Sizeof.cl_float, null, err);
            Cl.check(err[0], "clCreateBuffer");

            long maxWg = Cl.deviceSizeT(device, CL.CL_DEVICE_MAX_WORK_GROUP_SIZE);
            long[] maxItems = Cl.deviceSizeTs(device, CL.CL_DEVICE_MAX_WORK_ITEM_SIZES);
            t = Integer.highestOneBit(Math.max(1, Math.min(16, Integer.getInteger(MAX_TILE_PROPERTY, 16))));
            while (t > 1 && ((long) t * t > maxWg || t > maxItems[0] || (maxItems.length > 1 && t > maxItems[1]))) t /= 2;
            // Build; if a tiled kernel cannot run TILE*TILE items on this device, rebuild with a smaller tile.
            while (true) {
                prog = build(ctx, device, t);
                createKernels(prog);
                int fits = t;
                for (K k : K.values())
                    if (k.tiled()) while (fits > 1 && (long) fits * fits > kernelWorkGroupSize(kernels.get(k))) fits /= 2;
                if (fits == t) break;
                LOG.log(System.Logger.Level.DEBUG, "OpenCL: tile {0} too large for {1}, rebuilding with {2}", t, info.name(), fits);
                releaseKernels();
                Cl.check(CL.clReleaseProgram(prog), "clReleaseProgram");
                prog = null;
                t = fits;
            }
            for (K k : K.values()) {
                long wg = Math.min(LOCAL_1D, Math.min(maxWg, kernelWorkGroupSize(kernels.get(k))));
                local1d.put(k, Integer.highestOneBit((int) Math.max(1, wg)));
            }
        } catch (RuntimeException | Error e) {
            releaseKernels();
            if (prog != null) CL.clReleaseProgram(prog);
            if (dm != null) CL.clReleaseMemObject(dm);
            if (pm != null) CL.clReleaseMemObject(pm);
            if (q != null) CL.clReleaseCommandQueue(q);
            if (ctx != null) CL.clReleaseContext(ctx);
            throw e;
        }
        this.context = ctx;
        this.queue = q;
        this.program = prog;
        this.dummy = dm;
        this.partials = pm;
        this.tile = t;
        this.maxAllocBytes = Cl.deviceLong(device, CL.CL_DEVICE_MAX_MEM_ALLOC_SIZE);
        long limit = info.globalMemBytes();
        Long prop = Long.getLong(MEMORY_LIMIT_PROPERTY);
        if (prop != null && prop > 0) limit = Math.min(limit, prop);
        this.memoryLimitBytes = limit;
        this.description = "OpenCL: " + info.name() + " (" + info.platformName() + ", " + info.version() + ", "
                + info.computeUnits() + " compute units, " + (info.globalMemBytes() >> 20) + " MiB)";
    }

    @SuppressWarnings("deprecation")
    private static cl_command_queue createQueue(cl_context ctx, cl_device_id dev, String version) {
        int[] err = new int[1];
        cl_command_queue q;
        if (majorVersion(version) >= 2) {
            q = CL.clCreateCommandQueueWithProperties(ctx, dev, new cl_queue_properties(), err);
            Cl.check(err[0], "clCreateCommandQueueWithProperties");
        } else {
            q = CL.clCreateCommandQueue(ctx, dev, 0, err);
            Cl.check(err[0], "clCreateCommandQueue");
        }
        return q;
    }

    /** Major version from "OpenCL 3.0 ..." (1 when unparseable). */
    private static int majorVersion(String version) {
        try {
            String v = version.substring("OpenCL ".length());
            return Integer.parseInt(v.substring(0, v.indexOf('.')));
        } catch (RuntimeException e) {
            return 1;
        }
    }

    private cl_program build(cl_context ctx, cl_device_id dev, int t) {
        long t0 = System.nanoTime();
        cl_program prog = buildProgram(ctx, dev, info.name(), KernelSources.program(), "-DRNN4J_TILE=" + t,
                "the rnn4j kernels (" + String.join(", ", KernelSources.FILES) + ")");
        LOG.log(System.Logger.Level.DEBUG, "OpenCL: built kernels for {0} in {1} ms", info.name(), (System.nanoTime() - t0) / 1_000_000);
        return prog;
    }

    /** Creates and builds a program; on failure the exception carries the compiler's build log. */
    private static cl_program buildProgram(cl_context ctx, cl_device_id dev, String deviceName, String src, String options, String what) {
        int[] err = new int[1];
        cl_program prog = CL.clCreateProgramWithSource(ctx, 1, new String[]{src}, null, err);
        Cl.check(err[0], "clCreateProgramWithSource");
        int st = CL.clBuildProgram(prog, 1, new cl_device_id[]{dev}, options, null, null);
        if (st != CL.CL_SUCCESS) {
            String log = buildLog(prog, dev);
            CL.clReleaseProgram(prog);
            throw new OpenClException("clBuildProgram failed: " + Cl.errorName(st) + " (" + st + ") building " + what
                    + " with \"" + options + "\" for " + deviceName + "; build log:\n" + log, st);
        }
        return prog;
    }

    /** Builds {@code src} on the selected device as the backend builds its kernels, then releases it (for tests of build failures). */
    static void buildForTest(String src) {
        OpenClRuntime.Discovery d = OpenClRuntime.discover();
        if (d.devices().isEmpty()) throw new IllegalStateException("no OpenCL device: " + d.reason());
        OpenClRuntime.DeviceInfo dev = OpenClRuntime.select(d.devices(), System.getProperty(OpenClBackendProvider.DEVICE_PROPERTY));
        int[] err = new int[1];
        cl_context ctx = CL.clCreateContext(null, 1, new cl_device_id[]{dev.device()}, null, null, err);
        Cl.check(err[0], "clCreateContext");
        try {
            CL.clReleaseProgram(buildProgram(ctx, dev.device(), dev.name(), src, "", "a test program"));
        } finally {
            CL.clReleaseContext(ctx);
        }
    }

    private static String buildLog(cl_program prog, cl_device_id dev) {
        long[] size = new long[1];
        if (CL.clGetProgramBuildInfo(prog, dev, CL.CL_PROGRAM_BUILD_LOG, 0, null, size) != CL.CL_SUCCESS) return "(no build log)";
        byte[] b = new byte[(int) size[0]];
        if (CL.clGetProgramBuildInfo(prog, dev, CL.CL_PROGRAM_BUILD_LOG, b.length, Pointer.to(b), null) != CL.CL_SUCCESS)
            return "(no build log)";
        int n = 0;
        while (n < b.length && b[n] != 0) n++;
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    private void createKernels(cl_program prog) {
        int[] err = new int[1];
        for (K k : K.values()) {
            cl_kernel kernel = CL.clCreateKernel(prog, k.symbol, err);
            Cl.check(err[0], "clCreateKernel(" + k.symbol + ")");
            kernels.put(k, kernel);
        }
    }

    private void releaseKernels() {
        for (cl_kernel k : kernels.values()) CL.clReleaseKernel(k);
        kernels.clear();
    }

    private long kernelWorkGroupSize(cl_kernel k) {
        long[] v = new long[1];
        Cl.check(CL.clGetKernelWorkGroupInfo(k, device, CL.CL_KERNEL_WORK_GROUP_SIZE, Sizeof.size_t, Pointer.to(v), null),
                "clGetKernelWorkGroupInfo");
        return v[0];
    }

    // ------------------------------------------------------------------ identity

    @Override public String name() { return "opencl"; }

    @Override public String description() { return description; }

    /** Side of the square work-group tiles this device's program was built with (16 unless the device allows less). */
    public int tile() { return tile; }

    /** The OpenCL device name. */
    public String deviceName() { return info.name(); }

    // ------------------------------------------------------------------ buffers

    /** A cl_mem of {@code size} floats (at least one float is allocated, so size 0 is legal). */
    static final class OpenClBuffer implements DeviceBuffer {
        private final OpenClBackend owner;
        private final long size;
        private cl_mem mem;

        OpenClBuffer(OpenClBackend owner, long size, cl_mem mem) {
            this.owner = owner;
            this.size = size;
            this.mem = mem;
        }

        @Override public long size() { return size; }
        @Override public Backend backend() { return owner; }
        @Override public synchronized boolean isClosed() { return mem == null; }

        @Override
        public void close() {
            cl_mem m;
            synchronized (this) {
                if (mem == null) return;
                m = mem;
                mem = null;
            }
            owner.live.remove(this);
            owner.released(size);
            if (!owner.closed) Cl.check(CL.clReleaseMemObject(m), "clReleaseMemObject");
        }

        synchronized cl_mem mem() {
            if (mem == null) throw new IllegalStateException("OpenCL buffer of " + size + " floats is closed");
            return mem;
        }

        /** Called when the backend closes: the context goes, and this buffer with it. */
        private synchronized cl_mem detach() {
            cl_mem m = mem;
            mem = null;
            return m;
        }

        @Override public String toString() { return "OpenClBuffer[" + size + (mem == null ? ", closed]" : "]"); }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("opencl backend (" + info.name() + ") is closed");
    }

    /** The buffer of this backend behind {@code b}; rejects null, foreign and closed buffers. */
    private OpenClBuffer buf(DeviceBuffer b, String what) {
        if (b == null) throw new NullPointerException(what + " buffer is null");
        if (!(b instanceof OpenClBuffer ob) || ob.owner != this)
            throw new IllegalArgumentException(what + ": buffer belongs to backend " + b.backend().name() + ", not to this opencl backend");
        ob.mem(); // throws if closed
        return ob;
    }

    /** Checks that elements [off, off + count) lie inside the buffer. */
    private OpenClBuffer range(DeviceBuffer b, long off, long count, String what) {
        OpenClBuffer ob = buf(b, what);
        if (count < 0) throw new IllegalArgumentException(what + ": negative element count " + count);
        if (off < 0 || off > ob.size || count > ob.size - off)
            throw new IndexOutOfBoundsException(what + ": elements [" + off + ", " + (off + count) + ") outside a buffer of " + ob.size);
        return ob;
    }

    /**
     * Checks a (rows x cols) matrix with leading dimension ld, repeated batch times at the given
     * stride, starting at off: every element touched must lie inside the buffer.
     */
    private OpenClBuffer matrix(DeviceBuffer b, long off, long rows, long cols, long ld, long batch, long stride, String what) {
        OpenClBuffer ob = buf(b, what);
        if (rows < 0 || cols < 0 || batch < 0) throw new IllegalArgumentException(what + ": negative size");
        if (rows == 0 || cols == 0 || batch == 0) return ob;
        if (ld < 0 || stride < 0) throw new IllegalArgumentException(what + ": negative leading dimension or stride");
        long last;
        try {
            last = Math.addExact(Math.addExact(Math.multiplyExact(batch - 1, stride), Math.multiplyExact(rows - 1, ld)), cols - 1);
            last = Math.addExact(off, last);
        } catch (ArithmeticException e) {
            throw new IndexOutOfBoundsException(what + ": matrix extent overflows");
        }
        if (off < 0 || last >= ob.size)
            throw new IndexOutOfBoundsException(what + ": " + rows + "x" + cols + " (ld " + ld + ", batch " + batch + ", stride " + stride
                    + ") at offset " + off + " reaches element " + last + " of a buffer of " + ob.size);
        return ob;
    }

    @Override
    public DeviceBuffer allocate(long n) {
        checkOpen();
        if (n < 0 || n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("cannot allocate " + n + " floats");
        long bytes = Math.max(1, n) * Sizeof.cl_float;
        int[] err = new int[1];
        cl_mem m;
        synchronized (lock) {
            checkOpen();
            // Checked on the host first: some drivers (PoCL among them) hand out memory they do not
            // have, and the zero fill below would then fail far from here, or not at all.
            if (bytes > maxAllocBytes)
                throw new DeviceOutOfMemoryException(name(), bytes, "larger than CL_DEVICE_MAX_MEM_ALLOC_SIZE = "
                        + maxAllocBytes + " bytes of " + info.name(), null);
            if (bytes > memoryLimitBytes - allocatedBytes)
                throw new DeviceOutOfMemoryException(name(), bytes, allocatedBytes + " of " + memoryLimitBytes
                        + " bytes of " + info.name() + " already in use", null);
            m = CL.clCreateBuffer(context, CL.CL_MEM_READ_WRITE, bytes, null, err);
            if (err[0] == CL.CL_MEM_OBJECT_ALLOCATION_FAILURE || err[0] == CL.CL_OUT_OF_RESOURCES
                    || err[0] == CL.CL_OUT_OF_HOST_MEMORY || err[0] == CL.CL_INVALID_BUFFER_SIZE)
                throw new DeviceOutOfMemoryException(name(), bytes, "clCreateBuffer: " + Cl.errorName(err[0]) + " on " + info.name(),
                        Cl.failure("clCreateBuffer(" + n + " floats)", err[0]));
            Cl.check(err[0], "clCreateBuffer(" + n + " floats)");
            allocatedBytes += bytes;
        }
        OpenClBuffer b = new OpenClBuffer(this, n, m);
        live.add(b);
        try {
            fill(b, 0, n, 0f);
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
        return b;
    }

    @Override public long liveBuffers() { return live.size(); }

    /**
     * The OpenCL objects this backend holds now, for leak checks: context, queue, program, kernels,
     * its own scratch buffers and every live buffer; 0 once closed. The backend creates no events
     * (every enqueue passes a null event), so none can leak.
     */
    public long openClObjects() {
        synchronized (lock) {
            if (closed) return 0;
            return 3 + kernels.size() + 2 + (ints != null ? 1 : 0) + (losses != null ? 1 : 0) + live.size();
        }
    }

    /** Bytes held by the live buffers (each counts at least one float). */
    public long allocatedBytes() {
        synchronized (lock) { return allocatedBytes; }
    }

    private void released(long size) {
        synchronized (lock) { allocatedBytes -= Math.max(1, size) * Sizeof.cl_float; }
    }

    private static void checkArray(float[] a, int off, int n, String what) {
        if (a == null) throw new NullPointerException(what + " array is null");
        if (n < 0 || off < 0 || off > a.length - n)
            throw new IndexOutOfBoundsException(what + ": [" + off + ", " + ((long) off + n) + ") outside an array of " + a.length);
    }

    @Override
    public void upload(float[] src, int srcOff, DeviceBuffer dst, long dstOff, int n) {
        checkOpen();
        checkArray(src, srcOff, n, "upload source");
        OpenClBuffer d = range(dst, dstOff, n, "upload destination");
        if (n == 0) return;
        synchronized (lock) {
            checkOpen();
            Cl.check(CL.clEnqueueWriteBuffer(queue, d.mem(), true, dstOff * Sizeof.cl_float, (long) n * Sizeof.cl_float,
                    Pointer.to(src).withByteOffset((long) srcOff * Sizeof.cl_float), 0, null, null), "clEnqueueWriteBuffer");
        }
    }

    @Override
    public void download(DeviceBuffer src, long srcOff, float[] dst, int dstOff, int n) {
        checkOpen();
        checkArray(dst, dstOff, n, "download destination");
        OpenClBuffer s = range(src, srcOff, n, "download source");
        if (n == 0) return;
        synchronized (lock) {
            checkOpen();
            Cl.check(CL.clEnqueueReadBuffer(queue, s.mem(), true, srcOff * Sizeof.cl_float, (long) n * Sizeof.cl_float,
                    Pointer.to(dst).withByteOffset((long) dstOff * Sizeof.cl_float), 0, null, null), "clEnqueueReadBuffer");
        }
    }

    /** Waits until every queued command has finished (for benchmarks; downloads already wait). */
    public void finish() {
        checkOpen();
        synchronized (lock) {
            Cl.check(CL.clFinish(queue), "clFinish");
        }
    }

    // ------------------------------------------------------------------ launching

    private static long roundUp(long n, long m) { return (n + m - 1) / m * m; }

    /** Sets the arguments (buffers, Integer, Long, Float; null = the dummy buffer) and enqueues the kernel. */
    private void launch(K k, long[] global, long[] local, Object... args) {
        for (long g : global) if (g == 0) return;
        cl_kernel kernel = kernels.get(k);
        synchronized (lock) {
            checkOpen();
            for (int i = 0; i < args.length; i++) {
                Object a = args[i];
                int st;
                if (a == null) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_mem, Pointer.to(dummy));
                else if (a instanceof OpenClBuffer b) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_mem, Pointer.to(b.mem()));
                else if (a instanceof cl_mem m) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_mem, Pointer.to(m));
                else if (a instanceof Integer v) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_int, Pointer.to(new int[]{v}));
                else if (a instanceof Long v) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_long, Pointer.to(new long[]{v}));
                else if (a instanceof Float v) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_float, Pointer.to(new float[]{v}));
                else throw new IllegalArgumentException("unsupported kernel argument " + a.getClass());
                if (st != CL.CL_SUCCESS) throw Cl.failure("clSetKernelArg(" + k.symbol + ", " + i + ")", st);
            }
            Cl.check(CL.clEnqueueNDRangeKernel(queue, kernel, global.length, null, global, local, 0, null, null),
                    "clEnqueueNDRangeKernel(" + k.symbol + ")");
        }
    }

    /** One work-item per element of [0, n). */
    private void launch1d(K k, long n, Object... args) {
        if (n <= 0) return;
        long l = local1d.get(k);
        launch(k, new long[]{roundUp(n, l)}, new long[]{l}, args);
    }

    /** TILE x TILE work-groups over (dim0, dim1). */
    private void launchTiled(K k, long dim0, long dim1, Object... args) {
        if (dim0 <= 0 || dim1 <= 0) return;
        launch(k, new long[]{roundUp(dim0, tile), roundUp(dim1, tile)}, new long[]{tile, tile}, args);
    }

    // ------------------------------------------------------------------ memory primitives

    @Override
    public void copy(DeviceBuffer src, long srcOff, DeviceBuffer dst, long dstOff, long n) {
        checkOpen();
        OpenClBuffer s = range(src, srcOff, n, "copy source"), d = range(dst, dstOff, n, "copy destination");
        launch1d(K.COPY, n, n, s, srcOff, d, dstOff);
    }

    @Override
    public void copy2d(int rows, int cols, DeviceBuffer src, long srcOff, int srcLd, DeviceBuffer dst, long dstOff, int dstLd) {
        checkOpen();
        OpenClBuffer s = matrix(src, srcOff, rows, cols, srcLd, 1, 0, "copy2d source");
        OpenClBuffer d = matrix(dst, dstOff, rows, cols, dstLd, 1, 0, "copy2d destination");
        launchTiled(K.COPY2D, cols, rows, rows, cols, s, srcOff, srcLd, d, dstOff, dstLd);
    }

    @Override
    public void fill(DeviceBuffer x, long off, long n, float value) {
        checkOpen();
        OpenClBuffer b = range(x, off, n, "fill");
        launch1d(K.FILL, n, n, value, b, off);
    }

    // ------------------------------------------------------------------ BLAS-like

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k,
                     float alpha, DeviceBuffer a, long aOff, int lda,
                     DeviceBuffer b, long bOff, int ldb,
                     float beta, DeviceBuffer c, long cOff, int ldc,
                     int batch, long strideA, long strideB, long strideC) {
        checkOpen();
        if (m < 0 || n < 0 || k < 0 || batch < 0)
            throw new IllegalArgumentException("gemm: negative size m=" + m + " n=" + n + " k=" + k + " batch=" + batch);
        boolean empty = m == 0 || n == 0 || batch == 0;
        long aRows = transA ? k : m, aCols = transA ? m : k;
        long bRows = transB ? n : k, bCols = transB ? k : n;
        OpenClBuffer A = matrix(a, aOff, empty ? 0 : aRows, aCols, lda, batch, strideA, "gemm A");
        OpenClBuffer B = matrix(b, bOff, empty ? 0 : bRows, bCols, ldb, batch, strideB, "gemm B");
        OpenClBuffer C = matrix(c, cOff, m, n, ldc, batch, strideC, "gemm C");
        if (empty) return;
        long groupsZ = Math.min(batch, MAX_BATCH_GROUPS);
        int block = tile * GEMM_WPT;
        // Blocks of WPT x WPT outputs per work-item when C spans whole blocks; else one output per item
        // (small m or n, e.g. the per-step recurrent product, keeps more work-groups busy that way).
        boolean blocked = m >= block && n >= block;
        long[] global = blocked ? new long[]{roundUp(n, block) / GEMM_WPT, roundUp(m, block) / GEMM_WPT, groupsZ}
                : new long[]{roundUp(n, tile), roundUp(m, tile), groupsZ};
        launch(blocked ? K.GEMM_BLOCKED : K.GEMM, global, new long[]{tile, tile, 1},
                transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc,
                batch, strideA, strideB, strideC);
    }

    @Override
    public void axpy(long n, float alpha, DeviceBuffer x, long xOff, DeviceBuffer y, long yOff) {
        checkOpen();
        OpenClBuffer X = range(x, xOff, n, "axpy x"), Y = range(y, yOff, n, "axpy y");
        launch1d(K.AXPY, n, n, alpha, X, xOff, Y, yOff);
    }

    @Override
    public void scale(long n, float alpha, DeviceBuffer x, long xOff) {
        checkOpen();
        OpenClBuffer X = range(x, xOff, n, "scale x");
        launch1d(K.SCALE, n, n, alpha, X, xOff);
    }

    @Override
    public void mul(long n, DeviceBuffer a, long aOff, DeviceBuffer b, long bOff, DeviceBuffer out, long outOff) {
        checkOpen();
        OpenClBuffer A = range(a, aOff, n, "mul a"), B = range(b, bOff, n, "mul b"), O = range(out, outOff, n, "mul out");
        launch1d(K.MUL, n, n, A, aOff, B, bOff, O, outOff);
    }

    @Override
    public void mulRows(int rows, int cols, DeviceBuffer x, long xOff, DeviceBuffer m, long mOff, DeviceBuffer out, long outOff) {
        checkOpen();
        if (rows < 0 || cols < 0) throw new IllegalArgumentException("mulRows: negative size " + rows + "x" + cols);
        long n = (long) rows * cols;
        OpenClBuffer X = range(x, xOff, n, "mulRows x"), M = range(m, mOff, n == 0 ? 0 : cols, "mulRows m");
        OpenClBuffer O = range(out, outOff, n, "mulRows out");
        launch1d(K.MUL_ROWS, n, rows, cols, X, xOff, M, mOff, O, outOff);
    }

    @Override
    public void addRowVector(int rows, int cols, DeviceBuffer bias, long biasOff, DeviceBuffer c, long cOff, int ldc) {
        checkOpen();
        OpenClBuffer C = matrix(c, cOff, rows, cols, ldc, 1, 0, "addRowVector c");
        OpenClBuffer Bi = range(bias, biasOff, rows == 0 ? 0 : cols, "addRowVector bias");
        launchTiled(K.ADD_ROW_VECTOR, cols, rows, rows, cols, Bi, biasOff, C, cOff, ldc);
    }

    @Override
    public void sumRows(int rows, int cols, DeviceBuffer a, long aOff, int lda, float beta, DeviceBuffer out, long outOff) {
        checkOpen();
        OpenClBuffer A = matrix(a, aOff, rows, cols, lda, 1, 0, "sumRows a");
        OpenClBuffer O = range(out, outOff, cols, "sumRows out");
        if (cols <= 0) return;
        // rows == 0 still writes out = beta * out (sums of nothing are 0)
        launch(K.SUM_ROWS, new long[]{roundUp(cols, tile), tile}, new long[]{tile, tile},
                rows, cols, A, aOff, lda, beta, O, outOff);
    }

    @Override
    public double sumSquares(long n, DeviceBuffer x, long off) {
        checkOpen();
        OpenClBuffer X = range(x, off, n, "sumSquares x");
        if (n == 0) return 0.0;
        long local = (long) tile * tile;
        int groups = (int) Math.min(MAX_PARTIALS, (n + local - 1) / local);
        float[] part = new float[groups];
        synchronized (lock) { // the partials buffer is shared
            launch(K.SUM_SQUARES, new long[]{groups * local}, new long[]{local}, n, X, off, partials);
            Cl.check(CL.clEnqueueReadBuffer(queue, partials, true, 0, (long) groups * Sizeof.cl_float, Pointer.to(part),
                    0, null, null), "clEnqueueReadBuffer");
        }
        double s = 0;
        for (float v : part) s += v;
        return s;
    }

    // ------------------------------------------------------------------ dropout

    @Override
    public void dropoutMask(long n, float p, long seed, DeviceBuffer out, long outOff) {
        checkOpen();
        if (!(p >= 0f && p < 1f)) throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        if (n > (1L << 32)) throw new IllegalArgumentException("dropout mask of " + n + " elements: at most 2^32 per mask");
        OpenClBuffer O = range(out, outOff, n, "dropoutMask out");
        float scale = 1f / (1f - p);
        launch1d(K.DROPOUT_MASK, n, n, p, scale, (int) seed, (int) (seed >>> 32), O, outOff);
    }

    // ------------------------------------------------------------------ recurrent pointwise

    @Override
    public void rnnPointwiseForward(Activation act, int n, DeviceBuffer pre, long preOff, DeviceBuffer h, long hOff) {
        checkOpen();
        BackendChecks.notNull(act, "rnnPointwiseForward act");
        OpenClBuffer P = range(pre, preOff, n, "rnnPointwiseForward pre"), H = range(h, hOff, n, "rnnPointwiseForward h");
        launch1d(K.RNN_FWD, n, act.code, (long) n, P, preOff, H, hOff);
    }

    @Override
    public void rnnPointwiseBackward(Activation act, int n, DeviceBuffer h, long hOff, DeviceBuffer dh, long dhOff,
                                     DeviceBuffer dpre, long dpreOff) {
        checkOpen();
        BackendChecks.notNull(act, "rnnPointwiseBackward act");
        OpenClBuffer H = range(h, hOff, n, "rnnPointwiseBackward h"), DH = range(dh, dhOff, n, "rnnPointwiseBackward dh");
        OpenClBuffer DP = range(dpre, dpreOff, n, "rnnPointwiseBackward dpre");
        launch1d(K.RNN_BWD, n, act.code, (long) n, H, hOff, DH, dhOff, DP, dpreOff);
    }

    private static long states(int batch, int hidden, String what) {
        if (batch < 0 || hidden < 0) throw new IllegalArgumentException(what + ": negative size batch=" + batch + " hidden=" + hidden);
        BackendChecks.product(what, 4, batch, hidden);   // 4*n (the widest operand) must not overflow
        return (long) batch * hidden;
    }

    @Override
    public void lstmPointwiseForward(int batch, int hidden, DeviceBuffer gates, long gOff,
                                     DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff, DeviceBuffer h, long hOff) {
        checkOpen();
        long n = states(batch, hidden, "lstmPointwiseForward");
        OpenClBuffer G = range(gates, gOff, 4 * n, "lstmPointwiseForward gates");
        OpenClBuffer CP = range(cPrev, cPrevOff, n, "lstmPointwiseForward cPrev");
        OpenClBuffer C = range(c, cOff, n, "lstmPointwiseForward c"), H = range(h, hOff, n, "lstmPointwiseForward h");
        launch1d(K.LSTM_FWD, n, batch, hidden, G, gOff, CP, cPrevOff, C, cOff, H, hOff);
    }

    @Override
    public void lstmPointwiseBackward(int batch, int hidden, DeviceBuffer gates, long gOff,
                                      DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff,
                                      DeviceBuffer dh, long dhOff, DeviceBuffer dcNext, long dcNextOff,
                                      DeviceBuffer dGates, long dgOff, DeviceBuffer dcPrev, long dcPrevOff) {
        checkOpen();
        long n = states(batch, hidden, "lstmPointwiseBackward");
        OpenClBuffer G = range(gates, gOff, 4 * n, "lstmPointwiseBackward gates");
        OpenClBuffer CP = range(cPrev, cPrevOff, n, "lstmPointwiseBackward cPrev");
        OpenClBuffer C = range(c, cOff, n, "lstmPointwiseBackward c");
        OpenClBuffer DH = range(dh, dhOff, n, "lstmPointwiseBackward dh");
        OpenClBuffer DCN = dcNext == null ? null : range(dcNext, dcNextOff, n, "lstmPointwiseBackward dcNext");
        OpenClBuffer DG = range(dGates, dgOff, 4 * n, "lstmPointwiseBackward dGates");
        OpenClBuffer DCP = range(dcPrev, dcPrevOff, n, "lstmPointwiseBackward dcPrev");
        launch1d(K.LSTM_BWD, n, batch, hidden, G, gOff, CP, cPrevOff, C, cOff, DH, dhOff,
                DCN == null ? 0 : 1, DCN, DCN == null ? 0L : dcNextOff, DG, dgOff, DCP, dcPrevOff);
    }

    @Override
    public void gruPointwiseForward(int batch, int hidden, DeviceBuffer gx, long gxOff, DeviceBuffer gh, long ghOff,
                                    DeviceBuffer hPrev, long hPrevOff, DeviceBuffer h, long hOff,
                                    DeviceBuffer saved, long savedOff) {
        checkOpen();
        long n = states(batch, hidden, "gruPointwiseForward");
        OpenClBuffer GX = range(gx, gxOff, 3 * n, "gruPointwiseForward gx");
        OpenClBuffer GH = range(gh, ghOff, 3 * n, "gruPointwiseForward gh");
        OpenClBuffer HP = range(hPrev, hPrevOff, n, "gruPointwiseForward hPrev");
        OpenClBuffer H = range(h, hOff, n, "gruPointwiseForward h");
        OpenClBuffer S = range(saved, savedOff, 4 * n, "gruPointwiseForward saved");
        launch1d(K.GRU_FWD, n, batch, hidden, GX, gxOff, GH, ghOff, HP, hPrevOff, H, hOff, S, savedOff);
    }

    @Override
    public void gruPointwiseBackward(int batch, int hidden, DeviceBuffer saved, long savedOff,
                                     DeviceBuffer hPrev, long hPrevOff, DeviceBuffer dh, long dhOff,
                                     DeviceBuffer dgx, long dgxOff, DeviceBuffer dgh, long dghOff,
                                     DeviceBuffer dhPrevPartial, long dhpOff) {
        checkOpen();
        long n = states(batch, hidden, "gruPointwiseBackward");
        OpenClBuffer S = range(saved, savedOff, 4 * n, "gruPointwiseBackward saved");
        OpenClBuffer HP = range(hPrev, hPrevOff, n, "gruPointwiseBackward hPrev");
        OpenClBuffer DH = range(dh, dhOff, n, "gruPointwiseBackward dh");
        OpenClBuffer DGX = range(dgx, dgxOff, 3 * n, "gruPointwiseBackward dgx");
        OpenClBuffer DGH = range(dgh, dghOff, 3 * n, "gruPointwiseBackward dgh");
        OpenClBuffer DHP = range(dhPrevPartial, dhpOff, n, "gruPointwiseBackward dhPrevPartial");
        launch1d(K.GRU_BWD, n, batch, hidden, S, savedOff, HP, hPrevOff, DH, dhOff, DGX, dgxOff, DGH, dghOff, DHP, dhpOff);
    }

    // ------------------------------------------------------------------ SRU

    private static void checkSru(int seqLen, int batch, int hidden, int dirs, int k, Activation act, String what) {
        BackendChecks.sru(what, seqLen, batch, hidden, dirs, k);
        BackendChecks.notNull(act, what + " act");
        // Every size the kernels index with must fit a long (the ranges below bound them further).
        BackendChecks.product(what, seqLen, batch, dirs, hidden, k);
    }

    @Override
    public void sruForward(int seqLen, int batch, int hidden, int dirs, int k, Activation act,
                           DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                           DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                           DeviceBuffer h, long hOff, DeviceBuffer c, long cOff, DeviceBuffer cLast, long cLastOff) {
        checkOpen();
        checkSru(seqLen, batch, hidden, dirs, k, act, "sruForward");
        long cols = (long) dirs * hidden, state = batch * cols, seq = seqLen * state;
        OpenClBuffer U = range(u, uOff, seq * k, "sruForward u");
        OpenClBuffer X = k == 3 ? range(x, xOff, seq, "sruForward x") : null;
        OpenClBuffer BI = range(bias, biasOff, 2 * cols, "sruForward bias");
        OpenClBuffer C0 = c0 == null ? null : range(c0, c0Off, state, "sruForward c0");
        OpenClBuffer M = maskH == null ? null : range(maskH, maskOff, state, "sruForward maskH");
        OpenClBuffer H = range(h, hOff, seq, "sruForward h"), C = range(c, cOff, seq, "sruForward c");
        OpenClBuffer CL_ = range(cLast, cLastOff, state, "sruForward cLast");
        launch1d(K.SRU_FWD, state, seqLen, batch, hidden, dirs, k, act.code,
                U, uOff, X, X == null ? 0L : xOff, BI, biasOff,
                C0 == null ? 0 : 1, C0, C0 == null ? 0L : c0Off,
                M == null ? 0 : 1, M, M == null ? 0L : maskOff,
                H, hOff, C, cOff, CL_, cLastOff);
    }

    @Override
    public void sruBackward(int seqLen, int batch, int hidden, int dirs, int k, Activation act,
                            DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                            DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                            DeviceBuffer c, long cOff, DeviceBuffer dh, long dhOff, DeviceBuffer dcLast, long dcLastOff,
                            DeviceBuffer du, long duOff, DeviceBuffer dx, long dxOff,
                            DeviceBuffer dBias, long dBiasOff, DeviceBuffer dc0, long dc0Off) {
        checkOpen();
        checkSru(seqLen, batch, hidden, dirs, k, act, "sruBackward");
        long cols = (long) dirs * hidden, state = batch * cols, seq = seqLen * state;
        OpenClBuffer U = range(u, uOff, seq * k, "sruBackward u");
        OpenClBuffer X = k == 3 ? range(x, xOff, seq, "sruBackward x") : null;
        OpenClBuffer BI = range(bias, biasOff, 2 * cols, "sruBackward bias");
        OpenClBuffer C0 = c0 == null ? null : range(c0, c0Off, state, "sruBackward c0");
        OpenClBuffer M = maskH == null ? null : range(maskH, maskOff, state, "sruBackward maskH");
        OpenClBuffer C = range(c, cOff, seq, "sruBackward c"), DH = range(dh, dhOff, seq, "sruBackward dh");
        OpenClBuffer DCL = dcLast == null ? null : range(dcLast, dcLastOff, state, "sruBackward dcLast");
        OpenClBuffer DU = range(du, duOff, seq * k, "sruBackward du");
        OpenClBuffer DX = k == 3 ? range(dx, dxOff, seq, "sruBackward dx") : null;
        OpenClBuffer DB = range(dBias, dBiasOff, 2 * state, "sruBackward dBias");
        OpenClBuffer DC0 = range(dc0, dc0Off, state, "sruBackward dc0");
        launch1d(K.SRU_BWD, state, seqLen, batch, hidden, dirs, k, act.code,
                U, uOff, X, X == null ? 0L : xOff, BI, biasOff,
                C0 == null ? 0 : 1, C0, C0 == null ? 0L : c0Off,
                M == null ? 0 : 1, M, M == null ? 0L : maskOff,
                C, cOff, DH, dhOff,
                DCL == null ? 0 : 1, DCL, DCL == null ? 0L : dcLastOff,
                DU, duOff, DX, DX == null ? 0L : dxOff, DB, dBiasOff, DC0, dc0Off);
    }

    // ------------------------------------------------------------------ language-model primitives

    /** A scratch cl_mem of at least {@code floats} 4-byte elements, replacing {@code old} if it is smaller. Call under lock. */
    private cl_mem scratch(cl_mem old, long capacity, long floats, String what) {
        if (old != null && capacity >= floats) return old;
        if (old != null) Cl.check(CL.clReleaseMemObject(old), "clReleaseMemObject");
        int[] err = new int[1];
        cl_mem m = CL.clCreateBuffer(context, CL.CL_MEM_READ_WRITE, Math.max(1, floats) * 4L, null, err);
        Cl.check(err[0], "clCreateBuffer(" + what + ")");
        return m;
    }

    /** Copies host ints into the int scratch buffer (blocking). Call under lock. */
    private cl_mem stageInts(int[] data, int off, int n) {
        if (intsCapacity < n) {
            ints = scratch(ints, intsCapacity, Math.max(n, 2 * intsCapacity), "int staging");
            intsCapacity = Math.max(n, 2 * intsCapacity);
        }
        if (n > 0)
            Cl.check(CL.clEnqueueWriteBuffer(queue, ints, true, 0, (long) n * Sizeof.cl_int,
                    Pointer.to(data).withByteOffset((long) off * Sizeof.cl_int), 0, null, null), "clEnqueueWriteBuffer");
        return ints;
    }

    private static void checkInts(int[] a, int off, int n, String what) {
        if (a == null) throw new NullPointerException(what + " array is null");
        if (n < 0 || off < 0 || off > a.length - n)
            throw new IndexOutOfBoundsException(what + ": [" + off + ", " + ((long) off + n) + ") outside an array of " + a.length);
    }

    /** Number of whole rows of width dim in the buffer from off on. */
    private static long rowsOf(OpenClBuffer b, long off, int dim) { return dim == 0 ? Long.MAX_VALUE : (b.size - off) / dim; }

    private static void checkIds(int[] ids, int idsOff, int n, long rows, String what) {
        for (int i = 0; i < n; i++) {
            int id = ids[idsOff + i];
            if (id < 0 || id >= rows)
                throw new IndexOutOfBoundsException(what + ": id " + id + " at position " + i + " outside [0, " + rows + ")");
        }
    }

    @Override
    public void embeddingForward(int[] ids, int idsOff, int n, int dim, DeviceBuffer weight, long wOff,
                                 DeviceBuffer out, long outOff) {
        checkOpen();
        checkInts(ids, idsOff, n, "embeddingForward ids");
        if (dim < 0) throw new IllegalArgumentException("embeddingForward: negative dim " + dim);
        OpenClBuffer W = range(weight, wOff, 0, "embeddingForward weight");
        OpenClBuffer O = range(out, outOff, (long) n * dim, "embeddingForward out");
        checkIds(ids, idsOff, n, rowsOf(W, wOff, dim), "embeddingForward");
        if (n == 0 || dim == 0) return;
        synchronized (lock) {
            checkOpen();
            cl_mem staged = stageInts(ids, idsOff, n);
            launchTiled(K.EMBEDDING_FWD, dim, n, n, dim, staged, W, wOff, O, outOff);
        }
    }

    @Override
    public void embeddingBackward(int[] ids, int idsOff, int n, int dim, DeviceBuffer dOut, long dOutOff,
                                  DeviceBuffer dWeight, long dwOff) {
        checkOpen();
        checkInts(ids, idsOff, n, "embeddingBackward ids");
        if (dim < 0) throw new IllegalArgumentException("embeddingBackward: negative dim " + dim);
        OpenClBuffer D = range(dOut, dOutOff, (long) n * dim, "embeddingBackward dOut");
        OpenClBuffer W = range(dWeight, dwOff, 0, "embeddingBackward dWeight");
        checkIds(ids, idsOff, n, rowsOf(W, dwOff, dim), "embeddingBackward");
        if (n == 0 || dim == 0) return;
        // Group positions by id, ascending positions within an id: [uniq | start | pos].
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) keys[i] = ((long) ids[idsOff + i] << 32) | i;
        java.util.Arrays.sort(keys);
        int u = 0;
        for (int i = 0; i < n; i++) if (i == 0 || (keys[i] >>> 32) != (keys[i - 1] >>> 32)) u++;
        int[] csr = new int[2 * u + 1 + n];
        int q = 0;
        for (int i = 0; i < n; i++) {
            if (i == 0 || (keys[i] >>> 32) != (keys[i - 1] >>> 32)) {
                csr[q] = (int) (keys[i] >>> 32);
                csr[u + q] = i;
                q++;
            }
            csr[2 * u + 1 + i] = (int) keys[i];
        }
        csr[2 * u] = n;
        synchronized (lock) {
            checkOpen();
            cl_mem staged = stageInts(csr, 0, csr.length);
            launchTiled(K.EMBEDDING_BWD, dim, u, u, dim, staged, D, dOutOff, W, dwOff);
        }
    }

    @Override
    public double logSoftmaxNll(int rows, int classes, DeviceBuffer logits, long lOff, int[] targets, int tOff,
                                float gradScale, DeviceBuffer dLogits, long dOff) {
        checkOpen();
        if (rows < 0 || classes < 0) throw new IllegalArgumentException("logSoftmaxNll: negative size " + rows + "x" + classes);
        checkInts(targets, tOff, rows, "logSoftmaxNll targets");
        long n = (long) rows * classes;
        OpenClBuffer L = range(logits, lOff, n, "logSoftmaxNll logits");
        OpenClBuffer G = dLogits == null ? null : range(dLogits, dOff, n, "logSoftmaxNll dLogits");
        checkIds(targets, tOff, rows, classes, "logSoftmaxNll targets");
        if (rows == 0) return 0.0;
        long local = (long) tile * tile;
        float[] rowLoss = new float[rows];
        synchronized (lock) {
            checkOpen();
            cl_mem staged = stageInts(targets, tOff, rows);
            if (lossesCapacity < rows) {
                losses = scratch(losses, lossesCapacity, rows, "row losses");
                lossesCapacity = rows;
            }
            launch(K.LOG_SOFTMAX_NLL, new long[]{rows * local}, new long[]{local},
                    rows, classes, L, lOff, staged, G == null ? 0 : 1, gradScale, G, G == null ? 0L : dOff, losses);
            Cl.check(CL.clEnqueueReadBuffer(queue, losses, true, 0, (long) rows * Sizeof.cl_float, Pointer.to(rowLoss),
                    0, null, null), "clEnqueueReadBuffer");
        }
        double total = 0;
        for (float v : rowLoss) total += v;
        return total;
    }

    // ------------------------------------------------------------------ lifecycle

    /** Releases every buffer still open, the kernels, program, queue and context. Idempotent. */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) return;
            closed = true;
            List<RuntimeException> errors = new ArrayList<>();
            try { CL.clFinish(queue); } catch (RuntimeException e) { errors.add(e); }
            for (OpenClBuffer b : List.copyOf(live)) {
                cl_mem m = b.detach();
                live.remove(b);
                if (m != null) CL.clReleaseMemObject(m);
            }
            allocatedBytes = 0;
            releaseKernels();
            CL.clReleaseMemObject(dummy);
            CL.clReleaseMemObject(partials);
            if (ints != null) CL.clReleaseMemObject(ints);
            if (losses != null) CL.clReleaseMemObject(losses);
            CL.clReleaseProgram(program);
            CL.clReleaseCommandQueue(queue);
            CL.clReleaseContext(context);
            if (!errors.isEmpty()) LOG.log(System.Logger.Level.WARNING, "OpenCL: error while closing " + info.name(), errors.get(0));
        }
    }

    @Override public String toString() { return "OpenClBackend[" + info.name() + (closed ? ", closed]" : "]"); }
}
