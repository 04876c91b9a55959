package dev.rnn4j;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceBuffer;

import java.util.Arrays;

/**
 * The element-wise, reduction and layout ops behind {@link Tensor#add}, {@link Tensor#sum(int)},
 * {@link Tensor#transpose} and the rest, composed from backend primitives that every backend
 * has (copy, axpy, scale, mul, copy2d, strided batched GEMM, column sums), so they need no
 * kernels of their own. Each returns a new tensor, closed again if a step fails.
 */
final class TensorMath {
    private TensorMath() {}

    /** What a step writes into a fresh tensor. */
    private interface Fill {
        void into(Backend be, Tensor out);
    }

    /** A new tensor of {@code shape} on {@code like}'s device, filled by {@code f} (closed if f throws). */
    private static Tensor make(Tensor like, int[] shape, Fill f) {
        Backend be = like.backend();
        Tensor out = Tensor.zeros(like.device(), shape);
        try {
            f.into(be, out);
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
        return out;
    }

    private static void same(String op, Tensor a, Tensor b) {
        if (b == null) throw new NullPointerException(op + ": the other tensor is null");
        a.buffer();
        if (a.device() != b.device())
            throw new IllegalArgumentException(op + ": the other tensor is on device " + b.device().label() + ", this one on device " + a.device().label());
        if (!Arrays.equals(a.shape(), b.shape()))
            throw new IllegalArgumentException(op + ": shapes differ, " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape()));
        b.buffer();
    }

    /** a + alpha * b: a copy of a, then axpy. */
    static Tensor addScaled(String op, Tensor a, float alpha, Tensor b) {
        same(op, a, b);
        return make(a, a.shape(), (be, out) -> {
            long n = a.numel();
            be.copy(a.buffer(), 0, out.buffer(), 0, n);
            be.axpy(n, alpha, b.buffer(), 0, out.buffer(), 0);
        });
    }

    static Tensor mul(Tensor a, Tensor b) {
        same("mul", a, b);
        return make(a, a.shape(), (be, out) -> be.mul(a.numel(), a.buffer(), 0, b.buffer(), 0, out.buffer(), 0));
    }

    static Tensor scale(Tensor a, float alpha) {
        return make(a, a.shape(), (be, out) -> {
            be.copy(a.buffer(), 0, out.buffer(), 0, a.numel());
            be.scale(a.numel(), alpha, out.buffer(), 0);
        });
    }

    private static int checkDim(Tensor t, int dim, int rank, String op) {
        if (dim < 0 || dim >= rank)
            throw new IndexOutOfBoundsException(op + ": dimension " + dim + " out of range for a tensor of shape " + Shapes.str(t.shape()));
        return dim;
    }

    private static int prod(int[] s, int from, int to) {
        long n = 1;
        for (int i = from; i < to; i++) n *= s[i];
        return (int) n;   // a sub-product of a valid shape: at most MAX_NUMEL
    }

    private static int[] without(int[] s, int dim) {
        int[] r = new int[s.length - 1];
        for (int i = 0, j = 0; i < s.length; i++) if (i != dim) r[j++] = s[i];
        return r;
    }

    /** A fresh vector of n ones, the fixed operand of the GEMMs that sum or repeat. */
    private static Tensor ones(Tensor like, int n) {
        Tensor o = Tensor.zeros(like.device(), n);
        try {
            o.fill(1f);
        } catch (RuntimeException | Error e) {
            o.close();
            throw e;
        }
        return o;
    }

    /**
     * Sum over {@code dim}: the input as (outer, d, inner), each output row ones(1 x d) times the
     * (d x inner) block; one strided batched GEMM (a plain one when outer or inner is 1).
     */
    static Tensor sum(Tensor x, int dim, float alpha) {
        int[] s = x.shape();
        checkDim(x, dim, s.length, "sum");
        int outer = prod(s, 0, dim), d = s[dim], inner = prod(s, dim + 1, s.length);
        return make(x, without(s, dim), (be, out) -> {
            if (out.numel() == 0) return;
            if (d == 0) {
                if (alpha != 1f) out.fill(Float.NaN);   // mean of nothing, as PyTorch
                return;
            }
            try (Tensor ones = ones(x, d)) {
                DeviceBuffer X = x.buffer(), O = ones.buffer(), Y = out.buffer();
                if (inner == 1)
                    be.gemm(false, false, outer, 1, d, alpha, X, 0, d, O, 0, 1, 0f, Y, 0, 1, 1, 0, 0, 0);
                else
                    be.gemm(false, false, 1, inner, d, alpha, O, 0, d, X, 0, inner, 0f, Y, 0, inner,
                            outer, 0, (long) d * inner, inner);
            }
        });
    }

