package dev.rnn4j.backend;

/**
 * The kernels of a backend: one method per {@link Op} type, which {@link Op#runOn} calls. A
 * backend implements the ones it has; the others throw {@link UnsupportedOperationException}
 * naming the backend and the op (and the backend says so in {@link Backend#supports}). Each
 * op record documents what its method computes; the reference backend's method is the
 * readable specification.
 */
public interface Kernels {
    /** The backend's short name, for messages. */
    String name();

    /** The exception an op this backend does not implement throws. */
    default UnsupportedOperationException unsupported(Op<?> op) {
        return new UnsupportedOperationException("backend " + name() + " does not implement " + op.opName());
    }

    /** Executes {@link Op.Upload}. */
    default void upload(Op.Upload op) { throw unsupported(op); }

    /** Executes {@link Op.Download}. */
    default void download(Op.Download op) { throw unsupported(op); }

    /** Executes {@link Op.Copy}. */
    default void copy(Op.Copy op) { throw unsupported(op); }

    /** Executes {@link Op.Copy2d}. */
    default void copy2d(Op.Copy2d op) { throw unsupported(op); }

    /** Executes {@link Op.Fill}. */
    default void fill(Op.Fill op) { throw unsupported(op); }

    /** Executes {@link Op.Gemm}. */
    default void gemm(Op.Gemm op) { throw unsupported(op); }

    /** Executes {@link Op.Axpy}. */
    default void axpy(Op.Axpy op) { throw unsupported(op); }

    /** Executes {@link Op.Scale}. */
    default void scale(Op.Scale op) { throw unsupported(op); }

    /** Executes {@link Op.Mul}. */
    default void mul(Op.Mul op) { throw unsupported(op); }

    /** Executes {@link Op.MulRows}. */
    default void mulRows(Op.MulRows op) { throw unsupported(op); }

    /** Executes {@link Op.AddRowVector}. */
    default void addRowVector(Op.AddRowVector op) { throw unsupported(op); }

    /** Executes {@link Op.SumRows}. */
    default void sumRows(Op.SumRows op) { throw unsupported(op); }

    /** Executes {@link Op.SumSquares}. */
    default double sumSquares(Op.SumSquares op) { throw unsupported(op); }

    /** Executes {@link Op.AdamStep}. */
    default void adamStep(Op.AdamStep op) { throw unsupported(op); }

    /** Executes {@link Op.DropoutMask}. */
    default void dropoutMask(Op.DropoutMask op) { throw unsupported(op); }

    /** Executes {@link Op.RnnPointwiseForward}. */
    default void rnnPointwiseForward(Op.RnnPointwiseForward op) { throw unsupported(op); }

    /** Executes {@link Op.RnnPointwiseBackward}. */
    default void rnnPointwiseBackward(Op.RnnPointwiseBackward op) { throw unsupported(op); }

    /** Executes {@link Op.LstmPointwiseForward}. */
    default void lstmPointwiseForward(Op.LstmPointwiseForward op) { throw unsupported(op); }

    /** Executes {@link Op.LstmPointwiseBackward}. */
    default void lstmPointwiseBackward(Op.LstmPointwiseBackward op) { throw unsupported(op); }

    /** Executes {@link Op.GruPointwiseForward}. */
    default void gruPointwiseForward(Op.GruPointwiseForward op) { throw unsupported(op); }

    /** Executes {@link Op.GruPointwiseBackward}. */
    default void gruPointwiseBackward(Op.GruPointwiseBackward op) { throw unsupported(op); }

    /** Executes {@link Op.RecurrentForward} (optional: see {@link Backend#OPTIONAL_OPS}). */
    default void recurrentForward(Op.RecurrentForward op) { throw unsupported(op); }

    /** Executes {@link Op.SruForward}. */
    default void sruForward(Op.SruForward op) { throw unsupported(op); }

    /** Executes {@link Op.SruBackward}. */
    default void sruBackward(Op.SruBackward op) { throw unsupported(op); }

    /** Executes {@link Op.LayerNormForward}. */
    default void layerNormForward(Op.LayerNormForward op) { throw unsupported(op); }

    /** Executes {@link Op.LayerNormBackward}. */
    default void layerNormBackward(Op.LayerNormBackward op) { throw unsupported(op); }

    /** Executes {@link Op.EmbeddingForward}. */
    default void embeddingForward(Op.EmbeddingForward op) { throw unsupported(op); }

    /** Executes {@link Op.EmbeddingBackward}. */
    default void embeddingBackward(Op.EmbeddingBackward op) { throw unsupported(op); }

    /** Executes {@link Op.LogSoftmaxNll}. */
    default double logSoftmaxNll(Op.LogSoftmaxNll op) { throw unsupported(op); }
}
