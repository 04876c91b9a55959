package dev.rnn4j.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.rnn4j.HostTensor;
import dev.rnn4j.onnx.proto.OnnxProto.TensorProto;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * An ONNX tensor on the Java heap: an element type, a shape and the values in row-major order,
 * as a graph's inputs and outputs are passed. {@link DataType#FLOAT} values are a {@code float[]};
 * the integer and boolean types are held as a {@code long[]} (a boolean as 0 or 1). Immutable
 * by convention: the arrays are not copied, so do not change them after handing them over.
 */
public final class OnnxTensor {

    /** The element types rnn4j's ONNX import runs, with their {@code TensorProto.DataType} codes. */
    public enum DataType {
        /** float32. */
        FLOAT(1),
        /** int32, held as long. */
        INT32(6),
        /** int64. */
        INT64(7),
        /** bool, held as 0 or 1. */
        BOOL(9);

        /** The {@code TensorProto.DataType} code. */
        public final int code;

        DataType(int code) { this.code = code; }

        /** The type of an ONNX code, or null for one rnn4j does not run (double, float16, string, ...). */
        public static DataType ofCode(int code) {
            for (DataType t : values()) if (t.code == code) return t;
            return null;
        }
    }

    private final DataType type;
    private final int[] shape;
    private final float[] floats;
    private final long[] longs;

