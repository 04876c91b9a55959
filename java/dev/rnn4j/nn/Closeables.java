package dev.rnn4j.nn;

/** Closes several resources, skipping nulls, and reports the first failure after trying them all. */
public final class Closeables {
    private Closeables() {}

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
