package dev.rnn4j.backend.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The CUDA side's view of every kernel against the kernel's definition in {@code kernels/*.cl}
 * (no GPU or nvcc needed; the sources are read as text). nvcc already refuses a declaration of
 * {@code rnn4j_cuda_kernels.h} whose types differ from the definition, but not one whose names
 * are swapped, and nothing at all checks the host's argument arrays: {@code cudaLaunchKernel}
 * takes {@code void *args[]}, one pointer per parameter, and reads as many bytes from each as the
 * parameter's type has, whatever the variable is called. So each launch of {@code rnn4j_cuda.c} fills
 * a struct whose members repeat the kernel's parameters, names included, and passes their addresses
 * in the parameters' order; this test checks, in order, for every kernel:
 * <ul>
 *   <li>the declaration in {@code rnn4j_cuda_kernels.h} (or the element-wise table
 *       {@code rnn4j_cuda_ops.h} it is expanded from): the definition's names and types;</li>
 *   <li>every argument array of {@code rnn4j_cuda.c} launching it: as many entries as parameters,
 *       entry i the address of a variable (or struct member) named as parameter i and declared
 *       with its exact C type, so that two arguments of one type passed in each other's place are
 *       reported too, and the launched function the kernel the message names.</li>
 * </ul>
 */
@org.junit.jupiter.api.Tag("sources")   // reads the source tree: runs in the main suite, not in the GPU bundle (tools/GpuTestSelection)
class CudaKernelArgumentsTest {
    /** A parameter: its name and its C type, canonical ("long long", "const float*"). */
    record Param(String name, String type) {
        @Override public String toString() { return type + " " + name; }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String uncommented(String s) { return s.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", ""); }

    /** A type as C spells it, after rnn4j_compat.h's CUDA mapping, without qualifiers that do not change it. */
    static String canonical(String type) {
        String t = (" " + type.replace("*", " * ") + " ").replaceAll("\\b(GLOBAL|RESTRICT|__restrict__)\\b", " ")
                .replaceAll("\\bi32\\b", "int").replaceAll("\\bu32\\b", "unsigned int").replaceAll("\\bi64\\b", "long long")
                .replaceAll("\\bunsigned\\s+(?!int\\b)", "unsigned int ").replaceAll("\\bunsigned\\s*$", "unsigned int")
                .replaceAll("\\s+", " ").strip();
        return t.replace(" *", "*");
    }

    private static List<Param> params(String list) {
        List<Param> out = new ArrayList<>();
        for (String p : list.split(",")) {
            Matcher m = Pattern.compile("(?s)(.*?)(\\w+)\\s*").matcher(p.strip());
            assertTrue(m.matches(), p);
            out.add(new Param(m.group(2), canonical(m.group(1))));
        }
        return out;
    }

    /** Every KERNEL of kernels/*.cl with its parameters. */
    static Map<String, List<Param>> definitions() throws IOException {
        Map<String, List<Param>> defs = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(Path.of("kernels"))) {
            for (Path f : files.filter(f -> f.toString().endsWith(".cl")).sorted().toList()) {
                Matcher k = Pattern.compile("(?m)^KERNEL\\s+(?:RNN4J_LAUNCH_BOUNDS\\s*\\([^()]*\\)\\s*)?(\\w+)\\s*\\(([^()]*)\\)")
                        .matcher(uncommented(read(f)));
                while (k.find()) assertNull(defs.put(k.group(1), params(k.group(2))), k.group(1) + " defined twice");
            }
        }
        return defs;
    }

    /** The element-wise table's kernels: (long long n, operands...), a buffer x being (x, xOff), const when read only. */
    static Map<String, List<Param>> elementwiseDeclarations() {
        String ops = uncommented(read(Path.of("native", "include", "rnn4j_cuda_ops.h")));
        Map<String, List<Param>> decls = new LinkedHashMap<>();
        Matcher e = Pattern.compile("OP\\(ctx, (\\w+),((?:\\s*\\\\?\\s*\\((?:f32|in|out), \\w+\\),?)+)\\)").matcher(ops);
        while (e.find()) {
            List<Param> p = new ArrayList<>(List.of(new Param("n", "long long")));
            Matcher o = Pattern.compile("\\((f32|in|out), (\\w+)\\)").matcher(e.group(2));
            while (o.find()) {
                String x = o.group(2);
                switch (o.group(1)) {
                    case "f32" -> p.add(new Param(x, "float"));
                    case "in" -> { p.add(new Param(x, "const float*")); p.add(new Param(x + "Off", "long long")); }
                    default -> { p.add(new Param(x, "float*")); p.add(new Param(x + "Off", "long long")); }
                }
            }
            decls.put("rnn4j_" + e.group(1), p);
        }
        return decls;
    }

    /** The one-line declarations of rnn4j_cuda_kernels.h. */
    static Map<String, List<Param>> declarations() {
        String h = uncommented(read(Path.of("native", "cuda", "rnn4j_cuda_kernels.h")));
        Map<String, List<Param>> decls = new LinkedHashMap<>();
        Matcher d = Pattern.compile("(?m)^RNN4J_KERNEL_DECL\\s+(\\w+)\\s*\\(([^()]*)\\)\\s*;").matcher(h);
        while (d.find()) assertNull(decls.put(d.group(1), params(d.group(2))), d.group(1) + " declared twice");
        return decls;
    }

    /** gOff and g_off, bc2Sqrt and bc2_sqrt: the table spells C names, the kernels Java-like ones. */
    private static String folded(String name) { return name.replace("_", "").toLowerCase(Locale.ROOT); }

    @Test
    void everyKernelIsDeclaredOnceWithItsDefinitionsNamesAndTypesInOrder() throws IOException {
        Map<String, List<Param>> defs = definitions(), ew = elementwiseDeclarations(), decl = declarations();
        assertTrue(defs.size() >= 25 && ew.size() >= 6, defs.keySet() + " " + ew.keySet());
        Set<String> both = new TreeSet<>(ew.keySet());
        both.retainAll(decl.keySet());
        assertTrue(both.isEmpty(), "declared twice: " + both);
        Set<String> declared = new TreeSet<>(ew.keySet());
        declared.addAll(decl.keySet());
        assertEquals(new TreeSet<>(defs.keySet()), declared, "kernels of kernels/*.cl against rnn4j_cuda_kernels.h");
        for (var k : decl.entrySet()) assertEquals(defs.get(k.getKey()), k.getValue(), "rnn4j_cuda_kernels.h: " + k.getKey());
        for (var k : ew.entrySet()) {
            List<Param> def = defs.get(k.getKey());
            assertEquals(def.stream().map(Param::type).toList(), k.getValue().stream().map(Param::type).toList(),
                    "rnn4j_cuda_ops.h: types of " + k.getKey());
            assertEquals(def.stream().map(p -> folded(p.name())).toList(), k.getValue().stream().map(p -> folded(p.name())).toList(),
                    "rnn4j_cuda_ops.h: names of " + k.getKey());
        }
    }

    // A launch: an argument array of addresses, then launch(...) or launch_1d(...) naming the kernel and passing it.
    private static final Pattern ARRAY = Pattern.compile("void \\*(\\w+)\\[\\] = \\{([^{}]*)\\};");
    private static final Pattern LAUNCH = Pattern.compile("\\blaunch(?:_1d)?\\(fn, ((?:[^()]|\\([^()]*\\))*)\\)");
    private static final Pattern FUNCTION = Pattern.compile("(?m)^(?:static )?int (\\w+)\\(([^()]*)\\)\\s*\\{");
    private static final Pattern ENTRY = Pattern.compile("\\s*&(?:(\\w+)\\.)?(\\w+)\\s*");
    private static final Pattern DECLARATION = Pattern.compile(
            "(?s)(?:static\\s+)?((?:const\\s+)?(?:unsigned int|unsigned|long long|int64_t|int|float|double|size_t))\\b(.*)");

    /** The C type each variable of {@code body} was last declared with before {@code end} (parameters included). */
    static Map<String, String> variables(String params, String body) {
        Map<String, String> vars = new LinkedHashMap<>();
        for (String p : params.split(",")) {
            Matcher m = Pattern.compile("(?s)(.*?)(\\w+)\\s*").matcher(p.strip());
            if (m.matches()) vars.put(m.group(2), canonical(m.group(1)));
        }
        for (String statement : body.split("[;{}]")) {
            Matcher d = DECLARATION.matcher(statement.strip());
            if (!d.matches()) continue;
            for (String declarator : topLevelCommas(d.group(2))) {
                Matcher v = Pattern.compile("(?s)\\s*(\\**)\\s*(\\w+)\\s*(?:=.*)?").matcher(declarator);
                if (v.matches()) vars.put(v.group(2), canonical(d.group(1) + v.group(1)));
            }
        }
        return vars;
    }

    private static List<String> topLevelCommas(String s) {
        List<String> parts = new ArrayList<>();
        int depth = 0, from = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '(' || c == '[') depth++;
            else if (c == ')' || c == ']') depth--;
            else if (c == ',' && depth == 0) {
                parts.add(s.substring(from, i));
                from = i + 1;
            }
        }
        parts.add(s.substring(from));
        return parts;
    }

    /** The members of the last {@code struct { ... } var} of {@code body}, with their C types; none if there is none. */
    static Map<String, String> members(String body, String var) {
        Matcher s = Pattern.compile("struct\\s*\\{([^{}]*)\\}\\s*" + var + "\\s*=").matcher(body);
        String last = null;
        while (s.find()) last = s.group(1);
        return last == null ? Map.of() : variables("", last);
    }

    /** Problems of the argument arrays of C source {@code c} against {@code defs}; {@code launched} collects the kernels. */
    static List<String> launchProblems(String c, Map<String, List<Param>> defs, Set<String> launched) {
        String src = uncommented(c);
        List<String> problems = new ArrayList<>();
        Matcher a = ARRAY.matcher(src);
        while (a.find()) {
            String entries = a.group(2).strip();
            if (entries.contains("RNN4J_EACH")) continue; // the element-wise table's launch: from the table, checked above
            int fnStart = -1;
            Matcher f = FUNCTION.matcher(src);
            String fnName = null, fnParams = null;
            while (f.find() && f.start() < a.start()) { fnStart = f.end(); fnName = f.group(1); fnParams = f.group(2); }
            String where = (fnName == null ? "?" : fnName) + ": " + a.group(1) + "[]";
            Matcher l = LAUNCH.matcher(src);
            if (fnStart < 0 || !l.find(a.end())) { problems.add(where + ": no function or no launch after it"); continue; }
            String call = l.group(1);
            if (!call.matches("(?s).*\\b" + a.group(1) + "\\s*$")) { problems.add(where + ": the next launch does not pass it: " + call); continue; }
            List<String> kernels = new ArrayList<>();
            Matcher q = Pattern.compile("\"(rnn4j_\\w+)\"").matcher(call);
            while (q.find()) kernels.add(q.group(1));
            Matcher fp = Pattern.compile("\\(const void \\*\\) (rnn4j_\\w+)").matcher(call);
            while (fp.find()) if (!kernels.contains(fp.group(1)))
                problems.add(where + ": launches " + fp.group(1) + " but names " + kernels);
            if (kernels.isEmpty()) problems.add(where + ": the launch names no kernel");
            String body = src.substring(fnStart, a.start());
            Map<String, String> vars = variables(fnParams, body);
            List<String> got = new ArrayList<>(), names = new ArrayList<>();
            for (String e : entries.split(",")) {
                Matcher r = ENTRY.matcher(e);
                String type = !r.matches() ? null : r.group(1) == null ? vars.get(r.group(2)) : members(body, r.group(1)).get(r.group(2));
                got.add(type == null ? "? " + e.strip() : type + " " + r.group(2));
                names.add(r.matches() ? r.group(2) : e.strip());
            }
            for (String k : kernels) {
                launched.add(k);
                List<Param> def = defs.get(k);
                if (def == null) { problems.add(where + ": " + k + " is no kernel of kernels/"); continue; }
                List<String> want = def.stream().map(Param::type).toList();
                List<String> types = got.stream().map(g -> g.substring(0, g.lastIndexOf(' '))).toList();
                if (!want.equals(types))
                    problems.add(where + " for " + k + ": the kernel takes " + def + ", the array holds " + got);
                else if (!def.stream().map(Param::name).toList().equals(names))
                    problems.add(where + " for " + k + ": the kernel's parameters are named " + def.stream().map(Param::name).toList()
                            + ", the array passes " + names);
            }
        }
        return problems;
    }

    @Test
    void everyArgumentArrayOfTheHostHoldsItsKernelsParametersByNameAndTypeInOrder() throws IOException {
        Map<String, List<Param>> defs = definitions();
        Set<String> launched = new TreeSet<>();
        List<String> problems = launchProblems(read(Path.of("native", "cuda", "rnn4j_cuda.c")), defs, launched);
        assertEquals(List.of(), problems);
        Set<String> hand = new TreeSet<>(defs.keySet());
        hand.removeAll(elementwiseDeclarations().keySet());
        assertEquals(hand, launched, "kernels launched from an argument array of rnn4j_cuda.c");
    }

    @Test
    void anArrayWithAWrongTypeACountOffOrAnotherKernelIsReported() throws IOException {
        Map<String, List<Param>> defs = definitions();
        String ok = """
                int rnn4j_cuda_launch_fill2(rnn4j_cuda_device *dev, int64_t n, float value, rnn4j_cuda_buffer *x, int64_t off) {
                    struct {
                        long long n;
                        float value;
                        float *x;
                        long long xOff;
                    } ka = {.n = n, .value = value, .x = ptr(x), .xOff = off};
                    void *args[] = {&ka.n, &ka.value, &ka.x, &ka.xOff};
                    return launch_1d(fn, "rnn4j_fill", dev, (const void *) rnn4j_fill, n, args);
                }
                """;
        assertEquals(List.of(), launchProblems(ok, defs, new TreeSet<>()));
        // an int64_t parameter passed as it is: 8 bytes, but not the kernel's long long
        List<String> p = launchProblems(ok.replace("&ka.xOff}", "&off}"), defs, new TreeSet<>());
        assertEquals(1, p.size(), p.toString());
        assertTrue(p.get(0).contains("int64_t off"), p.get(0));
        // an int where the kernel takes long long: it would read 4 bytes past the variable
        p = launchProblems(ok.replace("long long n;", "int n;"), defs, new TreeSet<>());
        assertTrue(p.size() == 1 && p.get(0).contains("int n"), p.toString());
        p = launchProblems(ok.replace("&ka.x, &ka.xOff}", "&ka.x}"), defs, new TreeSet<>());
        assertEquals(1, p.size(), p.toString());
        p = launchProblems(ok.replace("(const void *) rnn4j_fill", "(const void *) rnn4j_scale"), defs, new TreeSet<>());
        assertTrue(p.size() == 1 && p.get(0).contains("launches rnn4j_scale but names [rnn4j_fill]"), p.toString());
    }

    @Test
    void twoArgumentsOfOneTypeInEachOthersPlaceAreReported() throws IOException {
        Map<String, List<Param>> defs = definitions();
        String fill = """
                int rnn4j_cuda_launch_fill2(rnn4j_cuda_device *dev, int64_t n, float value, rnn4j_cuda_buffer *x, int64_t off) {
                    long long n2 = n, xOff = off;
                    float v = value, *x2 = ptr(x);
                    void *args[] = {&n2, &v, &x2, &xOff};
                    return launch_1d(fn, "rnn4j_fill", dev, (const void *) rnn4j_fill, n, args);
                }
                """;
        // the count (n) and the offset (xOff) are both long long: only their names tell them apart
        String swapped = fill.replace("n2 = n, xOff = off", "n = off, xOff = n2").replace("&n2, &v, &x2, &xOff", "&xOff, &value, &x2, &n");
        List<String> p = launchProblems(swapped, defs, new TreeSet<>());
        assertTrue(p.size() == 1 && p.get(0).contains("named [n, value, x, xOff], the array passes [xOff, value, x2, n]"), p.toString());
        // short local names for the right values are reported as well: the names are what the test can check
        p = launchProblems(fill, defs, new TreeSet<>());
        assertTrue(p.size() == 1 && p.get(0).contains("the array passes [n2, v, x2, xOff]"), p.toString());
        String named = fill.replace("long long n2 = n, xOff = off;\n", "")
                .replace("float v = value, *x2 = ptr(x);", "struct { long long n; float value; float *x; long long xOff; } ka = {n, value, ptr(x), off};")
                .replace("&n2, &v, &x2, &xOff", "&ka.n, &ka.value, &ka.x, &ka.xOff");
        assertEquals(List.of(), launchProblems(named, defs, new TreeSet<>()));
        p = launchProblems(named.replace("&ka.n, &ka.value, &ka.x, &ka.xOff", "&ka.xOff, &ka.value, &ka.x, &ka.n"), defs, new TreeSet<>());
        assertTrue(p.size() == 1 && p.get(0).contains("the array passes [xOff, value, x, n]"), p.toString());
    }

    @Test
    void aDeclarationWithSwappedNamesIsReported() throws IOException {
        Map<String, List<Param>> defs = definitions();
        List<Param> copy2d = params("int rows, int cols, const float *src, long long dstOff, int srcLd, float *dst, long long srcOff, int dstLd");
        assertNotEquals(defs.get("rnn4j_copy2d"), copy2d);
        assertEquals(defs.get("rnn4j_copy2d").stream().map(Param::type).toList(), copy2d.stream().map(Param::type).toList());
        assertEquals("const float*", canonical("const GLOBAL float* RESTRICT"));
        assertEquals("unsigned int", canonical("u32"));
        assertEquals("unsigned int", canonical("unsigned"));
        assertEquals("const int*", canonical("const GLOBAL i32*"));
    }
}
