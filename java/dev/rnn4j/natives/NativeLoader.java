package dev.rnn4j.natives;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Finds and opens an rnn4j native library with the FFM API: {@code librnn4j} (the core, see
 * {@link NativeLib}) or {@code librnn4j_cuda} (the CUDA backend, see {@link CudaNative}), each
 * the same way.
 *
 * <p>Order, first success wins (written for librnn4j; for another library read its file name):
 * <ol>
 *   <li>{@code -Drnn4j.native.skip=true}: nothing is loaded; the native library is reported
 *       unavailable.</li>
 *   <li>{@code -Drnn4j.native.path=DIR_OR_FILE}: that file, or {@code DIR/librnn4j.so}. An
 *       explicit path is the only place tried: a typo should fail, not silently load another
 *       copy. For the other libraries a FILE stands for its directory: the property may name
 *       librnn4j.so, and librnn4j_cuda.so is then taken from beside it.</li>
 *   <li>The classpath resource {@code /dev/rnn4j/native/<os-arch>/librnn4j.so}: loaded in place
 *       when the classpath entry is a directory, otherwise copied out of the jar into a private
 *       temporary directory that is deleted when the JVM exits.</li>
 *   <li>Each directory of {@code java.library.path}.</li>
 * </ol>
 * When every attempt fails, one {@link NativeLibraryException} lists the OS, the architecture and
 * each attempt with its error. The library is opened in {@link Arena#global()}: it stays loaded for
 * the life of the JVM, as the downcall handles bound to it may be used at any time.
 */
public final class NativeLoader {
    public static final String PATH_PROPERTY = "rnn4j.native.path";
    public static final String SKIP_PROPERTY = "rnn4j.native.skip";
    static final String LIBRARY_NAME = "rnn4j";

    /** A loaded library: where it is, its symbols, and which attempt found it. */
    public record Loaded(Path path, SymbolLookup symbols, String source) {}

    private NativeLoader() {}

    /** Loads librnn4j as configured by the system properties; throws {@link NativeLibraryException} listing every attempt. */
    public static Loaded load() { return load(LIBRARY_NAME); }

    /** Loads the library {@code lib<library>.so} as configured by the system properties. */
    public static Loaded load(String library) {
        return load(library, System.getProperty(PATH_PROPERTY),
                Boolean.parseBoolean(System.getProperty(SKIP_PROPERTY, "false")),
                NativeLoader.class.getClassLoader(),
                System.getProperty("java.library.path", ""));
    }

    /**
     * The loading procedure with its inputs made explicit (for tests): {@code explicitPath} is
     * the value of {@code rnn4j.native.path} or null, {@code classLoader} is searched for the
     * bundled resource, {@code javaLibraryPath} is split on the path separator.
     */
    static Loaded load(String explicitPath, boolean skip, ClassLoader classLoader, String javaLibraryPath) {
        return load(LIBRARY_NAME, explicitPath, skip, classLoader, javaLibraryPath);
    }

    /** As {@link #load(String, boolean, ClassLoader, String)}, for the library {@code lib<library>.so}. */
    static Loaded load(String library, String explicitPath, boolean skip, ClassLoader classLoader, String javaLibraryPath) {
        List<String> attempts = new ArrayList<>();
        if (skip) {
            attempts.add("skipped because -D" + SKIP_PROPERTY + "=true");
            throw failure(library, attempts);
        }
        if (explicitPath != null && !explicitPath.isBlank()) {
            Loaded l = tryExplicit(library, explicitPath.strip(), attempts);
            if (l != null) return l;
            throw failure(library, attempts);
        }
        Loaded l = tryClasspath(library, classLoader, attempts);
        if (l != null) return l;
        l = tryJavaLibraryPath(library, javaLibraryPath, attempts);
        if (l != null) return l;
        throw failure(library, attempts);
    }

    /** The platform directory name: {@code <os>-<arch>}, e.g. {@code linux-x86_64}. */
    public static String platform() {
        return platform(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
    }

    static String platform(String osName, String osArch) {
        return normaliseOs(osName) + "-" + normaliseArch(osArch);
    }

    static String normaliseOs(String osName) {
        String os = osName.toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) return "linux";
        if (os.startsWith("mac") || os.startsWith("darwin")) return "macos";
        if (os.startsWith("windows")) return "windows";
        return os.replaceAll("[^a-z0-9]", "");
    }

    static String normaliseArch(String osArch) {
        String arch = osArch.toLowerCase(Locale.ROOT);
        return switch (arch) {
            case "amd64", "x86_64", "x86-64", "x64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch.replaceAll("[^a-z0-9_]", "");
        };
    }

    /** The library's file name on this OS ({@code librnn4j.so} on Linux). */
    public static String fileName() { return fileName(LIBRARY_NAME); }

    /** The file name of library {@code library} on this OS ({@code lib<library>.so} on Linux). */
    public static String fileName(String library) { return System.mapLibraryName(library); }

    /** Where the library sits on the classpath for this platform. */
    public static String resourcePath() { return resourcePath(LIBRARY_NAME); }

    /** Where library {@code library} sits on the classpath for this platform. */
    public static String resourcePath(String library) { return "/dev/rnn4j/native/" + platform() + "/" + fileName(library); }

    /** Whether library {@code library} is on the classpath of {@code classLoader} (null: this class's loader). */
    public static boolean bundled(String library, ClassLoader classLoader) {
        ClassLoader cl = classLoader != null ? classLoader : NativeLoader.class.getClassLoader();
        if (cl == null) cl = ClassLoader.getSystemClassLoader();
        return cl.getResource(resourcePath(library).substring(1)) != null;
    }

    private static Loaded tryExplicit(String library, String value, List<String> attempts) {
        String what = PATH_PROPERTY + "=" + value;
        Path p;
        try {
            p = Path.of(value);
        } catch (InvalidPathException e) {
            attempts.add(what + ": invalid path: " + e.getMessage());
            return null;
        }
        String name = fileName(library);
        if (Files.isDirectory(p)) {
            p = p.resolve(name);
        } else if (!library.equals(LIBRARY_NAME) && p.getFileName() != null && !p.getFileName().toString().equals(name)) {
            // for the other libraries a file stands for its directory (the property usually names librnn4j.so)
            Path dir = p.toAbsolutePath().getParent();
            if (dir != null) p = dir.resolve(name);
        }
        if (!Files.isRegularFile(p)) {
            attempts.add(what + ": " + p + ": no such file");
            return null;
        }
        return open(p, PATH_PROPERTY, what, attempts);
    }

    private static Loaded tryClasspath(String library, ClassLoader classLoader, List<String> attempts) {
        String resource = resourcePath(library);
        String what = "classpath resource " + resource;
        ClassLoader cl = classLoader != null ? classLoader : ClassLoader.getSystemClassLoader();
        URL url = cl.getResource(resource.substring(1));
        if (url == null) {
            attempts.add(what + ": not found (this build has no native library for " + platform() + ")");
            return null;
        }
        if ("file".equals(url.getProtocol())) {
            try {
                Path p = Path.of(url.toURI());
                return open(p, "classpath", what + " (" + p + ")", attempts);
            } catch (URISyntaxException | IllegalArgumentException e) {
                // Not a plain file after all: fall through to copying it out.
            }
        }
        Path extracted;
        try {
            extracted = extract(url, fileName(library));
        } catch (IOException | RuntimeException e) {
            attempts.add(what + " (" + url + "): could not extract to a temporary directory: " + e);
            return null;
        }
        return open(extracted, "classpath (extracted)", what + " extracted to " + extracted, attempts);
    }

    /** Copies the librnn4j resource into a fresh owner-only temporary directory; both are deleted when the JVM exits. */
    static Path extract(URL url) throws IOException { return extract(url, fileName()); }

    /** Copies the resource into a fresh owner-only temporary directory as {@code fileName}; both go when the JVM exits. */
    static Path extract(URL url, String fileName) throws IOException {
        Path dir = FileSystems.getDefault().supportedFileAttributeViews().contains("posix")
                ? Files.createTempDirectory("rnn4j-native-",
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")))
                : Files.createTempDirectory("rnn4j-native-");
        // deleteOnExit runs in reverse order of registration: the file goes first, then the directory.
        dir.toFile().deleteOnExit();
        Path file = dir.resolve(fileName);
        file.toFile().deleteOnExit();
        try (InputStream in = url.openStream()) {
            Files.copy(in, file);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
            throw e;
        }
        return file;
    }

    private static Loaded tryJavaLibraryPath(String library, String javaLibraryPath, List<String> attempts) {
        String name = fileName(library);
        boolean any = false;
        for (String entry : javaLibraryPath.split(java.io.File.pathSeparator)) {
            if (entry.isBlank()) continue;
            Path p;
            try {
                p = Path.of(entry).resolve(name);
            } catch (InvalidPathException e) {
                continue;
            }
            if (!Files.isRegularFile(p)) continue;
            any = true;
            Loaded l = open(p, "java.library.path", "java.library.path entry " + p, attempts);
            if (l != null) return l;
        }
        if (!any) attempts.add("java.library.path (" + javaLibraryPath + "): no " + name + " in any entry");
        return null;
    }

    private static Loaded open(Path p, String source, String what, List<String> attempts) {
        Path abs = p.toAbsolutePath();
        try {
            SymbolLookup lookup = SymbolLookup.libraryLookup(abs, Arena.global());
            return new Loaded(abs, lookup, source);
        } catch (RuntimeException e) {
            attempts.add(what + ": " + e.getMessage());
            return null;
        }
    }

    private static NativeLibraryException failure(String library, List<String> attempts) {
        StringBuilder sb = new StringBuilder(library.equals(LIBRARY_NAME) ? "rnn4j native library" : fileName(library))
                .append(" not loaded (os ")
                .append(System.getProperty("os.name")).append(", arch ").append(System.getProperty("os.arch"))
                .append(", platform ").append(platform()).append("); tried: ");
        for (int i = 0; i < attempts.size(); i++) {
            if (i > 0) sb.append("; ");
            sb.append('[').append(i + 1).append("] ").append(attempts.get(i));
        }
        return new NativeLibraryException(sb.toString());
    }
}
