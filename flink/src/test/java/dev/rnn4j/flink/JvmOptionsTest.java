// The module's JVMs run with the flags its docs give (native access, the Vector API): the tests'
// JVM here, so that the default cpu backend runs its vector kernels, not its plain-Java fallback.
package dev.rnn4j.flink;

import dev.rnn4j.Device;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class JvmOptionsTest {
    @Test
    void theVectorApiIsEnabledAndTheDefaultCpuBackendUsesIt() {
        assertTrue(ModelSource.vectorApiEnabled(), "the test JVM runs without --add-modules jdk.incubator.vector (see rnn4j.flink.jvm.flags in pom.xml)");
        assertEquals("cpu", ModelSource.defaultBackend());
        Device.BackendInfo cpu = Device.backends().stream().filter(b -> b.name().equals("cpu")).findFirst().orElseThrow();
        // The cpu backend's description says why it picked plain-Java kernels, naming the missing module.
        assertFalse(cpu.detail().contains("jdk.incubator.vector is not enabled"), cpu.detail());
    }
}
