package dev.rnn4j.conformance;

import dev.rnn4j.HostTensor;
import dev.rnn4j.Shapes;

import java.util.Arrays;
import java.util.Locale;

/**
 * The comparison of one computed tensor with its stored expected value.
 *
 * <p>{@code worstRatio} is the largest |actual - expected| / (atol + rtol * |expected|) over the
 * elements (so the tensor passes iff it is &lt;= 1), infinite where the bound is zero and the error
 * is not, or where either value is NaN; {@code worstIndex} is where it occurs, and
 * {@code worstError}/{@code worstBound} the error and the bound there. {@code maxAbsErr} is the
 * largest absolute error anywhere (NaN if a NaN was met). When the tensor could not be compared
 * at all (wrong shape, not produced), {@code problem} says why and the tensor fails.
 */
public record TensorResult(String name, int[] shape, ConformanceCase.Tolerance tolerance, boolean passed,
                           double maxAbsErr, double worstRatio, long worstIndex, double worstError, double worstBound,
                           float expectedAtWorst, float actualAtWorst, long elementsOutside, String problem) {

    public TensorResult {
        shape = shape.clone();
    }

    @Override
    public int[] shape() { return shape.clone(); }

    /** A tensor that could not be compared. */
    public static TensorResult problem(String name, int[] shape, ConformanceCase.Tolerance tol, String problem) {
        return new TensorResult(name, shape, tol, false, Double.NaN, Double.POSITIVE_INFINITY, -1,
                Double.NaN, Double.NaN, Float.NaN, Float.NaN, -1, problem);
    }

    /** Compares elementwise with numpy {@code allclose} semantics (no NaN equality). */
    public static TensorResult compare(String name, HostTensor expected, float[] actual, int[] actualShape,
                                       ConformanceCase.Tolerance tol) {
        int[] shape = expected.shape();
        if (actual == null) return problem(name, shape, tol, "not produced by the module");
        if (!Arrays.equals(shape, actualShape))
            return problem(name, shape, tol, "shape mismatch: expected " + Shapes.str(shape) + ", got " + Shapes.str(actualShape));
        float[] e = expected.data();
        double maxAbs = 0, worstRatio = -1, worstErr = 0, worstBound = 0;
        long worstIdx = 0, outside = 0;
        boolean sawNaN = false;
        for (int i = 0; i < e.length; i++) {
            double exp = e[i], act = actual[i];
            double err = Math.abs(act - exp);
            double bound = tol.bound(exp);
            double ratio;
            if (Double.isNaN(err)) {
                sawNaN = true;
                ratio = Double.POSITIVE_INFINITY;
            } else {
                if (err > maxAbs) maxAbs = err;
                ratio = bound > 0 ? err / bound : (err == 0 ? 0 : Double.POSITIVE_INFINITY);
            }
            if (!(err <= bound)) outside++;
            if (ratio > worstRatio) {
                worstRatio = ratio;
                worstIdx = i;
                worstErr = err;
                worstBound = bound;
            }
        }
        if (e.length == 0) worstRatio = 0;
        return new TensorResult(name, shape, tol, outside == 0, sawNaN ? Double.NaN : maxAbs, worstRatio,
                e.length == 0 ? -1 : worstIdx, worstErr, worstBound,
                e.length == 0 ? Float.NaN : e[(int) worstIdx], e.length == 0 ? Float.NaN : actual[(int) worstIdx],
                outside, null);
    }

    /** The worst element's position as a multi-index, e.g. "[2, 0, 3]". */
    public String worstPosition() {
        if (worstIndex < 0) return "[]";
        long rest = worstIndex;
        int[] idx = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = (int) (rest % shape[d]);
            rest /= shape[d];
        }
        return Arrays.toString(idx);
    }

    /** One line: "name OK max_abs_err=..." or what failed. */
    public String describe() {
        if (problem != null) return name + " FAIL " + problem;
        return String.format(Locale.ROOT, "%s %s max_abs_err=%s worst=%s of tol at %s (expected %s, got %s, %s); %d of %d elements outside",
                name, passed ? "ok" : "FAIL", num(maxAbsErr), ratioText(worstRatio), worstPosition(),
                num(expectedAtWorst), num(actualAtWorst), tolerance, elementsOutside, Shapes.numel(shape));
    }

    static String num(double v) { return v == 0 ? "0" : String.format(Locale.ROOT, "%.3g", v); }

    static String ratioText(double r) {
        return Double.isInfinite(r) ? "inf" : num(r);
    }
}
