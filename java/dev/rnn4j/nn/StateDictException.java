package dev.rnn4j.nn;

import java.util.List;

/** A state dict did not fit a module: lists every missing, unexpected and mis-shaped key at once. */
public class StateDictException extends IllegalArgumentException {
    private final List<String> missing, unexpected, mismatched;
    private final String hint;

    /** An exception naming {@code module} and listing the problems (the lists are copied). */
    public StateDictException(String module, List<String> missing, List<String> unexpected, List<String> mismatched) {
        this(module, missing, unexpected, mismatched, null);
    }

    /** With a hint (may be null) appended to the message, e.g. the option that would make the keys fit. */
    public StateDictException(String module, List<String> missing, List<String> unexpected, List<String> mismatched, String hint) {
        super(message(module, missing, unexpected, mismatched) + (hint == null ? "" : "\n  " + hint));
        this.missing = List.copyOf(missing);
        this.unexpected = List.copyOf(unexpected);
        this.mismatched = List.copyOf(mismatched);
        this.hint = hint;
    }

    private static String message(String module, List<String> missing, List<String> unexpected, List<String> mismatched) {
        StringBuilder sb = new StringBuilder("state dict does not match ").append(module).append(':');
        if (!missing.isEmpty()) sb.append("\n  missing keys: ").append(String.join(", ", missing));
        if (!unexpected.isEmpty()) sb.append("\n  unexpected keys: ").append(String.join(", ", unexpected));
        if (!mismatched.isEmpty()) sb.append("\n  shape mismatches: ").append(String.join("; ", mismatched));
        return sb.toString();
    }

    /** The module's keys the state dict lacks. */
    public List<String> missing() { return missing; }
    /** The state dict's keys the module does not have. */
    public List<String> unexpected() { return unexpected; }
    /** "key: expected [shape], got [shape]" for each key whose shape differs. */
    public List<String> mismatched() { return mismatched; }
    /** The hint appended to the message (what would make the keys fit), or null if there is none. */
    public String hint() { return hint; }
}