    private OnnxTensor(DataType type, int[] shape, float[] floats, long[] longs) {
        this.type = type;
        this.shape = shape.clone();
        long n = numel(this.shape);
        int len = floats != null ? floats.length : longs.length;
        if (n != len)
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + n + " values, got " + len);
        this.floats = floats;
        this.longs = longs;
    }

    /** A float32 tensor of the given shape (an empty shape is a scalar). */
    public static OnnxTensor ofFloats(float[] data, int... shape) {
        return new OnnxTensor(DataType.FLOAT, shape, java.util.Objects.requireNonNull(data, "data"), null);
    }

    /** An int64 tensor of the given shape. */
    public static OnnxTensor ofLongs(long[] data, int... shape) {
        return ofLongs(DataType.INT64, data, shape);
    }

    /** An integer or boolean tensor of {@code type} (not FLOAT) of the given shape. */
    public static OnnxTensor ofLongs(DataType type, long[] data, int... shape) {
        if (type == DataType.FLOAT) throw new IllegalArgumentException("ofLongs: FLOAT takes ofFloats");
        return new OnnxTensor(type, shape, null, java.util.Objects.requireNonNull(data, "data"));
    }

    /** A float32 tensor with a host tensor's shape and values. */
    public static OnnxTensor of(HostTensor t) { return ofFloats(t.data(), t.shape()); }

    /** The element type. */
    public DataType dataType() { return type; }

    /** The shape (a copy); empty for a scalar. */
    public int[] shape() { return shape.clone(); }

    /** The number of dimensions. */
    public int rank() { return shape.length; }

    /** The number of elements. */
    public int numel() { return floats != null ? floats.length : longs.length; }

    /** The values of a FLOAT tensor (not a copy). */
    public float[] floats() {
        if (floats == null) throw new IllegalStateException("a " + type + " tensor has no float values");
        return floats;
    }

    /** The values of an integer or boolean tensor (not a copy). */
    public long[] longs() {
        if (longs == null) throw new IllegalStateException("a FLOAT tensor has no integer values");
        return longs;
    }

    /** This FLOAT tensor as a {@link HostTensor} (a scalar becomes shape [1]). */
    public HostTensor toHost() {
        return new HostTensor(shape.length == 0 ? new int[]{1} : shape, floats());
    }

    @Override
    public String toString() { return type + Arrays.toString(shape); }

    static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n *= d;
            if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " is too large");
        }
        return n;
    }

    // ------------------------------------------------------------------ TensorProto

    /**
     * Reads a serialized {@code TensorProto} file, as the ONNX backend tests store inputs and
     * outputs ({@code input_0.pb}).
     *
     * @throws OnnxFormatException for a missing, unreadable or malformed file, or an element
     *                             type rnn4j does not run
     */
    public static OnnxTensor read(Path file) throws OnnxFormatException {
        byte[] bytes = bytes(file);
        TensorProto p;
        try {
            p = TensorProto.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new OnnxFormatException(file + ": not a TensorProto (truncated or another format): " + e.getMessage(), e);
        }
        return fromProto(p, file.toString());
    }

    /** The file's bytes; a missing or unreadable file is an {@link OnnxFormatException} naming it. */
    static byte[] bytes(Path file) throws OnnxFormatException {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new OnnxFormatException(file + ": no such file");
        } catch (IOException e) {
            throw new OnnxFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** The tensor a TensorProto holds; {@code where} names it in messages. */
    static OnnxTensor fromProto(TensorProto p, String where) throws OnnxFormatException {
        if (p.getDataLocation() == TensorProto.DataLocation.EXTERNAL || p.getExternalDataCount() > 0)
            throw new OnnxFormatException(where + ": tensor '" + p.getName() + "' keeps its data in an external file, which rnn4j does not read");
        if (p.hasSegment()) throw new OnnxFormatException(where + ": segmented tensors are not supported");
        DataType type = DataType.ofCode(p.getDataType());
        if (type == null)
            throw new OnnxFormatException(where + ": tensor '" + p.getName() + "' has element type "
                    + typeName(p.getDataType()) + "; rnn4j runs FLOAT, INT64, INT32 and BOOL");
        int[] shape = new int[p.getDimsCount()];
        for (int i = 0; i < shape.length; i++) {
            long d = p.getDims(i);
            if (d < 0 || d > Integer.MAX_VALUE)
                throw new OnnxFormatException(where + ": tensor '" + p.getName() + "' has dimension " + d);
            shape[i] = (int) d;
        }
        long n;
        try {
            n = numel(shape);
        } catch (IllegalArgumentException e) {
            throw new OnnxFormatException(where + ": tensor '" + p.getName() + "': " + e.getMessage());
        }
        int count = (int) n;
        ByteString raw = p.hasRawData() ? p.getRawData() : null;
        int width = type == DataType.FLOAT || type == DataType.INT32 ? 4 : type == DataType.INT64 ? 8 : 1;
        if (raw != null) {
            if (raw.size() != (long) count * width)
                throw new OnnxFormatException(where + ": tensor '" + p.getName() + "' of shape " + Arrays.toString(shape)
                        + " needs " + (long) count * width + " bytes of raw data, has " + raw.size());
            ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            if (type == DataType.FLOAT) {
                float[] f = new float[count];
                b.asFloatBuffer().get(f);
                return ofFloats(f, shape);
            }
            long[] l = new long[count];
            for (int i = 0; i < count; i++)
                l[i] = switch (type) {
                    case INT64 -> b.getLong(i * 8);
                    case INT32 -> b.getInt(i * 4);
                    default -> b.get(i) != 0 ? 1 : 0;
                };
            return ofLongs(type, l, shape);
        }
        int have = switch (type) {
            case FLOAT -> p.getFloatDataCount();
            case INT64 -> p.getInt64DataCount();
            default -> p.getInt32DataCount();
        };
        if (have != count)
            throw new OnnxFormatException(where + ": tensor '" + p.getName() + "' of shape " + Arrays.toString(shape)
                    + " needs " + count + " values, has " + have);
        if (type == DataType.FLOAT) {
            float[] f = new float[count];
            for (int i = 0; i < count; i++) f[i] = p.getFloatData(i);
            return ofFloats(f, shape);
        }
        long[] l = new long[count];
        for (int i = 0; i < count; i++)
            l[i] = type == DataType.INT64 ? p.getInt64Data(i) : type == DataType.BOOL ? (p.getInt32Data(i) != 0 ? 1 : 0) : p.getInt32Data(i);
        return ofLongs(type, l, shape);
    }

    /** This tensor as a TensorProto (raw little-endian data), named {@code name}. */
    TensorProto toProto(String name) {
        TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(type.code);
        for (int d : shape) b.addDims(d);
        int width = type == DataType.FLOAT || type == DataType.INT32 ? 4 : type == DataType.INT64 ? 8 : 1;
        ByteBuffer buf = ByteBuffer.allocate(numel() * width).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < numel(); i++) {
            switch (type) {
                case FLOAT -> buf.putFloat(floats[i]);
                case INT64 -> buf.putLong(longs[i]);
                case INT32 -> buf.putInt((int) longs[i]);
                case BOOL -> buf.put((byte) (longs[i] != 0 ? 1 : 0));
            }
        }
        return b.setRawData(ByteString.copyFrom(buf.array())).build();
    }

    /** Writes this tensor as a serialized TensorProto named {@code name} (the backend tests' .pb files). */
    public void write(Path file, String name) throws IOException {
        Files.write(file, toProto(name).toByteArray());
    }

    static String typeName(int code) {
        TensorProto.DataType t = TensorProto.DataType.forNumber(code);
        return t == null ? "code " + code : t.name();
    }
}
