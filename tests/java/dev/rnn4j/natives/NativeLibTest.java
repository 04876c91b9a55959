package dev.rnn4j.natives;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;

import static org.junit.jupiter.api.Assertions.*;

/** Loads the library built by this project through FFM and exercises the loader's attempts and errors. */
class NativeLibTest {

    @TempDir Path tmp;

    /** The library the build put on the test classpath. */
    private static Path builtLibrary() {
        return NativeLib.get().path();
    }

    private static URLClassLoader emptyClassLoader() {
        return new URLClassLoader(new URL[0], null);
    }

    @Test
    void versionIsTheProjectVersion() {
        String expected = System.getProperty("rnn4j.project.version");
        assertNotNull(expected, "the build must pass -Drnn4j.project.version to the tests");
        assertEquals(expected, NativeLib.get().version());
    }

    @Test
    void abiVersionIsOne() {
        assertEquals(1, NativeLib.get().abiVersion());
        assertEquals(NativeLib.ABI, NativeLib.get().abiVersion());
    }

    @Test
    void loadedFromTheClasspathForThisPlatform() {
        NativeLib lib = NativeLib.get();
        assertTrue(Files.isRegularFile(lib.path()), lib.path().toString());
        assertTrue(lib.path().toString().endsWith(NativeLoader.platform() + "/" + NativeLoader.fileName()), lib.path().toString());
        assertTrue(lib.source().startsWith("classpath"), lib.source());
        assertTrue(NativeLib.loadFailure().isEmpty());
    }

    @Test
    void getIsOneInstanceAcrossThreads() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            var seen = ConcurrentHashMap.<NativeLib>newKeySet();
            List<Future<?>> fs = new java.util.ArrayList<>();
            for (int i = 0; i < 16; i++) fs.add(pool.submit(() -> seen.add(NativeLib.get())));
            for (Future<?> f : fs) f.get();
            assertEquals(1, seen.size());
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void failedStatusBecomesExceptionNamingCallAndNativeMessage() {
        NativeLib lib = NativeLib.get();
        int status = lib.abiVersion(MemorySegment.NULL);
        assertEquals(1, status);
        NativeCallException e = assertThrows(NativeCallException.class, () -> lib.check("rnn4j_abi_version", status));
        assertEquals("rnn4j_abi_version", e.call());
        assertEquals(1, e.status());
        assertTrue(e.getMessage().contains("rnn4j_abi_version failed (RNN4J_ERR_INVALID_ARGUMENT)"), e.getMessage());
        assertTrue(e.getMessage().contains("out is NULL"), e.getMessage());
        // A successful call clears the native message.
        assertEquals(1, lib.abiVersion());
        assertEquals("", lib.lastError());
        assertDoesNotThrow(() -> lib.check("anything", 0));
    }

    @Test
    void nativeErrorIsPerThread() throws Exception {
        NativeLib lib = NativeLib.get();
        assertEquals(1, lib.abiVersion(MemorySegment.NULL));
        Thread t = new Thread(() -> assertEquals("", lib.lastError()));
        var failure = new java.util.concurrent.atomic.AtomicReference<Throwable>();
        t.setUncaughtExceptionHandler((th, ex) -> failure.set(ex));
        t.start();
        t.join();
        assertNull(failure.get());
        assertTrue(lib.lastError().contains("NULL"));
    }

