package dev.rnn4j.io;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON (RFC 8259) reader and writer, used for safetensors headers and the
 * conformance config. No dependency; no extensions.
 *
 * <p>{@link #parse(String)} maps JSON values to Java as follows:
 * object → unmodifiable {@code Map<String,Object>} in document order (duplicate keys are an
 * error), array → unmodifiable {@code List<Object>}, string → {@link String}, number →
 * {@link Long} when written without fraction or exponent and in the range of {@code long},
 * otherwise {@link Double}, {@code true}/{@code false} → {@link Boolean}, {@code null} →
 * {@code null}.
 *
 * <p>Rejected (with the offending character offset in the message): anything but exactly one
 * value surrounded by optional whitespace, trailing commas, comments, single quotes, leading
 * zeros, {@code NaN}/{@code Infinity}, unescaped control characters in strings, invalid or
 * unpaired-surrogate {@code \\u} escapes, numbers that overflow to infinity, and nesting
 * deeper than {@link #MAX_DEPTH}.
 */
public final class Json {
    /** Deepest nesting of arrays and objects accepted (guards the recursive parser's stack). */
    public static final int MAX_DEPTH = 256;

    private final String s;
    private int pos;

    private Json(String s) { this.s = s; }

    /** Thrown for malformed JSON; the message says what and where (character offset). */
    public static final class JsonException extends IllegalArgumentException {
        private final int offset;

        JsonException(String message, int offset) {
            super(message + " at offset " + offset);
            this.offset = offset;
        }

        /** Character offset in the input where the problem was found. */
        public int offset() { return offset; }
    }

    /** Parses one JSON text. See the class comment for the value mapping and what is rejected. */
    public static Object parse(String text) {
        if (text == null) throw new NullPointerException("text is null");
        Json p = new Json(text);
        p.skipWs();
        Object v = p.value(0);
        p.skipWs();
        if (p.pos != text.length()) throw p.error("unexpected " + p.describe() + " after the JSON value");
        return v;
    }

    /** Parses a JSON text that must be an object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text) {
        Object v = parse(text);
        if (!(v instanceof Map)) throw new JsonException("expected a JSON object, got " + typeName(v), 0);
        return (Map<String, Object>) v;
    }

    /** The JSON type name of a parsed value ("object", "array", "string", "number", "boolean", "null"). */
    public static String typeName(Object v) {
        if (v == null) return "null";
        if (v instanceof Map) return "object";
        if (v instanceof List) return "array";
        if (v instanceof String) return "string";
        if (v instanceof Number) return "number";
        if (v instanceof Boolean) return "boolean";
        return v.getClass().getSimpleName();
    }

    // ------------------------------------------------------------------ parsing

    private Object value(int depth) {
        if (pos >= s.length()) throw error("unexpected end of input, expected a value");
        char c = s.charAt(pos);
        switch (c) {
            case '{': return object(depth + 1);
            case '[': return array(depth + 1);
            case '"': return string();
            case 't': literal("true"); return Boolean.TRUE;
            case 'f': literal("false"); return Boolean.FALSE;
            case 'n': literal("null"); return null;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return number();
                throw error("unexpected " + describe() + ", expected a value");
        }
    }

    private Map<String, Object> object(int depth) {
        if (depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH);
        pos++; // '{'
        Map<String, Object> m = new LinkedHashMap<>();
        skipWs();
        if (peek() == '}') {
            pos++;
            return Collections.unmodifiableMap(m);
        }
        while (true) {
            skipWs();
            if (peek() != '"') throw error("unexpected " + describe() + ", expected a string key");
            int keyAt = pos;
            String key = string();
            skipWs();
            if (peek() != ':') throw error("unexpected " + describe() + ", expected ':'");
            pos++;
            skipWs();
            Object v = value(depth);
            if (m.containsKey(key)) throw new JsonException("duplicate key \"" + key + "\"", keyAt);
            m.put(key, v);
            skipWs();
            char c = peek();
            if (c == ',') { pos++; continue; }
            if (c == '}') { pos++; return Collections.unmodifiableMap(m); }
            throw error("unexpected " + describe() + ", expected ',' or '}'");
        }
    }

    private List<Object> array(int depth) {
        if (depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH);
        pos++; // '['
        List<Object> l = new ArrayList<>();
        skipWs();
        if (peek() == ']') {
            pos++;
            return Collections.unmodifiableList(l);
        }
        while (true) {
            skipWs();
            l.add(value(depth));
            skipWs();
            char c = peek();
            if (c == ',') { pos++; continue; }
            if (c == ']') { pos++; return Collections.unmodifiableList(l); }
            throw error("unexpected " + describe() + ", expected ',' or ']'");
        }
    }

    private String string() {
        pos++; // opening quote
        StringBuilder sb = null;
        int runStart = pos;
        while (true) {
            if (pos >= s.length()) throw error("unterminated string");
            char c = s.charAt(pos);
            if (c == '"') {
                String out = sb == null ? s.substring(runStart, pos) : sb.append(s, runStart, pos).toString();
                pos++;
                return out;
            }
            if (c < 0x20) throw error(String.format("unescaped control character U+%04X in string", (int) c));
            if (Character.isSurrogate(c)) {
                // Only reachable for a Java String built from bad UTF-16; decoded UTF-8 never has lone surrogates.
                if (Character.isHighSurrogate(c) && pos + 1 < s.length() && Character.isLowSurrogate(s.charAt(pos + 1))) {
                    pos += 2;
                    continue;
                }
                throw error("unpaired surrogate in string");
            }
            if (c != '\\') {
                pos++;
                continue;
            }
            if (sb == null) sb = new StringBuilder();
            sb.append(s, runStart, pos);
            pos++;
            if (pos >= s.length()) throw error("unterminated escape sequence");
            char e = s.charAt(pos++);
            switch (e) {
                case '"' -> sb.append('"');
                case '\\' -> sb.append('\\');
                case '/' -> sb.append('/');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    int at = pos - 2;
                    char u = hex4();
                    if (Character.isHighSurrogate(u)) {
                        if (pos + 1 < s.length() && s.charAt(pos) == '\\' && s.charAt(pos + 1) == 'u') {
                            pos += 2;
                            char lo = hex4();
                            if (!Character.isLowSurrogate(lo)) throw new JsonException("high surrogate escape not followed by a low surrogate", at);
                            sb.append(u).append(lo);
                        } else {
                            throw new JsonException("unpaired surrogate escape \\u" + String.format("%04X", (int) u), at);
                        }
                    } else if (Character.isLowSurrogate(u)) {
                        throw new JsonException("unpaired surrogate escape \\u" + String.format("%04X", (int) u), at);
                    } else {
                        sb.append(u);
                    }
                }
                default -> {
                    pos--;
                    throw error("invalid escape sequence '\\" + printable(e) + "'");
                }
            }
            runStart = pos;
        }
    }

    private char hex4() {
        if (pos + 4 > s.length()) throw error("truncated \\u escape");
        int v = 0;
        for (int i = 0; i < 4; i++) {
            char h = s.charAt(pos);
            int d = Character.digit(h, 16);
            if (d < 0 || h > 'f') throw error("invalid hex digit '" + printable(h) + "' in \\u escape");
            v = v * 16 + d;
            pos++;
        }
        return (char) v;
    }

    private Object number() {
        int start = pos;
        boolean integral = true;
        if (peek() == '-') pos++;
        char c = peek();
        if (c == '0') {
            pos++;
            if (isDigit(peek())) throw error("leading zero in number");
        } else if (c >= '1' && c <= '9') {
            while (isDigit(peek())) pos++;
        } else {
            throw error("unexpected " + describe() + " in number, expected a digit");
        }
        if (peek() == '.') {
            integral = false;
            pos++;
            if (!isDigit(peek())) throw error("expected a digit after the decimal point");
            while (isDigit(peek())) pos++;
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            pos++;
            if (peek() == '+' || peek() == '-') pos++;
            if (!isDigit(peek())) throw error("expected a digit in the exponent");
            while (isDigit(peek())) pos++;
        }
        String text = s.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException tooBig) {
                // falls through to double
            }
        }
        double d = Double.parseDouble(text);
        if (Double.isInfinite(d)) throw new JsonException("number " + text + " is out of range", start);
        return d;
    }

    private void literal(String word) {
        if (!s.startsWith(word, pos)) throw error("unexpected " + describe() + ", expected a value");
        pos += word.length();
    }

    private void skipWs() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') pos++;
            else break;
        }
    }

    private char peek() { return pos < s.length() ? s.charAt(pos) : '\0'; }

    private static boolean isDigit(char c) { return c >= '0' && c <= '9'; }

    private String describe() {
        if (pos >= s.length()) return "end of input";
        return "character '" + printable(s.charAt(pos)) + "'";
    }

    private static String printable(char c) {
        return c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("U+%04X", (int) c);
    }

    private JsonException error(String message) { return new JsonException(message, pos); }

    // ------------------------------------------------------------------ writing

    /**
     * Writes a value as compact JSON. Accepts what {@link #parse} returns (Map with String keys,
     * List, String, Long/Integer/Short/Byte, finite Double/Float, Boolean, null), plus int[] and
     * long[] as arrays. Map order is kept.
     */
    public static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, 0);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, int depth) {
        if (depth > MAX_DEPTH) throw new IllegalArgumentException("nesting deeper than " + MAX_DEPTH);
        if (v == null) sb.append("null");
        else if (v instanceof String str) quote(sb, str);
        else if (v instanceof Boolean b) sb.append(b.booleanValue());
        else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) sb.append(((Number) v).longValue());
        else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (!Double.isFinite(d)) throw new IllegalArgumentException("JSON cannot hold the number " + d);
            sb.append(d);
        } else if (v instanceof int[] a) {
            sb.append('[');
            for (int i = 0; i < a.length; i++) sb.append(i == 0 ? "" : ",").append(a[i]);
            sb.append(']');
        } else if (v instanceof long[] a) {
            sb.append('[');
            for (int i = 0; i < a.length; i++) sb.append(i == 0 ? "" : ",").append(a[i]);
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            sb.append('{');
            boolean first = true;
            for (var e : m.entrySet()) {
                if (!(e.getKey() instanceof String k)) throw new IllegalArgumentException("JSON object key is not a string: " + e.getKey());
                if (!first) sb.append(',');
                first = false;
                quote(sb, k);
                sb.append(':');
                write(sb, e.getValue(), depth + 1);
            }
            sb.append('}');
        } else if (v instanceof List<?> l) {
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(',');
                write(sb, l.get(i), depth + 1);
            }
            sb.append(']');
        } else {
            throw new IllegalArgumentException("cannot write " + v.getClass().getName() + " as JSON");
        }
    }

    /**
     * Appends {@code str} as a JSON string literal (escaping quotes, backslashes and control
     * characters). Throws IllegalArgumentException for an unpaired surrogate, which no UTF-8
     * file can hold.
     */
    public static void quote(StringBuilder sb, String str) {
        sb.append('"');
        for (int i = 0; i < str.length(); i++) {
            char c = str.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else if (Character.isSurrogate(c) && !pairedAt(str, i))
                        throw new IllegalArgumentException("string has an unpaired surrogate at index " + i + "; JSON text must be valid Unicode");
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    /** Whether the surrogate at i is part of a valid pair (so it can be written as UTF-8). */
    private static boolean pairedAt(String str, int i) {
        char c = str.charAt(i);
        if (Character.isHighSurrogate(c)) return i + 1 < str.length() && Character.isLowSurrogate(str.charAt(i + 1));
        return i > 0 && Character.isHighSurrogate(str.charAt(i - 1));
    }
}
