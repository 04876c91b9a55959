package dev.rnn4j.backend.opencl;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How many more bytes this process can map, for OpenCL devices whose buffers are host memory
 * (PoCL's CPU device). Such a driver reports the machine's RAM as its global memory and hands out
 * buffers it may not be able to back: when the pages cannot be mapped later it aborts the JVM in
 * an assertion instead of returning an error. So the backend asks here first, from the limits
 * Linux enforces: MemAvailable, the memory cgroup (v2 or v1), and the address-space and data
 * rlimits less what the process has mapped already. Unknown limits count as unlimited.
 */
final class HostMemory {
    private HostMemory() {}

    /** Bytes that can still be mapped and the limit that sets it, e.g. "RLIMIT_AS 16 GiB, 14 GiB mapped". */
    record Room(long bytes, String limit) {}

    /** The tightest of the known limits now; {@code Long.MAX_VALUE} with limit "none known" when none is known. */
    static Room room() {
        List<Room> rooms = new ArrayList<>();
        String status = read(Path.of("/proc/self/status"));
        String limits = read(Path.of("/proc/self/limits"));
        add(rooms, memAvailable(read(Path.of("/proc/meminfo"))));
        add(rooms, rlimitRoom(limits, "Max address space", status, "VmSize", "RLIMIT_AS"));
        add(rooms, rlimitRoom(limits, "Max data size", status, "VmData", "RLIMIT_DATA"));
        add(rooms, cgroupRoom(read(Path.of("/proc/self/cgroup"))));
        Room best = new Room(Long.MAX_VALUE, "none known");
        for (Room r : rooms) if (r.bytes() < best.bytes()) best = r;
        return best;
    }

    private static void add(List<Room> rooms, Room r) { if (r != null) rooms.add(r); }

    /** MemAvailable from /proc/meminfo text, or null. */
    static Room memAvailable(String meminfo) {
        long kb = kbField(meminfo, "MemAvailable:");
        return kb < 0 ? null : new Room(kb * 1024, "MemAvailable " + mib(kb * 1024));
    }

    /**
     * The soft limit named {@code limitName} in /proc/self/limits text less the {@code statusField}
     * (kB) of /proc/self/status, or null when either is missing or the limit is unlimited.
     */
    static Room rlimitRoom(String limits, String limitName, String status, String statusField, String label) {
        if (limits == null || status == null) return null;
        for (String line : limits.split("\n")) {
            if (!line.startsWith(limitName)) continue;
            String[] f = line.substring(limitName.length()).trim().split("\\s+");
            if (f.length < 1 || f[0].equals("unlimited")) return null;
            long soft;
            try { soft = Long.parseLong(f[0]); } catch (NumberFormatException e) { return null; }
            long usedKb = kbField(status, statusField + ":");
            if (usedKb < 0) return null;
            long used = usedKb * 1024;
            return new Room(Math.max(0, soft - used), label + " " + mib(soft) + ", " + mib(used) + " mapped");
        }
        return null;
    }

    /** Room left in this process's memory cgroup (v2 memory.max, else v1 memory.limit_in_bytes), or null. */
    static Room cgroupRoom(String procCgroup) {
        if (procCgroup == null) return null;
        for (String line : procCgroup.split("\n")) {
            String[] f = line.split(":", 3);
            if (f.length < 3) continue;
            Path dir;
            String max, cur;
            if (f[0].equals("0") && f[1].isEmpty()) {            // cgroup v2
                dir = Path.of("/sys/fs/cgroup", f[2]);
                max = read(dir.resolve("memory.max"));
                cur = read(dir.resolve("memory.current"));
            } else if (List.of(f[1].split(",")).contains("memory")) {   // cgroup v1
                dir = Path.of("/sys/fs/cgroup/memory", f[2]);
                max = read(dir.resolve("memory.limit_in_bytes"));
                cur = read(dir.resolve("memory.usage_in_bytes"));
            } else continue;
            Room r = cgroupRoom(max, cur);
            if (r != null) return r;
        }
        return null;
    }

    /** Room from a cgroup's limit and usage files' text; null when unlimited or unreadable. */
    static Room cgroupRoom(String max, String current) {
        if (max == null || current == null) return null;
        try {
            String m = max.trim();
            if (m.equals("max")) return null;
            long limit = Long.parseLong(m), used = Long.parseLong(current.trim());
            if (limit >= Long.MAX_VALUE / 2) return null;              // v1 writes "unlimited" as a huge number
            return new Room(Math.max(0, limit - used), "memory cgroup " + mib(limit) + ", " + mib(used) + " used");
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** A "Name:   123 kB" field, in kB; -1 when absent. */
    private static long kbField(String text, String name) {
        if (text == null) return -1;
        for (String line : text.split("\n")) {
            if (!line.startsWith(name)) continue;
            String[] f = line.substring(name.length()).trim().split("\\s+");
            try { return Long.parseLong(f[0]); } catch (NumberFormatException e) { return -1; }
        }
        return -1;
    }

    private static String mib(long bytes) { return (bytes >> 20) + " MiB"; }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