    @Test
    void explicitPathToMissingFileNamesThePath() {
        Path missing = tmp.resolve("nowhere").resolve("librnn4j.so");
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> NativeLoader.load(missing.toString(), false, null, ""));
        String m = e.getMessage();
        assertTrue(m.contains(missing.toString()), m);
        assertTrue(m.contains("no such file"), m);
        assertTrue(m.contains(System.getProperty("os.name")), m);
        assertTrue(m.contains(System.getProperty("os.arch")), m);
        // An explicit path is the only attempt: no silent fallback to the bundled library.
        assertFalse(m.contains("classpath"), m);
        // NativeLib.open reports the same loader error.
        assertThrows(NativeLibraryException.class, () -> NativeLib.open(missing));
    }

    @Test
    void explicitPathToDirectoryOrFileLoads() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("lib"));
        Path copy = Files.copy(builtLibrary(), dir.resolve(NativeLoader.fileName()));
        NativeLoader.Loaded byDir = NativeLoader.load(dir.toString(), false, emptyClassLoader(), "");
        assertEquals(copy.toAbsolutePath(), byDir.path());
        assertEquals(NativeLoader.PATH_PROPERTY, byDir.source());
        NativeLib lib = NativeLib.open(copy);
        assertEquals(NativeLib.get().version(), lib.version());
        assertEquals(1, lib.abiVersion());
    }

    @Test
    void fileThatIsNotALibraryReportsPathAndLoaderError() throws IOException {
        // (HotSpot prints a "might have disabled stack guard" warning for a non-ELF file; expected here.)
        Path bogus = Files.writeString(tmp.resolve("librnn4j.so"), "not an ELF file");
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> NativeLoader.load(bogus.toString(), false, null, ""));
        assertTrue(e.getMessage().contains(bogus.toString()), e.getMessage());
    }

    @Test
    void skipPropertyLoadsNothing() {
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> NativeLoader.load(builtLibrary().toString(), true, null, ""));
        assertTrue(e.getMessage().contains("rnn4j.native.skip=true"), e.getMessage());
    }

    @Test
    void everyAttemptIsListedWhenAllFail() throws IOException {
        Path emptyDir = Files.createDirectories(tmp.resolve("empty"));
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> NativeLoader.load(null, false, emptyClassLoader(), emptyDir.toString()));
        String m = e.getMessage();
        assertTrue(m.contains("[1] classpath resource " + NativeLoader.resourcePath() + ": not found"), m);
        assertTrue(m.contains("[2] java.library.path (" + emptyDir + ")"), m);
        assertTrue(m.contains("platform " + NativeLoader.platform()), m);
    }

    @Test
    void fallsBackToJavaLibraryPath() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("jlp"));
        Path copy = Files.copy(builtLibrary(), dir.resolve(NativeLoader.fileName()));
        String jlp = tmp.resolve("does-not-exist") + java.io.File.pathSeparator + dir;
        NativeLoader.Loaded l = NativeLoader.load(null, false, emptyClassLoader(), jlp);
        assertEquals(copy.toAbsolutePath(), l.path());
        assertEquals("java.library.path", l.source());
        assertTrue(l.symbols().find("rnn4j_version").isPresent());
    }

    @Test
    void extractsFromAJarIntoAPrivateTemporaryDirectory() throws IOException {
        Path jar = tmp.resolve("natives.jar");
        try (OutputStream os = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(os)) {
            out.putNextEntry(new JarEntry(NativeLoader.resourcePath().substring(1)));
            Files.copy(builtLibrary(), out);
            out.closeEntry();
        }
        try (URLClassLoader cl = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null)) {
            NativeLoader.Loaded l = NativeLoader.load(null, false, cl, "");
            assertEquals("classpath (extracted)", l.source());
            assertNotEquals(builtLibrary(), l.path());
            assertTrue(l.path().getParent().getFileName().toString().startsWith("rnn4j-native-"), l.path().toString());
            assertArrayEquals(Files.readAllBytes(builtLibrary()), Files.readAllBytes(l.path()));
            assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(l.path().getParent())));
            assertTrue(l.symbols().find("rnn4j_abi_version").isPresent());
        }
    }

    @Test
    void missingSymbolIsNamedWithTheLibraryPath() {
        NativeLoader.Loaded l = NativeLoader.load(builtLibrary().toString(), false, null, "");
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> NativeLib.requireSymbols(l.symbols(), l.path(), List.of("rnn4j_version", "rnn4j_no_such_function")));
        assertTrue(e.getMessage().contains("rnn4j_no_such_function"), e.getMessage());
        assertTrue(e.getMessage().contains(l.path().toString()), e.getMessage());
        assertFalse(e.getMessage().contains("rnn4j_version,"), e.getMessage());
        assertDoesNotThrow(() -> NativeLib.requireSymbols(l.symbols(), l.path(), NativeLib.SYMBOLS.keySet()));
    }

    @Test
    void loadFailureIsCachedAndRethrownWithItsMessage() {
        var calls = new java.util.concurrent.atomic.AtomicInteger();
        NativeLib.Once<String> once = new NativeLib.Once<>(() -> {
            calls.incrementAndGet();
            throw new NativeLibraryException("no library at /some/where");
        });
        NativeLibraryException first = assertThrows(NativeLibraryException.class, once::get);
        NativeLibraryException second = assertThrows(NativeLibraryException.class, once::get);
        assertEquals(1, calls.get());
        assertEquals("no library at /some/where", first.getMessage());
        assertEquals(first.getMessage(), second.getMessage());
        assertSame(first.getCause(), second.getCause());
    }

    @Test
    void otherInitFailuresBecomeLoadFailures() {
        NativeLib.Once<String> once = new NativeLib.Once<>(() -> { throw new IllegalArgumentException("bad layout"); });
        NativeLibraryException e = assertThrows(NativeLibraryException.class, once::get);
        assertTrue(e.getMessage().contains("bad layout"), e.getMessage());
        NativeLib.Once<String> ok = new NativeLib.Once<>(() -> "x");
        assertSame(ok.get(), ok.get());
    }

    @Test
    void platformNamesAreNormalised() {
        assertEquals("linux-x86_64", NativeLoader.platform("Linux", "amd64"));
        assertEquals("linux-x86_64", NativeLoader.platform("Linux", "x86_64"));
        assertEquals("linux-aarch64", NativeLoader.platform("Linux", "aarch64"));
        assertEquals("macos-aarch64", NativeLoader.platform("Mac OS X", "arm64"));
        assertEquals("windows-x86_64", NativeLoader.platform("Windows 11", "amd64"));
    }
}
