package dev.rnn4j;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The public API of the packages that module-info exports names only types a consumer can use:
 * no public or protected member, supertype or record component of an exported type mentions a
 * type of the module's unexported packages (the backend SPI, the native bindings), which a
 * module-path consumer could not name and which would tie the API to internals.
 */
class ExportedApiTest {
    @Test
    void exportedApiExposesNoInternalType() throws IOException, ClassNotFoundException, URISyntaxException {
        Path classes = Path.of(Device.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ModuleDescriptor module;
        Set<String> packages;
        try (Stream<Path> s = Files.walk(classes)) {
            packages = s.filter(p -> p.toString().endsWith(".class") && !p.getFileName().toString().equals("module-info.class"))
                    .map(p -> classes.relativize(p.getParent()).toString().replace('/', '.')).collect(Collectors.toSet());
        }
        try (InputStream in = Files.newInputStream(classes.resolve("module-info.class"))) {
            module = ModuleDescriptor.read(in, () -> packages);
        }
        Set<String> exported = module.exports().stream().filter(e -> !e.isQualified()).map(ModuleDescriptor.Exports::source)
                .collect(Collectors.toSet());
        Set<String> internal = new TreeSet<>(module.packages());
        internal.removeAll(exported);
        assertFalse(internal.isEmpty());

        List<String> leaks = new ArrayList<>();
        for (String pkg : exported) {
            Path dir = classes.resolve(pkg.replace('.', '/'));
            List<Path> files;
            try (Stream<Path> s = Files.list(dir)) {
                files = s.filter(p -> p.toString().endsWith(".class") && !p.getFileName().toString().equals("package-info.class")).toList();
            }
            for (Path f : files) {
                String name = pkg + "." + f.getFileName().toString().replace(".class", "");
                Class<?> c = Class.forName(name, false, Device.class.getClassLoader());
                if (!visible(c)) continue;
                check(internal, c.getName() + " extends", c.getGenericSuperclass(), leaks);
                for (Type i : c.getGenericInterfaces()) check(internal, c.getName() + " implements", i, leaks);
                for (Method m : c.getDeclaredMethods()) {
                    if (!api(m.getModifiers()) || m.isSynthetic() || m.isBridge()) continue;
                    String where = c.getName() + "." + m.getName() + "()";
                    check(internal, where + " returns", m.getGenericReturnType(), leaks);
                    for (Type p : m.getGenericParameterTypes()) check(internal, where + " takes", p, leaks);
                    for (Type e : m.getGenericExceptionTypes()) check(internal, where + " throws", e, leaks);
                }
                for (Constructor<?> k : c.getDeclaredConstructors()) {
                    if (!api(k.getModifiers()) || k.isSynthetic()) continue;
                    for (Type p : k.getGenericParameterTypes()) check(internal, c.getName() + " constructor takes", p, leaks);
                }
                for (Field fl : c.getDeclaredFields())
                    if (api(fl.getModifiers()) && !fl.isSynthetic()) check(internal, c.getName() + "." + fl.getName() + " is", fl.getGenericType(), leaks);
            }
        }
        assertTrue(leaks.isEmpty(), leaks.size() + " exported members name an unexported type:\n" + String.join("\n", leaks));
    }

    /** A type a consumer sees: public or protected, and every enclosing type too. */
    private static boolean visible(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getDeclaringClass())
            if (!Modifier.isPublic(k.getModifiers()) && !Modifier.isProtected(k.getModifiers())) return false;
        return !c.isAnonymousClass() && !c.isLocalClass() && !c.isSynthetic();
    }

    private static boolean api(int modifiers) { return Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers); }

    private static void check(Set<String> internal, String where, Type t, List<String> leaks) {
        switch (t) {
            case null -> { }
            case Class<?> c when c.isArray() -> check(internal, where, c.getComponentType(), leaks);
            case Class<?> c -> { if (internal.contains(c.getPackageName())) leaks.add(where + " " + c.getName()); }
            case ParameterizedType p -> {
                check(internal, where, p.getRawType(), leaks);
                for (Type a : p.getActualTypeArguments()) check(internal, where, a, leaks);
            }
            case GenericArrayType g -> check(internal, where, g.getGenericComponentType(), leaks);
            case WildcardType w -> {
                for (Type b : w.getUpperBounds()) check(internal, where, b, leaks);
                for (Type b : w.getLowerBounds()) check(internal, where, b, leaks);
            }
            case TypeVariable<?> v -> { }
            default -> { }
        }
    }
}
