package dev.rnn4j.backend;

import dev.rnn4j.DeviceOutOfMemoryException;

import dev.rnn4j.Device;
import dev.rnn4j.Outcomes;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.opencl.OpenClBackend;
import dev.rnn4j.nn.Linear;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Running out of device memory is a {@link DeviceOutOfMemoryException} naming the backend and
 * the request, never an {@link OutOfMemoryError} or a native failure, and the device works
 * normally afterwards.
 */
class OutOfMemoryTest {
    /** The largest tensor rnn4j allows, in bytes: more than the test JVM's heap. */
    static final long MAX_BYTES = Shapes.MAX_NUMEL * 4;

    @Test
    void aTooLargeAllocationIsAClearExceptionAndTheDeviceStaysUsableOnReference() {
        Assumptions.assumeTrue(Runtime.getRuntime().maxMemory() < MAX_BYTES, "the heap could hold the largest tensor");
        try (Device dev = Outcomes.open("reference")) {
            tooLargeIsRefused(dev, Shapes.MAX_NUMEL);
        }
    }

    /**
     * One request larger than what the device can give, then the device works as before: the
     * request's size comes from the caller (never a fixed size that some machine could satisfy).
     */
    static void tooLargeIsRefused(Device dev, long floats) {
        String backend = DeviceAccess.backend(dev).name();
        float[] before = Outcomes.lstmOutput(dev);
        long base = DeviceAccess.backend(dev).liveBuffers();
        long bytes = floats * 4;
        DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> DeviceAccess.backend(dev).allocate(floats));
        assertEquals(backend, e.backend());
        assertEquals(bytes, e.requestedBytes());
        assertTrue(e.getMessage().startsWith(backend + ": out of device memory allocating " + bytes + " bytes"), e.getMessage());
        // Through the public API: a tensor, and a layer whose weights do not fit.
        assertThrows(DeviceOutOfMemoryException.class, () -> dev.zeros(2, (int) (floats / 2)));
        int in = 1 << 16, out = (int) Math.min((1 << 15) - 1, floats / in + 1);
        assertThrows(DeviceOutOfMemoryException.class, () -> new Linear(dev, in, out, true).close());
        assertEquals(base, DeviceAccess.backend(dev).liveBuffers(), "a failed allocation leaves nothing behind");
        assertArrayEquals(before, Outcomes.lstmOutput(dev), "the device works as before");
    }

    /**
     * OpenCL: a request above what the device and the host can give is refused, and a loop of
     * allocations runs out with an exception, never a driver abort. On a device whose buffers are
     * host memory (PoCL's CPU device) the host's limits decide, so the check runs in a child JVM
     * whose address-space limit it sets itself: the same on every machine, whatever its memory.
     */
    @Test
    void openClRefusesWhatTheDeviceAndTheHostCannotGive() throws IOException, InterruptedException {
        try (Device dev = Outcomes.open("opencl")) {
            OpenClBackend be = (OpenClBackend) DeviceAccess.backend(dev);
            if (!be.usesHostMemory()) {
                // Device memory: more than the global memory, in chunks of the largest buffer.
                long chunk = Math.min(be.maxAllocBytes(), MAX_BYTES) / 4;
                List<Tensor> held = new ArrayList<>();
                DeviceOutOfMemoryException e = null;
                try {
                    for (long n = 0; n <= be.memoryLimitBytes() / (chunk * 4) + 1 && e == null; n++) {
                        try { held.add(dev.zeros(1, (int) chunk)); } catch (DeviceOutOfMemoryException x) { e = x; }
                    }
                } finally {
                    for (Tensor t : held) t.close();
                }
                assertTrue(e != null, "more than the device's global memory was allocated");
                assertEquals(0, be.liveBuffers());
                return;
            }
        }
        Path dir = Files.createTempDirectory("rnn4j-oom");
        try {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                    "-XX:ErrorFile=" + dir.resolve("hs_err_pid%p.log"),
                    "-cp", System.getProperty("java.class.path"), HostLimitChild.class.getName());
            pb.redirectErrorStream(true);
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(180, TimeUnit.SECONDS), "child JVM did not finish");
            assertEquals(0, p.exitValue(), "the child JVM failed (exit 134 is the driver's abort):\n" + out);
            assertTrue(out.contains("host-limit check passed"), out);
            System.out.println(out.lines().filter(l -> l.startsWith("host-limit")).findFirst().orElseThrow());
        } finally {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) Files.delete(f);
            }
            Files.delete(dir);
        }
    }

    /**
     * Run in a child JVM: lowers its own address-space limit (RLIMIT_AS) to what it has mapped plus
     * 1.5 GiB, then checks that OpenCL refuses what no longer fits, one request or many.
     */
    public static final class HostLimitChild {
        private static final int RLIMIT_AS = 9;   // Linux, x86-64 and aarch64

        public static void main(String[] args) throws Throwable {
            try (Device dev = Device.open("opencl"); Arena arena = Arena.ofConfined()) {
                OpenClBackend be = (OpenClBackend) DeviceAccess.backend(dev);
                float[] before = Outcomes.lstmOutput(dev);
                long base = be.liveBuffers();
                Linker linker = Linker.nativeLinker();
                FunctionDescriptor fd = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS);
                MethodHandle get = linker.downcallHandle(linker.defaultLookup().find("getrlimit").orElseThrow(), fd);
                MethodHandle set = linker.downcallHandle(linker.defaultLookup().find("setrlimit").orElseThrow(), fd);
                MemorySegment old = arena.allocate(16), lim = arena.allocate(16);
                check((int) get.invokeExact(RLIMIT_AS, old) == 0, "getrlimit");
                long limit = vmSizeBytes() + (3L << 29);
                lim.set(ValueLayout.JAVA_LONG, 0, limit);
                lim.set(ValueLayout.JAVA_LONG, 8, old.get(ValueLayout.JAVA_LONG, 8));
                check((int) set.invokeExact(RLIMIT_AS, lim) == 0, "setrlimit");
                int refusedAt = -1;
                try {
                    // One request above what is left under the limit: refused, the device untouched.
                    long floats = Math.min(Shapes.MAX_NUMEL, (limit - vmSizeBytes()) / 4 + (64 << 20));
                    tooLargeIsRefused(dev, floats);
                    // 256 MiB tensors until they no longer fit: refused before the driver runs out.
                    List<Tensor> held = new ArrayList<>();
                    try {
                        for (int i = 0; i < 32 && refusedAt < 0; i++) {
                            try {
                                Tensor t = dev.zeros(64, 1 << 20);
                                held.add(t);
                                t.fill(1f);
                            } catch (DeviceOutOfMemoryException e) {
                                check(e.getMessage().contains("the host can map"), "the refusal names the host limit: " + e.getMessage());
                                refusedAt = i;
                            }
                        }
                    } finally {
                        for (Tensor t : held) t.close();
                    }
                } finally {
                    check((int) set.invokeExact(RLIMIT_AS, old) == 0, "setrlimit (restore)");
                }
                check(refusedAt > 0, "refused at tensor " + refusedAt + " of 256 MiB under a 1.5 GiB margin");
                check(be.liveBuffers() == base, "buffers left behind: " + (be.liveBuffers() - base));
                check(java.util.Arrays.equals(before, Outcomes.lstmOutput(dev)), "the device works as before");
                System.out.println("host-limit check passed: refused at tensor " + refusedAt);
            }
        }

        private static void check(boolean ok, String what) {
            if (!ok) throw new AssertionError(what);
        }

        private static long vmSizeBytes() throws IOException {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmSize:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            throw new AssertionError("no VmSize in /proc/self/status");
        }
    }

    @Test
    void openClMemoryBudgetRunsOutAndRecovers() {
        String old = System.setProperty(OpenClBackend.MEMORY_LIMIT_PROPERTY, Long.toString(1 << 20));
        try (Device dev = Outcomes.open("opencl")) {
            OpenClBackend be = (OpenClBackend) DeviceAccess.backend(dev);
            List<Tensor> held = new ArrayList<>();
            DeviceOutOfMemoryException e = null;
            for (int i = 0; i < 100 && e == null; i++) {
                try {
                    held.add(dev.zeros(64, 1024));   // 256 KiB each; the fifth does not fit in 1 MiB
                } catch (DeviceOutOfMemoryException x) {
                    e = x;
                }
            }
            assertTrue(e != null, "the budget never ran out");
            assertEquals(4, held.size());
            assertTrue(e.getMessage().contains("already in use"), e.getMessage());
            assertEquals(4L << 18, be.allocatedBytes());
            held.remove(0).close();
            try (Tensor t = dev.zeros(64, 1024)) {            // freed memory can be used again
                t.fill(3f);
                assertEquals(3f, t.toArray()[65535]);
            }
            for (Tensor t : held) t.close();
            assertEquals(0, be.allocatedBytes());
            assertEquals(0, be.liveBuffers());
        } finally {
            if (old == null) System.clearProperty(OpenClBackend.MEMORY_LIMIT_PROPERTY);
            else System.setProperty(OpenClBackend.MEMORY_LIMIT_PROPERTY, old);
        }
    }
}
