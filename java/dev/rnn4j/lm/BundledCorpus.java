package dev.rnn4j.lm;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Finds the bundled corpus folder {@code data/kjv}: in the working directory or above the rnn4j classes / jar. */
final class BundledCorpus {
    static final String DIR = "data/kjv";

    static Path locate() throws UsageException {
        List<Path> tried = new ArrayList<>();
        Path cwd = Path.of("").toAbsolutePath();
        tried.add(cwd);
        try {
            Path code = Path.of(BundledCorpus.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            for (Path p = code; p != null && tried.size() < 6; p = p.getParent()) tried.add(p);
        } catch (URISyntaxException | SecurityException | NullPointerException | IllegalArgumentException e) {
            // no code location: the working directory is all we can try
        }
        for (Path base : tried) {
            Path dir = base.resolve(DIR);
            if (Files.isRegularFile(dir.resolve("train.txt")) && Files.isRegularFile(dir.resolve("valid.txt"))
                    && Files.isRegularFile(dir.resolve("test.txt")))
                return dir;
        }
        throw new UsageException("the bundled corpus (" + DIR + "/train.txt, valid.txt, test.txt) was not found in the working"
                + " directory or the rnn4j folder; pass --train, --dev and --test");
    }

    /** The folder relative to the working directory when it lies below it. */
    static String display(Path dir) {
        Path cwd = Path.of("").toAbsolutePath();
        Path abs = dir.toAbsolutePath().normalize();
        return abs.startsWith(cwd) ? cwd.relativize(abs).toString() : abs.toString();
    }
}
