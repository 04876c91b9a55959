package dev.rnn4j.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The strict JSON reader and writer. */
class JsonTest {

    @Test
    void parsesEveryValueKind() {
        Map<String, Object> m = Json.parseObject(
                " {\"a\": 1, \"b\": -2.5e3, \"c\": \"x\\ty\\u00e9\\ud83d\\ude00\", \"d\": [true, false, null], \"e\": {}, \"f\": []}\n ");
        assertEquals(List.of("a", "b", "c", "d", "e", "f"), List.copyOf(m.keySet()), "document order kept");
        assertEquals(1L, m.get("a"));
        assertEquals(-2500.0, m.get("b"));
        assertEquals("x\ty\u00e9\ud83d\ude00", m.get("c"));
        assertEquals(Arrays.asList(true, false, null), m.get("d"));
        assertEquals(Map.of(), m.get("e"));
        assertEquals(List.of(), m.get("f"));
    }

    @Test
    void numbers() {
        assertEquals(0L, Json.parse("0"));
        assertEquals(-0.0, Json.parse("-0.0"));
        assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, Json.parse("-9223372036854775808"));
        assertEquals(9223372036854775808.0, Json.parse("9223372036854775808"), "too big for long -> double");
        assertEquals(1e-5, Json.parse("1e-05"));
        assertEquals(1.0, Json.parse("1E+0"));
        assertEquals(1.5, Json.parse("15e-1"));
    }

    @Test
    void escapes() {
        assertEquals("\"\\/\b\f\n\r\t", Json.parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""));
        assertEquals("\u0000\uABCD", Json.parse("\"\\u0000\\uabCD\""));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{,}", "[,1]", "{\"a\" 1}", "{a:1}", "{'a':1}",
            "01", "-", "1.", ".5", "1e", "+1", "NaN", "Infinity", "-Infinity", "1e400", "0x10",
            "tru", "nul", "True", "\"abc", "\"a\nb\"", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"",
            "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "1 2", "{} {}", "[1] x", "// c\n1",
            "/* c */ 1", "{\"a\":1,\"a\":2}", "\u00a01", "[1\u00a0]"})
    void rejects(String text) {
        Json.JsonException e = assertThrows(Json.JsonException.class, () -> Json.parse(text), () -> "accepted: " + text);
        assertTrue(e.getMessage().contains("at offset"), e.getMessage());
    }

    @Test
    void messagesSayWhatAndWhere() {
        var e = assertThrows(Json.JsonException.class, () -> Json.parse("{\"a\": [1, 2,]}"));
        assertEquals("unexpected character ']', expected a value at offset 12", e.getMessage());
        assertEquals(12, e.offset());
        e = assertThrows(Json.JsonException.class, () -> Json.parse("{\"k\": 1, \"k\": 2}"));
        assertTrue(e.getMessage().startsWith("duplicate key \"k\""), e.getMessage());
    }

    @Test
    void nestingIsBounded() {
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertNotNull(Json.parse(ok));
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        var e = assertThrows(Json.JsonException.class, () -> Json.parse(deep));
        assertTrue(e.getMessage().contains("nesting deeper than"), e.getMessage());
    }

    @Test
    void parseObjectRequiresAnObject() {
        var e = assertThrows(Json.JsonException.class, () -> Json.parseObject("[1]"));
        assertTrue(e.getMessage().contains("expected a JSON object, got array"), e.getMessage());
    }

    @Test
    void parsedContainersAreUnmodifiable() {
        Map<String, Object> m = Json.parseObject("{\"a\":[1]}");
        assertThrows(UnsupportedOperationException.class, () -> m.put("b", 1));
        assertThrows(UnsupportedOperationException.class, () -> ((List<?>) m.get("a")).clear());
    }

    @Test
    void writeRoundTrips() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "quote\" back\\ nl\n ctl\u0001 é \ud83d\ude00");
        m.put("i", 42L);
        m.put("d", 0.1);
        m.put("b", true);
        m.put("n", null);
        m.put("l", List.of(1L, "two", List.of()));
        m.put("o", Map.of("k", "v"));
        String text = Json.write(m);
        assertEquals(m, Json.parse(text));
        assertEquals("[1,2,3]", Json.write(new int[] {1, 2, 3}));
        assertEquals("[0,8]", Json.write(new long[] {0, 8}));
    }

    @Test
    void writeRejectsWhatJsonCannotHold() {
        assertThrows(IllegalArgumentException.class, () -> Json.write(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Double.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> Json.write("lone \ud800 surrogate"));
        assertThrows(IllegalArgumentException.class, () -> Json.write(new Object()));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Map.of(1, 2)));
    }
}
