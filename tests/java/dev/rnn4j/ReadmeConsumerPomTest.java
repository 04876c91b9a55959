package dev.rnn4j;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The consumer pom.xml that README's "Using rnn4j from Maven" shows builds on Maven 3.8: it pins
 * every plugin of a jar project's lifecycle (Maven 3.8's default compiler plugin, 3.1, compiles
 * for Java 5 and fails on a JDK 25) at the versions this build uses, depends on this version of
 * rnn4j, and starts its JVMs (exec, surefire) with the flags rnn4j needs; so does examples/pom.xml.
 * (The poms are read with patterns: the test module does not read java.xml.)
 */
class ReadmeConsumerPomTest {
    private static final List<String> LIFECYCLE = List.of("maven-clean-plugin", "maven-resources-plugin",
            "maven-compiler-plugin", "maven-surefire-plugin", "maven-jar-plugin", "maven-install-plugin");
    private static final List<String> FLAGS = List.of("--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector");

    private static String readmePom() throws Exception {
        String md = Files.readString(Path.of("README.md"));
        int section = md.indexOf("\n## Using rnn4j from Maven\n");
        assertNotEquals(-1, section, "README.md has no section Using rnn4j from Maven");
        int start = md.indexOf("```xml\n", section);
        assertTrue(start > 0 && start < md.indexOf("\n## ", section + 5), "no xml block in the section");
        return md.substring(start + 7, md.indexOf("```", start + 7));
    }

    /** The text of the first {@code <tag>} in {@code xml}, or null. */
    private static String text(String xml, String tag) {
        Matcher m = Pattern.compile("<" + Pattern.quote(tag) + ">(.*?)</" + Pattern.quote(tag) + ">", Pattern.DOTALL).matcher(xml);
        return m.find() ? m.group(1).strip() : null;
    }

    private static List<String> all(String xml, String tag) {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("<" + Pattern.quote(tag) + ">(.*?)</" + Pattern.quote(tag) + ">", Pattern.DOTALL).matcher(xml);
        while (m.find()) out.add(m.group(1).strip());
        return out;
    }

    /** artifactId -> the plugin's element text (the build's plugins; a pluginManagement section has none here). */
    private static Map<String, String> plugins(String pom) {
        Map<String, String> out = new HashMap<>();
        for (String p : all(pom, "plugin")) out.put(text(p, "artifactId"), p);
        return out;
    }

    /** A pom without its comments. */
    private static String read(Path p) throws Exception { return uncommented(Files.readString(p)); }

    private static String uncommented(String xml) { return xml.replaceAll("(?s)<!--.*?-->", ""); }

    /** The version of the project itself: the first version after its artifactId. */
    private static String projectVersion(String pom) {
        String head = pom.substring(pom.indexOf("<artifactId>"));
        return text(head, "version");
    }

    @Test
    void readmePomPinsThePluginsAndPassesTheFlags() throws Exception {
        String pom = uncommented(readmePom());
        String build = read(Path.of("pom.xml"));
        assertTrue(pom.strip().startsWith("<project") && pom.strip().endsWith("</project>"), "not a whole pom:\n" + pom);
        assertEquals("25", text(pom, "maven.compiler.release"));

        String dep = text(pom, "dependency");
        assertNotNull(dep, "no dependency");
        assertEquals("dev.rnn4j", text(dep, "groupId"));
        assertEquals("rnn4j", text(dep, "artifactId"));
        assertEquals(projectVersion(build), text(dep, "version"));

        Map<String, String> mine = plugins(pom), ours = plugins(build);
        for (Map.Entry<String, String> p : mine.entrySet()) assertNotNull(text(p.getValue(), "version"), "plugin without a version: " + p.getKey());
        for (String a : LIFECYCLE) {
            assertTrue(mine.containsKey(a), "README pom does not pin " + a);
            assertEquals(text(ours.get(a), "version"), text(mine.get(a), "version"), a + ": not the version this build uses");
        }
        List<String> args = all(mine.get("exec-maven-plugin"), "argument");
        assertTrue(Collections.indexOfSubList(args, FLAGS) >= 0, "exec arguments: " + args);
        String argLine = text(mine.get("maven-surefire-plugin"), "argLine");
        assertTrue(argLine != null && argLine.contains(String.join(" ", FLAGS)), "surefire argLine: " + argLine);
    }

    @Test
    void examplesProjectPassesTheFlags() throws Exception {
        List<String> args = all(plugins(read(Path.of("examples", "pom.xml"))).get("exec-maven-plugin"), "argument");
        assertTrue(Collections.indexOfSubList(args, FLAGS) >= 0, "examples/pom.xml exec arguments: " + args);
    }
}
