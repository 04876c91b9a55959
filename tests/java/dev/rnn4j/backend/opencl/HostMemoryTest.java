package dev.rnn4j.backend.opencl;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host limits a host-memory OpenCL device's allocations are checked against, read from Linux's own files. */
class HostMemoryTest {
    static final String LIMITS = """
            Limit                     Soft Limit           Hard Limit           Units
            Max cpu time              unlimited            unlimited            seconds
            Max data size             unlimited            unlimited            bytes
            Max address space         16384000000          unlimited            bytes
            """;
    static final String STATUS = """
            Name:\tjava
            VmPeak:\t 9000000 kB
            VmSize:\t 8000000 kB
            VmData:\t 7000000 kB
            """;

    @Test
    void theAddressSpaceLimitLessWhatIsMapped() {
        HostMemory.Room r = HostMemory.rlimitRoom(LIMITS, "Max address space", STATUS, "VmSize", "RLIMIT_AS");
        assertEquals(16384000000L - 8000000L * 1024, r.bytes());
        assertTrue(r.limit().startsWith("RLIMIT_AS 15625 MiB, 7812 MiB mapped"), r.limit());
        assertNull(HostMemory.rlimitRoom(LIMITS, "Max data size", STATUS, "VmData", "RLIMIT_DATA"), "unlimited");
        assertEquals(0, HostMemory.rlimitRoom(LIMITS.replace("16384000000", "4096"), "Max address space", STATUS, "VmSize", "RLIMIT_AS").bytes());
        assertNull(HostMemory.rlimitRoom(LIMITS, "Max address space", "Name:\tjava\n", "VmSize", "RLIMIT_AS"));
        assertNull(HostMemory.rlimitRoom(null, "Max address space", STATUS, "VmSize", "RLIMIT_AS"));
    }

    @Test
    void memAvailableAndCgroups() {
        assertEquals(2048L * 1024, HostMemory.memAvailable("MemTotal:  4096 kB\nMemFree:  1024 kB\nMemAvailable:    2048 kB\n").bytes());
        assertNull(HostMemory.memAvailable("MemTotal:  4096 kB\n"));
        assertEquals(600, HostMemory.cgroupRoom("1000\n", "400\n").bytes());
        assertEquals(0, HostMemory.cgroupRoom("1000\n", "4000\n").bytes());
        assertNull(HostMemory.cgroupRoom("max\n", "400\n"));
        assertNull(HostMemory.cgroupRoom("9223372036854771712\n", "400\n"), "cgroup v1's unlimited");
        assertNull(HostMemory.cgroupRoom(null, "400"));
    }

    @Test
    void theRoomNowIsTheTightestKnownLimit() {
        HostMemory.Room r = HostMemory.room();
        assertTrue(r.bytes() > 0, r.toString());
        if (java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/meminfo")))
            assertTrue(r.bytes() != Long.MAX_VALUE, "MemAvailable is known on Linux: " + r);
    }
}
