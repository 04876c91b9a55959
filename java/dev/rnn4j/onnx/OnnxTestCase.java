package dev.rnn4j.onnx;

import dev.rnn4j.Device;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A case in the ONNX backend-test layout: {@code CASE/model.onnx} and one or more
 * {@code CASE/test_data_set_N/} directories of {@code input_K.pb} and {@code output_K.pb}
 * (serialized TensorProtos, inputs in the graph's input order, outputs in its output order).
 * {@link #run} runs every data set and compares each output with
 * |got - expected| &lt;= {@link #ATOL} + {@link #RTOL} |expected| (integers exactly).
 */
public final class OnnxTestCase {
    /** The absolute tolerance. */
    public static final double ATOL = 1e-5;
    /** The relative tolerance. */
    public static final double RTOL = 1e-3;

    /** One data set: its directory, inputs and expected outputs, in the graph's orders. */
    public record DataSet(Path dir, List<OnnxTensor> inputs, List<OnnxTensor> outputs) {
        /** Copies the lists. */
        public DataSet {
            inputs = List.copyOf(inputs);
            outputs = List.copyOf(outputs);
        }
    }

    /**
     * The outcome of a case on one device.
     *
     * @param name    the case (its directory's name)
     * @param passed  whether every output of every data set matched
     * @param message what failed, or for a pass the worst output's error relative to its tolerance
     */
    public record Result(String name, boolean passed, String message) {
        /** One line: {@code PASS name  (...)} or {@code FAIL name  message}. */
        public String line() { return (passed ? "PASS " : "FAIL ") + name + "  " + message; }
    }

    private final Path dir;
    private final List<DataSet> dataSets;

    private OnnxTestCase(Path dir, List<DataSet> dataSets) {
        this.dir = dir;
        this.dataSets = dataSets;
    }

    /** Whether {@code dir} looks like a case (holds a model.onnx). */
    public static boolean isCase(Path dir) { return Files.isRegularFile(dir.resolve("model.onnx")); }

    /**
     * Reads a case's data sets (the model itself is read by {@link #run}, so that a model rnn4j
     * cannot run is a failed case, not an unreadable one).
     *
     * @throws OnnxFormatException for a directory without model.onnx or data sets, or an unreadable tensor file
     */
    public static OnnxTestCase load(Path dir) throws OnnxFormatException {
        if (!isCase(dir)) throw new OnnxFormatException(dir + ": not a test case (no model.onnx)");
        List<Path> sets;
        try (Stream<Path> s = Files.list(dir)) {
            sets = s.filter(p -> Files.isDirectory(p) && p.getFileName().toString().startsWith("test_data_set_"))
                    .sorted(java.util.Comparator.comparingInt(OnnxTestCase::number)).toList();
        } catch (IOException e) {
            throw new OnnxFormatException(dir + ": cannot list: " + e.getMessage(), e);
        }
        if (sets.isEmpty()) throw new OnnxFormatException(dir + ": no test_data_set_N directory");
        List<DataSet> ds = new ArrayList<>();
        for (Path set : sets) ds.add(new DataSet(set, numbered(set, "input_"), numbered(set, "output_")));
        return new OnnxTestCase(dir, List.copyOf(ds));
    }

    private static int number(Path p) {
        String s = p.getFileName().toString().replaceAll("\\D+", "");
        return s.isEmpty() ? 0 : Integer.parseInt(s);
    }

    /** prefix0.pb, prefix1.pb, ... up to the first missing one. */
    private static List<OnnxTensor> numbered(Path set, String prefix) throws OnnxFormatException {
        List<OnnxTensor> r = new ArrayList<>();
        for (int k = 0; Files.exists(set.resolve(prefix + k + ".pb")); k++) r.add(OnnxTensor.read(set.resolve(prefix + k + ".pb")));
        return r;
    }

    /** The case's name: its directory's name. */
    public String name() { return dir.getFileName().toString(); }

    /** The case's directory. */
    public Path dir() { return dir; }

    /** Its data sets in number order. */
    public List<DataSet> dataSets() { return dataSets; }

    /** Loads the model and runs every data set on {@code device}; any error is a failed result with its message. */
    public Result run(Device device) {
        OnnxModel model;
        try {
            model = OnnxModel.load(dir.resolve("model.onnx"));
        } catch (OnnxFormatException e) {
            return new Result(name(), false, e.getMessage());
        }
        double worst = -1;
        String worstWhere = "";
        for (DataSet d : dataSets) {
            String set = d.dir().getFileName().toString();
            Map<String, OnnxTensor> got;
            try {
                got = model.run(device, d.inputs());
            } catch (RuntimeException e) {
                return new Result(name(), false, set + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            }
            if (got.size() != d.outputs().size())
                return new Result(name(), false, set + ": the model gives " + got.size() + " outputs, the case expects " + d.outputs().size());
            int k = 0;
            for (Map.Entry<String, OnnxTensor> e : got.entrySet()) {
                OnnxTensor want = d.outputs().get(k++), have = e.getValue();
                String where = set + " output '" + e.getKey() + "'";
                if (want.dataType() != have.dataType())
                    return new Result(name(), false, where + " is " + have.dataType() + ", expected " + want.dataType());
                if (!Arrays.equals(want.shape(), have.shape()))
                    return new Result(name(), false, where + " has shape " + Arrays.toString(have.shape()) + ", expected " + Arrays.toString(want.shape()));
                for (int i = 0; i < want.numel(); i++) {
                    double w = want.dataType() == OnnxTensor.DataType.FLOAT ? want.floats()[i] : want.longs()[i];
                    double h = have.dataType() == OnnxTensor.DataType.FLOAT ? have.floats()[i] : have.longs()[i];
                    double tol = want.dataType() == OnnxTensor.DataType.FLOAT ? ATOL + RTOL * Math.abs(w) : 0;
                    double err = Math.abs(h - w);
                    if (!(err <= tol))
                        return new Result(name(), false, String.format(Locale.ROOT, "%s[%d] = %s, expected %s (tolerance %.3g)", where, i, h, w, tol));
                    double ratio = tol == 0 ? 0 : err / tol;
                    if (ratio > worst) {
                        worst = ratio;
                        worstWhere = where;
                    }
                }
            }
        }
        return new Result(name(), true, String.format(Locale.ROOT, "(%d data set%s; worst: %s at %.3f of tolerance)",
                dataSets.size(), dataSets.size() == 1 ? "" : "s", worstWhere.isEmpty() ? "-" : worstWhere, Math.max(worst, 0)));
    }
}
