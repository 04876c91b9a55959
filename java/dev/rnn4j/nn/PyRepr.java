package dev.rnn4j.nn;

import java.math.BigDecimal;

/** Python-style formatting for the PyTorch-like {@code toString} of the layers. */
final class PyRepr {
    private PyRepr() {}

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
