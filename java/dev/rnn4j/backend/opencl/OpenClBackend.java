package dev.rnn4j.backend.opencl;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.BackendChecks;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
import dev.rnn4j.backend.OpRecords;
import dev.rnn4j.backend.OwnedBuffer;
import dev.rnn4j.DeviceOutOfMemoryException;
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
import java.util.HashMap;
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
        MUL_ROWS("rnn4j_mul_rows"),
        ADD_ROW_VECTOR("rnn4j_add_row_vector"),
        SUM_ROWS("rnn4j_sum_rows"), SUM_SQUARES("rnn4j_sum_squares_partial"),
        DROPOUT_MASK("rnn4j_dropout_mask"), GEMM("rnn4j_gemm"), GEMM_BLOCKED("rnn4j_gemm_blocked"),
        RNN_FWD("rnn4j_rnn_pointwise_fwd"), RNN_BWD("rnn4j_rnn_pointwise_bwd"),
        LSTM_FWD("rnn4j_lstm_pointwise_fwd"), LSTM_BWD("rnn4j_lstm_pointwise_bwd"),
        GRU_FWD("rnn4j_gru_pointwise_fwd"), GRU_BWD("rnn4j_gru_pointwise_bwd"),
        SRU_FWD("rnn4j_sru_fwd"), SRU_BWD("rnn4j_sru_bwd"),
        LAYER_NORM_FWD("rnn4j_layer_norm_fwd"), LAYER_NORM_BWD_DX("rnn4j_layer_norm_bwd_dx"),
        LAYER_NORM_BWD_PARAMS("rnn4j_layer_norm_bwd_params"),
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
    /** The kernel of every {@link Op.Elementwise} op type (named after it) and its work-group size. */
    private final Map<Class<?>, cl_kernel> elementwise = new HashMap<>();
    private final Map<Class<?>, Integer> elementwiseLocal = new HashMap<>();
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
    /** Bytes allocated since the host's memory was last looked at (host-memory devices); guarded by lock. */
    private long sinceHostCheck = Long.MAX_VALUE;

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
            for (K k : K.values()) local1d.put(k, local1d(kernels.get(k), maxWg));
            elementwise.forEach((type, k) -> elementwiseLocal.put(type, local1d(k, maxWg)));
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
        for (K k : K.values()) kernels.put(k, createKernel(prog, k.symbol));
        for (Class<?> t : Op.class.getPermittedSubclasses())
            if (Op.Elementwise.class.isAssignableFrom(t)) {
                String symbol = OpRecords.kernelName(t);
                // the record's components are the kernel's arguments: check them once, before any launch
                KernelSignatures.checkRecord(symbol, Signatures.ALL.get(symbol), t);
                elementwise.put(t, createKernel(prog, symbol));
            }
    }

    private static cl_kernel createKernel(cl_program prog, String symbol) {
        int[] err = new int[1];
        cl_kernel kernel = CL.clCreateKernel(prog, symbol, err);
        Cl.check(err[0], "clCreateKernel(" + symbol + ")");
        return kernel;
    }

    private void releaseKernels() {
        for (cl_kernel k : kernels.values()) CL.clReleaseKernel(k);
        for (cl_kernel k : elementwise.values()) CL.clReleaseKernel(k);
        kernels.clear();
        elementwise.clear();
    }

    /** The 1-D work-group size of a kernel: LOCAL_1D, or less where the device or kernel allows less. */
    private int local1d(cl_kernel k, long maxWg) {
        long wg = Math.min(LOCAL_1D, Math.min(maxWg, kernelWorkGroupSize(k)));
        return Integer.highestOneBit((int) Math.max(1, wg));
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
    static final class OpenClBuffer extends OwnedBuffer<OpenClBackend> {
        private cl_mem mem;

        OpenClBuffer(OpenClBackend owner, long size, cl_mem mem) {
            super(owner, size);
            this.mem = mem;
        }

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
        if (!(b instanceof OpenClBuffer ob) || ob.backend() != this)
            throw new IllegalArgumentException(what + ": buffer belongs to backend " + b.backend().name() + ", not to this opencl backend");
        ob.mem(); // throws if closed
        return ob;
    }

    /** As {@link #buf}, for an optional operand: null (absent) stays null, and the kernel gets the dummy buffer. */
    private OpenClBuffer opt(DeviceBuffer b, String what) { return b == null ? null : buf(b, what); }

    /** The "has" flag a kernel takes before an optional buffer: 1 when present. */
    private static int flag(OpenClBuffer b) { return b == null ? 0 : 1; }

    /** The offset of an optional buffer: 0 when absent (the kernel does not read it). */
    private static long off(OpenClBuffer b, long off) { return b == null ? 0L : off; }



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
            if (info.hostMemory()) checkHostRoom(bytes);
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

    /**
     * Bytes left between the host's limit and a new buffer on a host-memory device, below which
     * an allocation is refused: the JVM and the driver need some too.
     */
    static final long HOST_HEADROOM_BYTES = 128L << 20;
    /** Requests at least this large always look at the host's memory; smaller ones once per this many bytes. */
    private static final long HOST_CHECK_BYTES = 32L << 20;

    /**
     * Refuses a buffer the process could not map. A CPU device's driver (PoCL) hands out host
     * memory lazily and aborts the JVM in an assertion when it later cannot map it, so the limits
     * are checked here, before the driver is asked. Small requests look only once per
     * {@link #HOST_CHECK_BYTES} allocated, which the headroom covers.
     */
    private void checkHostRoom(long bytes) {
        if (bytes < HOST_CHECK_BYTES && sinceHostCheck < HOST_CHECK_BYTES) {
            sinceHostCheck += bytes;
            return;
        }
        // The queue runs asynchronously: earlier buffers' zero fills may not have touched their
        // pages yet, so a cgroup's usage or MemAvailable would not count them. Finish first.
        Cl.check(CL.clFinish(queue), "clFinish");
        HostMemory.Room room = HostMemory.room();
        if (bytes > room.bytes() - HOST_HEADROOM_BYTES)
            throw new DeviceOutOfMemoryException(name(), bytes, "the host can map " + room.bytes() + " more bytes for this process ("
                    + room.limit() + "), less " + (HOST_HEADROOM_BYTES >> 20) + " MiB kept free, and "
                    + info.name() + " uses host memory", null);
        sinceHostCheck = bytes;
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
            return 3 + kernels.size() + elementwise.size() + 2 + (ints != null ? 1 : 0) + (losses != null ? 1 : 0) + live.size();
        }
    }

    /** Whether the device's buffers are host memory (a CPU device), so that host limits bound them. */
    public boolean usesHostMemory() { return info.hostMemory(); }

    /** CL_DEVICE_MAX_MEM_ALLOC_SIZE of the device: its largest single buffer. */
    public long maxAllocBytes() { return maxAllocBytes; }

    /** Bytes the live buffers may hold together: the device's global memory, or the memory-limit property. */
    public long memoryLimitBytes() { return memoryLimitBytes; }

    /** Bytes held by the live buffers (each counts at least one float). */
    public long allocatedBytes() {
        synchronized (lock) { return allocatedBytes; }
    }

    private void released(long size) {
        synchronized (lock) { allocatedBytes -= Math.max(1, size) * Sizeof.cl_float; }
    }


    @Override
    public void upload(Op.Upload op) {
        OpenClBuffer d = buf(op.dst(), "upload destination");
        if (op.n() == 0) return;
        synchronized (lock) {
            Cl.check(CL.clEnqueueWriteBuffer(queue, d.mem(), true, op.dstOff() * Sizeof.cl_float, (long) op.n() * Sizeof.cl_float,
                    Pointer.to(op.src()).withByteOffset((long) op.srcOff() * Sizeof.cl_float), 0, null, null), "clEnqueueWriteBuffer");
        }
    }

    @Override
    public void download(Op.Download op) {
        OpenClBuffer s = buf(op.src(), "download source");
        if (op.n() == 0) return;
        synchronized (lock) {
            Cl.check(CL.clEnqueueReadBuffer(queue, s.mem(), true, op.srcOff() * Sizeof.cl_float, (long) op.n() * Sizeof.cl_float,
                    Pointer.to(op.dst()).withByteOffset((long) op.dstOff() * Sizeof.cl_float), 0, null, null), "clEnqueueReadBuffer");
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

    /** The parameters of every kernel, read from the program source once. */
    private static final class Signatures {
        static final Map<String, List<KernelSignatures.Param>> ALL = KernelSignatures.parse(KernelSources.program());
    }

    /** A launch argument for the kernel parameter {@code name}. */
    private static KernelSignatures.Arg a(String name, Object value) { return new KernelSignatures.Arg(name, value); }

    private void launch(K k, long[] global, long[] local, KernelSignatures.Arg... args) {
        launch(kernels.get(k), k.symbol, global, local, args);
    }

    /**
     * Checks the named arguments against the kernel's parameters ({@link KernelSignatures#check}),
     * sets them (buffers, Integer, Long, Float; null = the dummy buffer) and enqueues the kernel.
     */
    private void launch(cl_kernel kernel, String symbol, long[] global, long[] local, KernelSignatures.Arg... args) {
        KernelSignatures.check(symbol, Signatures.ALL.get(symbol), args);
        for (long g : global) if (g == 0) return;
        synchronized (lock) {
            checkOpen();
            for (int i = 0; i < args.length; i++) {
                Object a = args[i].value();
                int st;
                if (a == null) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_mem, Pointer.to(dummy));
                else if (a instanceof OpenClBuffer b) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_mem, Pointer.to(b.mem()));
                else if (a instanceof cl_mem m) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_mem, Pointer.to(m));
                else if (a instanceof Integer v) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_int, Pointer.to(new int[]{v}));
                else if (a instanceof Long v) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_long, Pointer.to(new long[]{v}));
                else if (a instanceof Float v) st = CL.clSetKernelArg(kernel, i, Sizeof.cl_float, Pointer.to(new float[]{v}));
                else throw new IllegalArgumentException("unsupported kernel argument " + a.getClass());
                if (st != CL.CL_SUCCESS) throw Cl.failure("clSetKernelArg(" + symbol + ", " + i + ")", st);
            }
            Cl.check(CL.clEnqueueNDRangeKernel(queue, kernel, global.length, null, global, local, 0, null, null),
                    "clEnqueueNDRangeKernel(" + symbol + ")");
        }
    }

    /** One work-item per element of [0, n). */
    private void launch1d(K k, long n, KernelSignatures.Arg... args) {
        if (n <= 0) return;
        long l = local1d.get(k);
        launch(k, new long[]{roundUp(n, l)}, new long[]{l}, args);
    }

    /**
     * An {@link Op.Elementwise} op: its kernel with the record's components as arguments, in order
     * (each buffer this backend's own and open), one work-item per element.
     */
    private void launchElementwise(Op<?> op) {
        String[] names = OpRecords.names(op.getClass());
        Object[] values = OpRecords.values(op);
        KernelSignatures.Arg[] args = new KernelSignatures.Arg[values.length];
        for (int i = 0; i < values.length; i++)
            args[i] = a(names[i], values[i] instanceof DeviceBuffer b ? buf(b, op.opName() + " " + names[i]) : values[i]);
        long n = ((Op.Elementwise) op).n();
        if (n <= 0) return;
        long l = elementwiseLocal.get(op.getClass());
        launch(elementwise.get(op.getClass()), OpRecords.kernelName(op.getClass()), new long[]{roundUp(n, l)}, new long[]{l}, args);
    }

    /** TILE x TILE work-groups over (dim0, dim1). */
    private void launchTiled(K k, long dim0, long dim1, KernelSignatures.Arg... args) {
        if (dim0 <= 0 || dim1 <= 0) return;
        launch(k, new long[]{roundUp(dim0, tile), roundUp(dim1, tile)}, new long[]{tile, tile}, args);
    }

    // ------------------------------------------------------------------ memory primitives

    @Override
    public void copy(Op.Copy op) {
        OpenClBuffer s = buf(op.src(), "copy source"), d = buf(op.dst(), "copy destination");
        launch1d(K.COPY, op.n(), a("n", op.n()), a("src", s), a("srcOff", op.srcOff()), a("dst", d), a("dstOff", op.dstOff()));
    }

    @Override
    public void copy2d(Op.Copy2d op) {
        OpenClBuffer s = buf(op.src(), "copy2d source");
        OpenClBuffer d = buf(op.dst(), "copy2d destination");
        launchTiled(K.COPY2D, op.cols(), op.rows(), a("rows", op.rows()), a("cols", op.cols()),
                a("src", s), a("srcOff", op.srcOff()), a("srcLd", op.srcLd()), a("dst", d), a("dstOff", op.dstOff()), a("dstLd", op.dstLd()));
    }

    @Override
    public void fill(Op.Fill op) {
        OpenClBuffer b = buf(op.x(), "fill");
        launch1d(K.FILL, op.n(), a("n", op.n()), a("value", op.value()), a("x", b), a("xOff", op.off()));
    }

    // ------------------------------------------------------------------ BLAS-like

    @Override
    public void gemm(Op.Gemm op) {
        boolean empty = op.m() == 0 || op.n() == 0 || op.batch() == 0;
        long aRows = op.transA() ? op.k() : op.m(), aCols = op.transA() ? op.m() : op.k();
        long bRows = op.transB() ? op.n() : op.k(), bCols = op.transB() ? op.k() : op.n();
        OpenClBuffer A = buf(op.a(), "gemm A");
        OpenClBuffer B = buf(op.b(), "gemm B");
        OpenClBuffer C = buf(op.c(), "gemm C");
        if (empty) return;
        long groupsZ = Math.min(op.batch(), MAX_BATCH_GROUPS);
        int block = tile * GEMM_WPT;
        // Blocks of WPT x WPT outputs per work-item when C spans whole blocks; else one output per item
        // (small m or n, e.g. the per-step recurrent product, keeps more work-groups busy that way).
        boolean blocked = op.m() >= block && op.n() >= block;
        long[] global = blocked ? new long[]{roundUp(op.n(), block) / GEMM_WPT, roundUp(op.m(), block) / GEMM_WPT, groupsZ}
                : new long[]{roundUp(op.n(), tile), roundUp(op.m(), tile), groupsZ};
        launch(blocked ? K.GEMM_BLOCKED : K.GEMM, global, new long[]{tile, tile, 1},
                a("transA", op.transA() ? 1 : 0), a("transB", op.transB() ? 1 : 0), a("m", op.m()), a("n", op.n()), a("k", op.k()),
                a("alpha", op.alpha()), a("a", A), a("aOff", op.aOff()), a("lda", op.lda()), a("b", B), a("bOff", op.bOff()),
                a("ldb", op.ldb()), a("beta", op.beta()), a("c", C), a("cOff", op.cOff()), a("ldc", op.ldc()),
                a("batch", op.batch()), a("strideA", op.strideA()), a("strideB", op.strideB()), a("strideC", op.strideC()));
    }

    @Override
    public void mulRows(Op.MulRows op) {
        long n = (long) op.rows() * op.cols();
        OpenClBuffer X = buf(op.x(), "mulRows x"), M = buf(op.m(), "mulRows m");
        OpenClBuffer O = buf(op.out(), "mulRows out");
        launch1d(K.MUL_ROWS, n, a("rows", op.rows()), a("cols", op.cols()), a("x", X), a("xOff", op.xOff()), a("m", M), a("mOff", op.mOff()),
                a("out", O), a("outOff", op.outOff()));
    }

    @Override
    public void addRowVector(Op.AddRowVector op) {
        OpenClBuffer C = buf(op.c(), "addRowVector c");
        OpenClBuffer Bi = buf(op.bias(), "addRowVector bias");
        launchTiled(K.ADD_ROW_VECTOR, op.cols(), op.rows(), a("rows", op.rows()), a("cols", op.cols()),
                a("bias", Bi), a("biasOff", op.biasOff()), a("c", C), a("cOff", op.cOff()), a("ldc", op.ldc()));
    }

    @Override
    public void sumRows(Op.SumRows op) {
        OpenClBuffer A = buf(op.a(), "sumRows a");
        OpenClBuffer O = buf(op.out(), "sumRows out");
        if (op.cols() <= 0) return;
        // rows == 0 still writes out = beta * out (sums of nothing are 0)
        launch(K.SUM_ROWS, new long[]{roundUp(op.cols(), tile), tile}, new long[]{tile, tile},
                a("rows", op.rows()), a("cols", op.cols()), a("a", A), a("aOff", op.aOff()), a("lda", op.lda()), a("beta", op.beta()),
                a("out", O), a("outOff", op.outOff()));
    }

    @Override
    public double sumSquares(Op.SumSquares op) {
        OpenClBuffer X = buf(op.x(), "sumSquares x");
        if (op.n() == 0) return 0.0;
        long local = (long) tile * tile;
        int groups = (int) Math.min(MAX_PARTIALS, (op.n() + local - 1) / local);
        float[] part = new float[groups];
        synchronized (lock) { // the partials buffer is shared
            launch(K.SUM_SQUARES, new long[]{groups * local}, new long[]{local},
                    a("n", op.n()), a("x", X), a("off", op.off()), a("partial", partials));
            Cl.check(CL.clEnqueueReadBuffer(queue, partials, true, 0, (long) groups * Sizeof.cl_float, Pointer.to(part),
                    0, null, null), "clEnqueueReadBuffer");
        }
        double s = 0;
        for (float v : part) s += v;
        return s;
    }

    // ------------------------------------------------------------------ dropout

    @Override
    public void dropoutMask(Op.DropoutMask op) {
        if (op.n() > (1L << 32)) throw new IllegalArgumentException("dropout mask of " + op.n() + " elements: at most 2^32 per mask");
        OpenClBuffer O = buf(op.out(), "dropoutMask out");
        float scale = 1f / (1f - op.p());
        launch1d(K.DROPOUT_MASK, op.n(), a("n", op.n()), a("p", op.p()), a("scale", scale), a("k0", (int) op.seed()),
                a("k1", (int) (op.seed() >>> 32)), a("out", O), a("outOff", op.outOff()));
    }

    // ------------------------------------------------------------------ recurrent pointwise

    @Override
    public void rnnPointwiseForward(Op.RnnPointwiseForward op) {
        OpenClBuffer P = buf(op.pre(), "rnnPointwiseForward pre"), H = buf(op.h(), "rnnPointwiseForward h");
        launch1d(K.RNN_FWD, op.n(), a("act", op.act().code), a("n", (long) op.n()), a("pre", P), a("preOff", op.preOff()), a("h", H), a("hOff", op.hOff()));
    }

    @Override
    public void rnnPointwiseBackward(Op.RnnPointwiseBackward op) {
        OpenClBuffer H = buf(op.h(), "rnnPointwiseBackward h"), DH = buf(op.dh(), "rnnPointwiseBackward dh");
        OpenClBuffer DP = buf(op.dpre(), "rnnPointwiseBackward dpre");
        launch1d(K.RNN_BWD, op.n(), a("act", op.act().code), a("n", (long) op.n()), a("h", H), a("hOff", op.hOff()), a("dh", DH), a("dhOff", op.dhOff()),
                a("dpre", DP), a("dpreOff", op.dpreOff()));
    }


    @Override
    public void lstmPointwiseForward(Op.LstmPointwiseForward op) {
        long n = (long) op.batch() * op.hidden();
        OpenClBuffer G = buf(op.gates(), "lstmPointwiseForward gates");
        OpenClBuffer CP = buf(op.cPrev(), "lstmPointwiseForward cPrev");
        OpenClBuffer C = buf(op.c(), "lstmPointwiseForward c"), H = buf(op.h(), "lstmPointwiseForward h");
        launch1d(K.LSTM_FWD, n, a("batch", op.batch()), a("hidden", op.hidden()), a("gates", G), a("gOff", op.gOff()),
                a("cPrev", CP), a("cPrevOff", op.cPrevOff()), a("c", C), a("cOff", op.cOff()), a("h", H), a("hOff", op.hOff()));
    }

    @Override
    public void lstmPointwiseBackward(Op.LstmPointwiseBackward op) {
        long n = (long) op.batch() * op.hidden();
        OpenClBuffer G = buf(op.gates(), "lstmPointwiseBackward gates");
        OpenClBuffer CP = buf(op.cPrev(), "lstmPointwiseBackward cPrev");
        OpenClBuffer C = buf(op.c(), "lstmPointwiseBackward c");
        OpenClBuffer DH = buf(op.dh(), "lstmPointwiseBackward dh");
        OpenClBuffer DCN = op.dcNext() == null ? null : buf(op.dcNext(), "lstmPointwiseBackward dcNext");
        OpenClBuffer DG = buf(op.dGates(), "lstmPointwiseBackward dGates");
        OpenClBuffer DCP = buf(op.dcPrev(), "lstmPointwiseBackward dcPrev");
        launch1d(K.LSTM_BWD, n, a("batch", op.batch()), a("hidden", op.hidden()), a("gates", G), a("gOff", op.gOff()),
                a("cPrev", CP), a("cPrevOff", op.cPrevOff()), a("c", C), a("cOff", op.cOff()), a("dh", DH), a("dhOff", op.dhOff()),
                a("hasDcNext", flag(DCN)), a("dcNext", DCN), a("dcNextOff", off(DCN, op.dcNextOff())),
                a("dGates", DG), a("dgOff", op.dgOff()), a("dcPrev", DCP), a("dcPrevOff", op.dcPrevOff()));
    }

    @Override
    public void gruPointwiseForward(Op.GruPointwiseForward op) {
        long n = (long) op.batch() * op.hidden();
        OpenClBuffer GX = buf(op.gx(), "gruPointwiseForward gx");
        OpenClBuffer GH = buf(op.gh(), "gruPointwiseForward gh");
        OpenClBuffer BH = op.biasHh() == null ? null : buf(op.biasHh(), "gruPointwiseForward biasHh");
        OpenClBuffer HP = buf(op.hPrev(), "gruPointwiseForward hPrev");
        OpenClBuffer H = buf(op.h(), "gruPointwiseForward h");
        OpenClBuffer S = buf(op.saved(), "gruPointwiseForward saved");
        launch1d(K.GRU_FWD, n, a("batch", op.batch()), a("hidden", op.hidden()), a("gx", GX), a("gxOff", op.gxOff()),
                a("gh", GH), a("ghOff", op.ghOff()), a("hasBias", flag(BH)), a("bias", BH), a("biasOff", off(BH, op.biasHhOff())),
                a("hPrev", HP), a("hPrevOff", op.hPrevOff()), a("h", H), a("hOff", op.hOff()), a("saved", S), a("savedOff", op.savedOff()));
    }

    @Override
    public void gruPointwiseBackward(Op.GruPointwiseBackward op) {
        long n = (long) op.batch() * op.hidden();
        OpenClBuffer S = buf(op.saved(), "gruPointwiseBackward saved");
        OpenClBuffer HP = buf(op.hPrev(), "gruPointwiseBackward hPrev");
        OpenClBuffer DH = buf(op.dh(), "gruPointwiseBackward dh");
        OpenClBuffer DGX = buf(op.dgx(), "gruPointwiseBackward dgx");
        OpenClBuffer DGH = buf(op.dgh(), "gruPointwiseBackward dgh");
        OpenClBuffer DHP = buf(op.dhPrevPartial(), "gruPointwiseBackward dhPrevPartial");
        launch1d(K.GRU_BWD, n, a("batch", op.batch()), a("hidden", op.hidden()), a("saved", S), a("savedOff", op.savedOff()),
                a("hPrev", HP), a("hPrevOff", op.hPrevOff()), a("dh", DH), a("dhOff", op.dhOff()), a("dgx", DGX), a("dgxOff", op.dgxOff()),
                a("dgh", DGH), a("dghOff", op.dghOff()), a("dhPrevPartial", DHP), a("dhpOff", op.dhpOff()));
    }

    // ------------------------------------------------------------------ SRU


    @Override
    public void sruForward(Op.SruForward op) {
        String c = "sruForward ";
        List<KernelSignatures.Arg> args = sruArguments(op, c);
        List<KernelSignatures.Arg> own = List.of(a("h", buf(op.h(), c + "h")), a("hOff", op.hOff()), a("c", buf(op.c(), c + "c")),
                a("cOff", op.cOff()), a("cLast", buf(op.cLast(), c + "cLast")), a("cLastOff", op.cLastOff()));
        launchSru(K.SRU_FWD, op, args, own);
    }

    @Override
    public void sruBackward(Op.SruBackward op) {
        String c = "sruBackward ";
        List<KernelSignatures.Arg> args = sruArguments(op, c);
        OpenClBuffer DCL = opt(op.dcLast(), c + "dcLast"), DX = opt(op.dxWritten(), c + "dx");
        OpenClBuffer DWC = opt(op.dWeightCWritten(), c + "dWeightC");
        List<KernelSignatures.Arg> own = List.of(a("c", buf(op.c(), c + "c")), a("cOff", op.cOff()), a("dh", buf(op.dh(), c + "dh")),
                a("dhOff", op.dhOff()), a("hasDcLast", flag(DCL)), a("dcLast", DCL), a("dcLastOff", off(DCL, op.dcLastOff())),
                a("du", buf(op.du(), c + "du")), a("duOff", op.duOff()), a("dx", DX), a("dxOff", off(DX, op.dxOff())),
                a("dBias", buf(op.dBias(), c + "dBias")), a("dBiasOff", op.dBiasOff()), a("dWc", DWC), a("dWcOff", off(DWC, op.dWeightCOff())),
                a("dc0", buf(op.dc0(), c + "dc0")), a("dc0Off", op.dc0Off()));
        launchSru(K.SRU_BWD, op, args, own);
    }

    /**
     * The arguments both SRU kernels start with: the geometry, u, x, bias, c0 and mask (each
     * optional one after its flag) and the 2.x options, up to the lengths (see {@link #launchSru}).
     */
    private List<KernelSignatures.Arg> sruArguments(Op.SruOperands op, String c) {
        Op.SruShape s = op.shape();
        Op.SruOptions o = op.options();
        OpenClBuffer X = opt(op.xRead(), c + "x"), C0 = opt(op.c0(), c + "c0"), M = opt(op.maskH(), c + "maskH");
        OpenClBuffer WC = opt(o.weightC(), c + "weightC");
        return new ArrayList<>(List.of(a("seqLen", s.seqLen()), a("batch", s.batch()), a("hidden", s.hidden()), a("dirs", s.dirs()),
                a("k", s.k()), a("act", s.act().code), a("u", buf(op.u(), c + "u")), a("uOff", op.uOff()), a("x", X), a("xOff", off(X, op.xOff())),
                a("bias", buf(op.bias(), c + "bias")), a("biasOff", op.biasOff()),
                a("hasC0", flag(C0)), a("c0", C0), a("c0Off", off(C0, op.c0Off())), a("hasMask", flag(M)), a("mask", M), a("maskOff", off(M, op.maskOff())),
                a("hasWc", flag(WC)), a("weightC", WC), a("wcOff", off(WC, o.weightCOff())),
                a("scale", o.scale()), a("skip", o.hasSkip() ? 1 : 0), a("maskOnGate", o.maskOnGate() ? 1 : 0)));
    }

    /** Stages the lengths (if any) and launches an SRU kernel: the shared arguments, the lengths, then the op's own. */
    private void launchSru(K kernel, Op.SruOperands op, List<KernelSignatures.Arg> args, List<KernelSignatures.Arg> own) {
        Op.SruShape s = op.shape();
        if (s.empty()) return;
        synchronized (lock) { // the staged lengths live in the shared int scratch
            int[] lengths = op.options().lengths();
            cl_mem len = lengths == null ? null : stageInts(lengths, 0, s.batch());
            args.add(a("hasLen", len == null ? 0 : 1));
            args.add(a("lengths", len));
            args.addAll(own);
            launch1d(kernel, s.state(), args.toArray(KernelSignatures.Arg[]::new));
        }
    }

    // ------------------------------------------------------------------ layer norm

    @Override
    public void layerNormForward(Op.LayerNormForward op) {
        OpenClBuffer X = buf(op.x(), "layerNormForward x"), Y = buf(op.y(), "layerNormForward y");
        OpenClBuffer G = op.gamma() == null ? null : buf(op.gamma(), "layerNormForward gamma");
        OpenClBuffer BE = op.beta() == null ? null : buf(op.beta(), "layerNormForward beta");
        OpenClBuffer S = buf(op.stats(), "layerNormForward stats");
        if (op.cols() == 0) return;
        launch1d(K.LAYER_NORM_FWD, op.rows(), a("rows", op.rows()), a("cols", op.cols()), a("eps", op.eps()), a("x", X), a("xOff", op.xOff()),
                a("hasGamma", flag(G)), a("gamma", G), a("gammaOff", off(G, op.gammaOff())),
                a("hasBeta", flag(BE)), a("beta", BE), a("betaOff", off(BE, op.betaOff())),
                a("y", Y), a("yOff", op.yOff()), a("stats", S), a("statsOff", op.statsOff()));
    }

    @Override
    public void layerNormBackward(Op.LayerNormBackward op) {
        OpenClBuffer X = buf(op.x(), "layerNormBackward x"), S = buf(op.stats(), "layerNormBackward stats");
        OpenClBuffer G = op.gamma() == null ? null : buf(op.gamma(), "layerNormBackward gamma");
        OpenClBuffer DY = buf(op.dy(), "layerNormBackward dy"), DX = buf(op.dx(), "layerNormBackward dx");
        OpenClBuffer DG = op.dGamma() == null ? null : buf(op.dGamma(), "layerNormBackward dGamma");
        OpenClBuffer DB = op.dBeta() == null ? null : buf(op.dBeta(), "layerNormBackward dBeta");
        if (op.cols() == 0) return;
        if (DG != null || DB != null) // before dx, which may overwrite dy
            launch1d(K.LAYER_NORM_BWD_PARAMS, op.cols(), a("rows", op.rows()), a("cols", op.cols()), a("x", X), a("xOff", op.xOff()),
                    a("stats", S), a("statsOff", op.statsOff()), a("dy", DY), a("dyOff", op.dyOff()),
                    a("hasDGamma", flag(DG)), a("dGamma", DG), a("dGammaOff", off(DG, op.dGammaOff())),
                    a("hasDBeta", flag(DB)), a("dBeta", DB), a("dBetaOff", off(DB, op.dBetaOff())));
        launch1d(K.LAYER_NORM_BWD_DX, op.rows(), a("rows", op.rows()), a("cols", op.cols()), a("x", X), a("xOff", op.xOff()),
                a("hasGamma", flag(G)), a("gamma", G), a("gammaOff", off(G, op.gammaOff())),
                a("stats", S), a("statsOff", op.statsOff()), a("dy", DY), a("dyOff", op.dyOff()), a("dx", DX), a("dxOff", op.dxOff()));
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




    @Override
    public void embeddingForward(Op.EmbeddingForward op) {
        OpenClBuffer W = buf(op.weight(), "embeddingForward weight");
        OpenClBuffer O = buf(op.out(), "embeddingForward out");
        if (op.n() == 0 || op.dim() == 0) return;
        synchronized (lock) {
            cl_mem staged = stageInts(op.ids(), op.idsOff(), op.n());
            launchTiled(K.EMBEDDING_FWD, op.dim(), op.n(), a("n", op.n()), a("dim", op.dim()), a("ids", staged),
                    a("weight", W), a("wOff", op.wOff()), a("out", O), a("outOff", op.outOff()));
        }
    }

    @Override
    public void embeddingBackward(Op.EmbeddingBackward op) {
        OpenClBuffer D = buf(op.dOut(), "embeddingBackward dOut");
        OpenClBuffer W = buf(op.dWeight(), "embeddingBackward dWeight");
        if (op.n() == 0 || op.dim() == 0) return;
        // Group positions by id, ascending positions within an id: [uniq | start | pos].
        long[] keys = new long[op.n()];
        for (int i = 0; i < op.n(); i++) keys[i] = ((long) op.ids()[op.idsOff() + i] << 32) | i;
        java.util.Arrays.sort(keys);
        int u = 0;
        for (int i = 0; i < op.n(); i++) if (i == 0 || (keys[i] >>> 32) != (keys[i - 1] >>> 32)) u++;
        int[] csr = new int[2 * u + 1 + op.n()];
        int q = 0;
        for (int i = 0; i < op.n(); i++) {
            if (i == 0 || (keys[i] >>> 32) != (keys[i - 1] >>> 32)) {
                csr[q] = (int) (keys[i] >>> 32);
                csr[u + q] = i;
                q++;
            }
            csr[2 * u + 1 + i] = (int) keys[i];
        }
        csr[2 * u] = op.n();
        synchronized (lock) {
            cl_mem staged = stageInts(csr, 0, csr.length);
            launchTiled(K.EMBEDDING_BWD, op.dim(), u, a("u", u), a("dim", op.dim()), a("csr", staged),
                    a("dOut", D), a("dOutOff", op.dOutOff()), a("dWeight", W), a("dwOff", op.dwOff()));
        }
    }

    @Override
    public double logSoftmaxNll(Op.LogSoftmaxNll op) {
        long n = (long) op.rows() * op.classes();
        OpenClBuffer L = buf(op.logits(), "logSoftmaxNll logits");
        OpenClBuffer G = op.dLogits() == null ? null : buf(op.dLogits(), "logSoftmaxNll dLogits");
        if (op.rows() == 0) return 0.0;
        long local = (long) tile * tile;
        float[] rowLoss = new float[op.rows()];
        synchronized (lock) {
            cl_mem staged = stageInts(op.targets(), op.tOff(), op.rows());
            if (lossesCapacity < op.rows()) {
                losses = scratch(losses, lossesCapacity, op.rows(), "row losses");
                lossesCapacity = op.rows();
            }
            launch(K.LOG_SOFTMAX_NLL, new long[]{op.rows() * local}, new long[]{local},
                    a("rows", op.rows()), a("classes", op.classes()), a("logits", L), a("lOff", op.lOff()), a("targets", staged),
                    a("hasGrad", flag(G)), a("gradScale", op.gradScale()), a("dLogits", G), a("dOff", off(G, op.dOff())), a("loss", losses));
            Cl.check(CL.clEnqueueReadBuffer(queue, losses, true, 0, (long) op.rows() * Sizeof.cl_float, Pointer.to(rowLoss),
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

    /** Runs an op: an {@link Op.Elementwise} one from its record alone, any other through its method here. */
    @Override
    public Object execute(Op<?> op) {
        checkOpen();
        if (!(op instanceof Op.Elementwise)) return op.runOn(this);
        launchElementwise(op);
        return null;
    }
}
