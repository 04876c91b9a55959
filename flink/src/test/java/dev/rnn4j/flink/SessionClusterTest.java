// A standalone session cluster as README.md's deployment section sets it up, from Flink's jars on
// Maven Central: a JobManager and a TaskManager process started the way Flink's scripts start them
// (BashJavaUtils computes the memory options, then the entrypoint's main class), rnn4j and JOCL
// in the cluster's class path (a distribution's lib/), the TaskManager JVM options from
// env.java.opts.taskmanager, the job's classes shipped as a job jar. Two OpenCL jobs in turn on one
// TaskManager (JOCL's native library loads once, by the parent class loader), then a TaskManager
// killed (SIGKILL) mid-stream and replaced: the job recovers, and its exactly-once file sink holds
// every output once, bit-equal to the offline run. Local traffic only (127.0.0.1).
package dev.rnn4j.flink;

import dev.rnn4j.Device;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@Timeout(value = 8, unit = TimeUnit.MINUTES)
class SessionClusterTest {
    /** What README.md's deployment section puts in env.java.opts.taskmanager. */
    static final String TM_OPTS = "--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector --sun-misc-unsafe-memory-access=allow";

    @TempDir
    static Path dir;
    static Path conf, jobJar;
    static String flinkClassPath;
    static int restPort;
    static final List<Process> processes = new ArrayList<>();
    static int taskManagers;

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) { return s.getLocalPort(); }
    }

    static Path codeSource(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    static String java() { return Path.of(System.getProperty("java.home"), "bin", "java").toString(); }

    /** What bin/jobmanager.sh and bin/taskmanager.sh ask BashJavaUtils for: the JVM's memory flags, then the dynamic properties. */
    static List<String> resourceParams(String which) throws Exception {
        Process p = new ProcessBuilder(java(), "-cp", flinkClassPath, "org.apache.flink.runtime.util.bash.BashJavaUtils", which, "--configDir", conf.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, out);
        List<String> args = new ArrayList<>();
        out.lines().filter(l -> l.startsWith("BASH_JAVA_UTILS_EXEC_RESULT:"))
                .forEach(l -> args.addAll(Arrays.asList(l.substring("BASH_JAVA_UTILS_EXEC_RESULT:".length()).trim().split(" +"))));
        return args;
    }

    /** Starts an entrypoint as Flink's scripts do: memory flags first, the main class, --configDir, the dynamic properties. */
    static Process start(String name, String mainClass, List<String> jvmOpts, String classPath, List<String> params) throws Exception {
        List<String> memory = params.stream().filter(a -> a.startsWith("-X")).toList();
        List<String> dynamic = params.stream().filter(a -> !a.startsWith("-X")).toList();
        List<String> cmd = new ArrayList<>(List.of(java()));
        cmd.addAll(memory);
        cmd.addAll(jvmOpts);
        cmd.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=info");
        cmd.addAll(List.of("-cp", classPath, mainClass, "--configDir", conf.toString()));
        cmd.addAll(dynamic);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".log").toFile()).start();
        processes.add(p);
        return p;
    }

    static Process startTaskManager() throws Exception {
        // rnn4j and JOCL in the cluster's own class path: a distribution's lib/, loaded parent-first.
        String cp = flinkClassPath + ":" + codeSource(Device.class) + ":" + codeSource(Class.forName("org.jocl.CL", false, SessionClusterTest.class.getClassLoader()));
        return start("taskmanager-" + (++taskManagers), "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
                Arrays.asList(TM_OPTS.split(" ")), cp, resourceParams("GET_TM_RESOURCE_PARAMS"));
    }

    static String rest(String path) throws Exception {
        try (HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            return c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + restPort + path)).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        }
    }

    /** Waits until the cluster has {@code n} registered TaskManagers with a free slot each. */
    static void awaitSlots(int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        String last = "";
        while (System.nanoTime() < deadline) {
            try {
                last = rest("/overview");
                if (last.contains("\"taskmanagers\":" + n + ",") && !last.contains("\"slots-available\":0,")) return;
            } catch (IOException e) {
                last = e.toString();
            }
            Thread.sleep(250);
        }
        fail("the session cluster did not get " + n + " TaskManager(s) with free slots: " + last + "\n" + logs());
    }

    static String logs() throws IOException {
        StringBuilder s = new StringBuilder();
        try (Stream<Path> l = Files.list(dir)) {
            for (Path f : l.filter(f -> f.toString().endsWith(".log")).sorted().toList()) {
                List<String> lines = Files.readAllLines(f);
                s.append("== ").append(f.getFileName()).append('\n');
                lines.subList(Math.max(0, lines.size() - 40), lines.size()).forEach(x -> s.append(x).append('\n'));
            }
        }
        return s.toString();
    }

    /** The job jar: this module's classes and its test classes (the job), not rnn4j (in the cluster's lib/). */
    static Path jobJar() throws Exception {
        Path jar = dir.resolve("job.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
            for (Path root : List.of(codeSource(RecurrentInference.class), codeSource(SessionClusterTest.class))) {
                try (Stream<Path> files = Files.walk(root)) {
                    for (Path f : files.filter(Files::isRegularFile).filter(f -> f.toString().endsWith(".class")).toList()) {
                        out.putNextEntry(new JarEntry(root.relativize(f).toString().replace('\\', '/')));
                        Files.copy(f, out);
                        out.closeEntry();
                    }
                }
            }
        }
        return jar;
    }

    @BeforeAll
    static void startCluster() throws Exception {
        Path cpFile = Path.of("target", "flink-cluster.classpath");
        assertTrue(Files.exists(cpFile), "run through Maven: it writes " + cpFile);
        flinkClassPath = Files.readString(cpFile).trim();
        restPort = freePort();
        conf = Files.createDirectories(dir.resolve("conf"));
        Files.writeString(conf.resolve("config.yaml"), String.join("\n",
                "jobmanager.rpc.address: 127.0.0.1",
                "jobmanager.rpc.port: " + freePort(),
                "jobmanager.bind-host: 127.0.0.1",
                "rest.address: 127.0.0.1",
                "rest.bind-address: 127.0.0.1",
                "rest.port: " + restPort,
                "taskmanager.host: 127.0.0.1",
                "taskmanager.bind-host: 127.0.0.1",
                "taskmanager.numberOfTaskSlots: 1",
                "jobmanager.memory.process.size: 800m",
                "taskmanager.memory.process.size: 1000m",
                "taskmanager.memory.managed.fraction: 0.05",
                "env.java.opts.taskmanager: " + TM_OPTS,
                // A lost TaskManager is noticed within seconds (its connection drops at once; the heartbeat is the backstop).
                "heartbeat.interval: 1000",
                "heartbeat.timeout: 5000",
                "restart-strategy.type: fixed-delay",
                "restart-strategy.fixed-delay.attempts: 20",
                "restart-strategy.fixed-delay.delay: 1 s",
                ""));
        jobJar = jobJar();
        start("jobmanager", "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
                List.of("--sun-misc-unsafe-memory-access=allow"), flinkClassPath, resourceParams("GET_JM_RESOURCE_PARAMS"));
        startTaskManager();
        awaitSlots(1);
    }

    @AfterAll
    static void stopCluster() throws Exception {
        for (Process p : processes) p.destroy();
        for (Process p : processes) if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly();
    }

    static StreamExecutionEnvironment remote() {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createRemoteEnvironment("127.0.0.1", restPort, new Configuration(), jobJar.toString());
        env.setParallelism(1);
        env.enableCheckpointing(200);
        return env;
    }

    static float[][] offline(Path model, int key, int steps) throws Exception {
        try (Device d = Device.reference(); StreamingModel m = StreamingModel.load(d, model)) {
            float[][] x = new float[steps][];
            for (int t = 0; t < steps; t++) x[t] = Event.of(key, t, ClusterJob.WIDTH, 0).vector;
            return m.sequence(x, null);
        }
    }

    @Test
    void twoOpenClJobsInTurnOnOneTaskManager() throws Exception {
        boolean opencl = Device.backends().stream().anyMatch(b -> b.name().equals("opencl") && b.available());
        assumeTrue(opencl || "1".equals(System.getenv("RNN4J_REQUIRE_OPENCL")), "no OpenCL device here");
        int keys = 4, steps = 10;
        Path model = ModelFiles.write(dir.resolve("opencl-gru.safetensors"), ModelSpec.of(ModelSpec.Kind.GRU, ClusterJob.WIDTH, 8, 2), 5);
        for (int job = 1; job <= 2; job++) {
            Path out = dir.resolve("opencl-out-" + job);
            StreamExecutionEnvironment env = remote();
            ClusterJob.build(env, model, "opencl", keys, steps, 1000, out);
            try {
                env.execute("rnn4j on OpenCL, job " + job);
            } catch (Exception e) {
                throw new AssertionError("job " + job + " on OpenCL failed: " + e + "\n" + logs(), e);
            }
            int[] dup = {0};
            Map<String, float[]> got = ClusterJob.read(out, dup);
            assertEquals(keys * steps, got.size(), "job " + job + ": every output");
            assertEquals(0, dup[0], "job " + job);
            for (int k = 0; k < keys; k++) {
                float[][] want = offline(model, k, steps);
                for (int t = 0; t < steps; t++) assertArrayEquals(want[t], got.get(k + "/" + t), 1e-5f, "job " + job + " key " + k + " step " + t);
            }
            awaitSlots(1);
        }
    }

    @Test
    void aKilledTaskManagerIsReplacedAndTheJobRecoversExactlyOnce() throws Exception {
        int keys = 12, steps = 80;
        Path model = ModelFiles.write(dir.resolve("reference-lstm.safetensors"), ModelSpec.of(ModelSpec.Kind.LSTM, ClusterJob.WIDTH, 10, 2).withOutput(3), 9);
        Path out = dir.resolve("recovery-out");
        StreamExecutionEnvironment env = remote();
        ClusterJob.build(env, model, "reference", keys, steps, 80, out);   // 960 events at 80/s: about 12 s
        JobClient job = env.executeAsync("rnn4j through a TaskManager failure");
        // Kill the TaskManager once some outputs are committed (a checkpoint has completed) and the stream is far from its end.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        int[] dup = {0};
        while (ClusterJob.read(out, dup).size() < keys * 5 && System.nanoTime() < deadline) Thread.sleep(100);
        int before = ClusterJob.read(out, dup).size();
        assertTrue(before >= keys * 5, "outputs committed before the kill: " + before + "\n" + logs());
        assertTrue(before < keys * steps / 2, "the kill comes mid-stream: " + before + " of " + keys * steps);
        Process tm = processes.get(processes.size() - 1);
        tm.destroyForcibly();   // SIGKILL
        assertTrue(tm.waitFor(30, TimeUnit.SECONDS));
        startTaskManager();
        try {
            job.getJobExecutionResult().get(240, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("the job did not recover: " + e + "\n" + logs(), e);
        }
        dup[0] = 0;
        Map<String, float[]> got = ClusterJob.read(out, dup);
        assertEquals(0, dup[0], "no output committed twice");
        assertEquals(keys * steps, got.size(), "every output once");
        for (int k = 0; k < keys; k++) {
            float[][] want = offline(model, k, steps);
            for (int t = 0; t < steps; t++) {
                float[] g = got.get(k + "/" + t);
                assertNotNull(g, "key " + k + " step " + t);
                for (int i = 0; i < want[t].length; i++)
                    assertEquals(Float.floatToRawIntBits(want[t][i]), Float.floatToRawIntBits(g[i]), "key " + k + " step " + t + " element " + i);
            }
        }
        System.out.println("session cluster: TaskManager killed after " + before + " of " + keys * steps + " outputs were committed; the job recovered exactly once");
    }
}
