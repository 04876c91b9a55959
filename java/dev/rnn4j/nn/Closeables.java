package dev.rnn4j.nn;

/** Closes several resources, skipping nulls, and reports the first failure after trying them all. */
public final class Closeables {
    private Closeables() {}

    /** Closes every non-null resource, in order, even if one fails; then throws the first failure (a checked one wrapped in IllegalStateException) with the others suppressed. */
    public static void closeAll(AutoCloseable... resources) {
        RuntimeException first = null;
        for (AutoCloseable r : resources) {
            if (r == null) continue;
            try {
                r.close();
            } catch (Exception e) {
                if (first == null) first = e instanceof RuntimeException re ? re : new IllegalStateException("close failed", e);
                else first.addSuppressed(e);
            }
        }
        if (first != null) throw first;
    }
}
