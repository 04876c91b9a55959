package dev.rnn4j.nn;

import java.math.BigDecimal;
import java.util.SplittableRandom;

/** Host-side parameter initialisation and PyTorch-style formatting shared by the recurrent layers. */
final class Inits {
    private Inits() {}

    /** Fills each parameter, in iteration order and row-major, from U(-bound, +bound) drawn from one generator seeded with {@code seed}. */
    static void uniform(Iterable<Parameter> params, double bound, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        for (Parameter p : params) {
            float[] v = new float[Math.toIntExact(p.numel())];
            for (int i = 0; i < v.length; i++) v[i] = (float) (bound * (2 * rng.nextDouble() - 1));
            p.set(v);
        }
    }

    /** A double as Python's {@code repr} writes it (0.5, 1.0, 0.0001, 1e-05), for PyTorch-style toString. */
    static String pyFloat(double v) {
        if (Double.isNaN(v)) return "nan";
        if (Double.isInfinite(v)) return v > 0 ? "inf" : "-inf";
        double a = Math.abs(v);
        if (a == 0 || (a >= 1e-4 && a < 1e16)) {   // Python's range for positional notation
            String s = new BigDecimal(Double.toString(v)).stripTrailingZeros().toPlainString();
            return s.contains(".") ? s : s + ".0";
        }
        // Java "1.0E-5" -> Python "1e-05": no ".0" mantissa, signed exponent of at least two digits.
        String s = Double.toString(v);
        int e = s.indexOf('E');
        String mant = s.substring(0, e), exp = s.substring(e + 1);
        if (mant.endsWith(".0")) mant = mant.substring(0, mant.length() - 2);
        String sign = exp.startsWith("-") ? "-" : "+";
        String digits = exp.startsWith("-") ? exp.substring(1) : exp;
        if (digits.length() < 2) digits = "0" + digits;
        return mant + "e" + sign + digits;
    }
}