    /**
     * Inserts dimension {@code dim} of {@code size} copies: the input as (outer, inner), each
     * output block ones(size x 1) times the (1 x inner) row, one strided batched GEMM with k = 1
     * (exact: every product is 1 * x).
     */
    static Tensor expandDim(Tensor x, int dim, int size) {
        int[] s = x.shape();
        if (dim < 0 || dim > s.length)
            throw new IndexOutOfBoundsException("expandDim: position " + dim + " out of range [0, " + s.length + "] for a tensor of shape " + Shapes.str(s));
        if (size < 0) throw new IllegalArgumentException("expandDim: negative size " + size);
        int[] r = new int[s.length + 1];
        for (int i = 0, j = 0; i < r.length; i++) r[i] = i == dim ? size : s[j++];
        Shapes.numel(r);
        int outer = prod(s, 0, dim), inner = prod(s, dim, s.length);
        return make(x, r, (be, out) -> {
            if (out.numel() == 0) return;
            try (Tensor ones = ones(x, size)) {
                DeviceBuffer X = x.buffer(), O = ones.buffer(), Y = out.buffer();
                if (inner == 1)
                    be.gemm(false, false, outer, size, 1, 1f, X, 0, 1, O, 0, size, 0f, Y, 0, size, 1, 0, 0, 0);
                else
                    be.gemm(false, false, size, inner, 1, 1f, O, 0, 1, X, 0, inner, 0f, Y, 0, inner,
                            outer, 0, inner, (long) size * inner);
            }
        });
    }

    /**
     * Swaps dimensions d0 &lt; d1: the input as (A, p, M, q, C) becomes (A, q, M, p, C), moved as
     * (rows x C) blocks by copy2d, looping over the smaller of p and q (A * M * min(p, q) copies).
     */
    static Tensor transpose(Tensor x, int d0, int d1) {
        int[] s = x.shape();
        checkDim(x, d0, s.length, "transpose");
        checkDim(x, d1, s.length, "transpose");
        if (d0 == d1) return x.copy();
        int lo = Math.min(d0, d1), hi = Math.max(d0, d1);
        int[] r = s.clone();
        r[lo] = s[hi];
        r[hi] = s[lo];
        int a = prod(s, 0, lo), p = s[lo], m = prod(s, lo + 1, hi), q = s[hi], c = prod(s, hi + 1, s.length);
        return make(x, r, (be, out) -> {
            if (out.numel() == 0) return;
            DeviceBuffer X = x.buffer(), Y = out.buffer();
            // element (ia, i, im, j, ic) of x sits at (((ia*p + i)*m + im)*q + j)*c + ic;
            // in the output at (((ia*q + j)*m + im)*p + i)*c + ic
            long xBlock = (long) p * m * q * c;
            for (int ia = 0; ia < a; ia++)
                for (int im = 0; im < m; im++) {
                    long base = ia * xBlock;
                    if (p <= q) {
                        // for each i: rows j (stride c in x, stride m*p*c in the output)
                        for (int i = 0; i < p; i++)
                            be.copy2d(q, c, X, base + ((long) i * m + im) * q * c, c,
                                    Y, base + ((long) im * p + i) * c, Math.toIntExact((long) m * p * c));
                    } else {
                        // for each j: rows i (stride m*q*c in x, stride c in the output)
                        for (int j = 0; j < q; j++)
                            be.copy2d(p, c, X, base + ((long) im * q + j) * c, Math.toIntExact((long) m * q * c),
                                    Y, base + ((long) j * m + im) * p * c, c);
                    }
                }
        });
    }

    /**
     * Sum of every element in double: column sums of the elements as (r x c) with c about
     * sqrt(n) (one op, c parallel sums), the c partial sums and the n - r*c left over added on
     * the host.
     */
    static double sumAll(Tensor x) {
        Backend be = x.backend();
        long n = x.numel();
        if (n == 0) return 0;
        int c = (int) Math.min(n, Math.max(1, (long) Math.ceil(Math.sqrt(n))));
        int r = (int) (n / c), rest = (int) (n - (long) r * c);
        float[] host = new float[c + rest];
        try (Tensor part = Tensor.zeros(x.device(), c)) {
            be.sumRows(r, c, x.buffer(), 0, c, 0f, part.buffer(), 0);
            be.download(part.buffer(), 0, host, 0, c);
        }
        if (rest > 0) be.download(x.buffer(), (long) r * c, host, c, rest);
        double sum = 0;
        for (float v : host) sum += v;
        return sum;
    }
}
