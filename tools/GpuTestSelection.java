/*
 * Lists the JUnit selectors of every CUDA test, for tools/gpu-bundle.sh: the bundle's run.sh
 * passes them to the standalone JUnit launcher so that exactly the tests that touch the GPU run
 * there (and, under RNN4J_REQUIRE_CUDA=1, none of them may skip). Found by reflection on the
 * compiled test classes, so a new CUDA test is picked up without editing a list:
 *
 *   - every test class named Cuda* in dev.rnn4j.backend.cuda or dev.rnn4j.natives: the whole class;
 *   - elsewhere, a test method whose name contains "Cuda": the method (all its invocations);
 *   - a parameterized method whose @ValueSource(strings) holds "cuda", or whose @MethodSource is
 *     dev.rnn4j.Device#names (the provider registry): that one invocation (an iteration
 *     selector; invocations are numbered from 0 in the order of the values);
 *   - except a class tagged @Tag("sources"): it reads the source tree, which the bundle does not
 *     carry, needs no GPU, and runs in the main suite.
 *
 * Usage (JDK 25, single-file source launch):
 *   java -cp TEST_CLASSES:JUNIT_JARS tools/GpuTestSelection.java TEST_CLASSES > selectors.txt
 * Output: one console-launcher option per line (--select-class=..., --select-method=...,
 * --select-iteration=...), sorted.
 */
import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

public class GpuTestSelection {
    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        List<String> classes;
        try (Stream<Path> s = Files.walk(root)) {
            classes = s.filter(p -> p.toString().endsWith(".class") && !p.getFileName().toString().contains("$"))
                    .map(p -> root.relativize(p).toString().replace('/', '.').replaceAll("\\.class$", ""))
                    .sorted().collect(Collectors.toList());
        }
        TreeSet<String> out = new TreeSet<>();
        for (String name : classes) {
            Class<?> c;
            Method[] methods;
            try {
                c = Class.forName(name, false, GpuTestSelection.class.getClassLoader());
                methods = c.getDeclaredMethods();
            } catch (LinkageError | ClassNotFoundException e) {
                continue; // needs a test dependency the CUDA tests do not use (e.g. the fuzzer)
            }
            String pkg = c.getPackageName(), simple = c.getSimpleName();
            boolean cudaPackage = pkg.equals("dev.rnn4j.backend.cuda") || pkg.equals("dev.rnn4j.natives");
            if (taggedSources(c)) continue;
            if (cudaPackage && simple.startsWith("Cuda") && !java.lang.reflect.Modifier.isAbstract(c.getModifiers()) && hasTests(c)) {
                out.add("--select-class=" + name);
                continue;
            }
            for (Method m : methods) {
                if (!isTest(m)) continue;
                String params = Stream.of(m.getParameterTypes()).map(Class::getName).collect(Collectors.joining(","));
                if (m.getName().contains("Cuda")) {
                    out.add("--select-method=" + name + "#" + m.getName() + "(" + params + ")");
                    continue;
                }
                int index = cudaInvocation(m);
                if (index > 0)
                    out.add("--select-iteration=method:" + name + "#" + m.getName() + "(" + params + ")[" + (index - 1) + "]");
            }
        }
        if (out.isEmpty()) throw new IllegalStateException("no CUDA test found under " + root);
        out.forEach(System.out::println);
    }

    /** Whether the class or a superclass declares a test (the backends' parity classes inherit theirs). */
    private static boolean hasTests(Class<?> c) {
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass())
            for (Method m : k.getDeclaredMethods()) if (isTest(m)) return true;
        return false;
    }

    private static boolean isTest(Method m) {
        for (Annotation a : m.getAnnotations()) {
            String n = a.annotationType().getName();
            if (n.equals("org.junit.jupiter.api.Test") || n.equals("org.junit.jupiter.params.ParameterizedTest")
                    || n.equals("org.junit.jupiter.api.RepeatedTest") || n.equals("org.junit.jupiter.api.TestFactory"))
                return true;
        }
        return false;
    }

    /** Whether the class carries @Tag("sources") (a check of the source tree). */
    private static boolean taggedSources(Class<?> c) throws ReflectiveOperationException {
        for (Annotation a : c.getAnnotations())
            if (a.annotationType().getName().equals("org.junit.jupiter.api.Tag")
                    && "sources".equals(a.annotationType().getMethod("value").invoke(a))) return true;
        return false;
    }

    /** 1-based position of "cuda" in the method's @ValueSource(strings) or in the provider registry's names, or 0. */
    private static int cudaInvocation(Method m) throws ReflectiveOperationException {
        for (Annotation a : m.getAnnotations()) {
            String type = a.annotationType().getName();
            if (type.equals("org.junit.jupiter.params.provider.ValueSource")) {
                String[] values = (String[]) a.annotationType().getMethod("strings").invoke(a);
                for (int i = 0; i < values.length; i++) if (values[i].equals("cuda")) return i + 1;
            } else if (type.equals("org.junit.jupiter.params.provider.MethodSource")) {
                String[] sources = (String[]) a.annotationType().getMethod("value").invoke(a);
                if (sources.length == 1 && sources[0].equals("dev.rnn4j.Device#names")) {
                    List<?> names = (List<?>) Class.forName("dev.rnn4j.Device").getMethod("names").invoke(null);
                    return names.indexOf("cuda") + 1;
                }
            }
        }
        return 0;
    }
}
