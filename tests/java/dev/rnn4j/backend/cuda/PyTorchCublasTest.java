package dev.rnn4j.backend.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Finding PyTorch's cuBLAS through a Python (a stand-in script here, so no GPU or PyTorch is needed). */
class PyTorchCublasTest {
    @TempDir Path tmp;

    /** A "python" that prints the given lines, as the real one prints the nvidia.cublas package's folders. */
    private Path fakePython(String... lines) throws IOException {
        Path script = tmp.resolve("python");
        Files.writeString(script, "#!/bin/sh\n" + String.join("", List.of(lines).stream().map(l -> "echo '" + l + "'\n").toList()));
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    @Test
    void findsTheLibrariesInThePackagesLibFolderNewestFirst() throws IOException {
        Path pkg = Files.createDirectories(tmp.resolve("site-packages/nvidia/cublas/lib"));
        Files.writeString(pkg.resolve("libcublas.so.12"), "");
        Files.writeString(pkg.resolve("libcublas.so.13"), "");
        Path other = Files.createDirectories(tmp.resolve("other/nvidia/cublas"));   // no lib/ there
        List<Path> found = PyTorchCublas.find(fakePython(pkg.getParent().toString(), other.toString()).toString());
        assertEquals(List.of(pkg.resolve("libcublas.so.13"), pkg.resolve("libcublas.so.12")), found);
        assertTrue(PyTorchCublas.lastOutcome().endsWith(found.toString()), PyTorchCublas.lastOutcome());
    }

    @Test
    void noPackageNoPythonOrNoneAskedFindNothingAndSayWhy() throws IOException {
        assertEquals(List.of(), PyTorchCublas.find(fakePython("").toString()));
        assertTrue(PyTorchCublas.lastOutcome().endsWith(": no nvidia.cublas package with libcublas.so.13/.12"),
                PyTorchCublas.lastOutcome());
        assertEquals(List.of(), PyTorchCublas.find(tmp.resolve("no-such-python").toString()));
        assertTrue(PyTorchCublas.lastOutcome().contains("no-such-python not run: "), PyTorchCublas.lastOutcome());
        assertEquals(List.of(), PyTorchCublas.find(""));
        assertTrue(PyTorchCublas.lastOutcome().startsWith("no Python asked"), PyTorchCublas.lastOutcome());
    }
}
