package dev.rnn4j.conformance;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * The outcome of one conformance case on one backend. A case passes iff it has no
 * {@code problems} (missing or unknown tensors, a module that could not be built or threw, a
 * config the module contradicts) and every tensor is within tolerance.
 */
public record CaseResult(String name, Path file, String backend, List<TensorResult> tensors, List<String> problems) {

    public CaseResult {
        tensors = List.copyOf(tensors);
        problems = List.copyOf(problems);
    }

    public boolean passed() {
        return problems.isEmpty() && !tensors.isEmpty() && tensors.stream().allMatch(TensorResult::passed);
    }

    /** The tensor with the largest error relative to its tolerance, or null if none was compared. */
    public TensorResult worst() {
        return tensors.stream().max(Comparator.comparingDouble(TensorResult::worstRatio)).orElse(null);
    }

    /** Number of compared tensors that failed. */
    public long failedTensors() { return tensors.stream().filter(t -> !t.passed()).count(); }

    /**
     * One line for the command: {@code PASS name  (worst: tensor max_abs_err=...)} or
     * {@code FAIL name  worst tensor ... err ... > tol ...} / {@code FAIL name  <problems>}.
     */
    public String line() {
        TensorResult w = worst();
        if (passed())
            return String.format(Locale.ROOT, "PASS %s  (worst: %s max_abs_err=%s, %s of tol)",
                    name, w.name(), TensorResult.num(w.maxAbsErr()), TensorResult.ratioText(w.worstRatio()));
        StringBuilder sb = new StringBuilder("FAIL ").append(name).append("  ");
        if (!problems.isEmpty()) {
            sb.append(String.join("; ", problems));
            if (w != null && !w.passed()) sb.append("; ");
        }
        if (w != null && !w.passed()) {
            if (w.problem() != null) {
                sb.append("worst tensor ").append(w.name()).append(": ").append(w.problem());
            } else {
                sb.append(String.format(Locale.ROOT, "worst tensor %s err %s > tol %s at %s (expected %s, got %s)",
                        w.name(), TensorResult.num(w.worstError()), TensorResult.num(w.worstBound()), w.worstPosition(),
                        TensorResult.num(w.expectedAtWorst()), TensorResult.num(w.actualAtWorst())));
            }
            sb.append("; ").append(failedTensors()).append(" of ").append(tensors.size()).append(" tensors out of tolerance");
        }
        if (problems.isEmpty() && (w == null)) sb.append("no tensor was compared");
        return sb.toString();
    }
}
