package dev.rnn4j.backend.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Finds the cuBLAS that PyTorch's CUDA wheels install ({@code site-packages/nvidia/cublas/lib/
 * libcublas.so.13} or {@code .12}): machines with PyTorch often have no system cuBLAS, and
 * without it rnn4j's GEMMs would fall back to its own kernel. Asks the given Python where the
 * {@code nvidia.cublas} package is (its spec only: nothing is imported, so no CUDA starts), with a
 * time limit. Used once per process, only when the loader path has no cuBLAS.
 */
final class PyTorchCublas {
    private PyTorchCublas() {}

    private static final String SCRIPT = "import importlib.util as u\n"
            + "s = u.find_spec('nvidia.cublas')\n"
            + "print('\\n'.join(s.submodule_search_locations or []) if s else '')\n";
    private static final long TIMEOUT_SECONDS = 20;
    private static volatile String lastOutcome = "not looked for";

    /** What the last {@link #find} saw, for messages ("python3: no nvidia.cublas package", ...). */
    static String lastOutcome() { return lastOutcome; }

    /** The existing libcublas.so.13 / .12 files of the nvidia.cublas package of {@code python}, newest first. */
    static List<Path> find(String python) {
        List<Path> found = new ArrayList<>();
        if (python == null || python.isBlank()) {
            lastOutcome = "no Python asked (-D" + CudaBackendProvider.PYTHON_PROPERTY + " is empty)";
            return found;
        }
        Process p = null;
        try {
            ProcessBuilder pb = new ProcessBuilder(python, "-c", SCRIPT).redirectError(ProcessBuilder.Redirect.DISCARD);
            p = pb.start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                lastOutcome = python + " did not answer within " + TIMEOUT_SECONDS + " s";
                return found;
            }
            if (p.exitValue() != 0) {
                lastOutcome = python + " exited with " + p.exitValue();
                return found;
            }
            for (String dir : out.strip().split("\n")) {
                if (dir.isBlank()) continue;
                for (String name : new String[]{"libcublas.so.13", "libcublas.so.12"}) {
                    Path lib = Path.of(dir.strip(), "lib", name);
                    if (Files.isRegularFile(lib)) found.add(lib);
                }
            }
            lastOutcome = found.isEmpty() ? python + ": no nvidia.cublas package with libcublas.so.13/.12" : python + ": " + found;
            return found;
        } catch (IOException e) {
            lastOutcome = python + " not run: " + e.getMessage();
            return found;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            lastOutcome = "interrupted while asking " + python;
            return found;
        } finally {
            if (p != null && p.isAlive()) p.destroyForcibly();
        }
    }
}
