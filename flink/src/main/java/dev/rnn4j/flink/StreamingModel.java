// A trained recurrent model as a stream processor runs it: one time step for many independent
// keys at once (their states gathered into a batch, stepped, scattered back), on any rnn4j device.
package dev.rnn4j.flink;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.io.SafeTensors;
import dev.rnn4j.io.StateDicts;
import dev.rnn4j.nn.Embedding;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.Linear;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.RNN;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * Embedding (optional) -> recurrent stack -> Linear (optional), in eval mode, with PyTorch-style
 * state dict names under the children {@code embedding.}, {@code rnn.} and {@code output.}
 * (e.g. {@code rnn.weight_ih_l0}, {@code output.weight}).
 *
 * <p>{@link #step} advances n keys by one event each as one batched forward of one time step;
 * {@link #sequence} runs one key's whole sequence at once (the offline run). Per key and step the
 * two compute the same thing; on the reference backend the results are bitwise equal (tested).
 * Not thread-safe: one instance per task.
 */
public final class StreamingModel extends Module {
    private final ModelSpec spec;
    private final Embedding embedding;
    private final Module rnn;
    private final Linear output;

    private StreamingModel(Device device, ModelSpec spec, long seed) {
        super(device);
        this.spec = spec;
        boolean ok = false;
        Embedding e = null;
        Module r = null;
        Linear o = null;
        try {
            if (spec.tokens()) {
                e = registerModule("embedding", new Embedding(device, spec.vocabSize(), spec.inputSize()));
                e.resetParameters(seed);
            }
            r = registerModule("rnn", buildRnn(device, spec, seed + 1));
            if (spec.outputSize() > 0) {
                o = registerModule("output", new Linear(device, spec.rnnOutputWidth(), spec.outputSize(), true));
                o.resetParameters(seed + 2);
            }
            ok = true;
        } finally {
            if (!ok) {
                if (e != null) e.close();
                if (r != null) r.close();
                if (o != null) o.close();
            }
        }
        this.embedding = e;
        this.rnn = r;
        this.output = o;
        eval();
    }

    private static Module buildRnn(Device device, ModelSpec s, long seed) {
        int in = s.inputSize(), h = s.hiddenSize(), l = s.numLayers();
        switch (s.kind()) {
            case SRU -> {
                SRU m = SRU.builder(in, h).numLayers(l).build(device);
                m.initWeight(seed);
                return m;
            }
            case GRU -> { return GRU.builder(in, h).numLayers(l).bias(s.bias()).seed(seed).build(device); }
            case LSTM -> { return LSTM.builder(in, h).numLayers(l).bias(s.bias()).projSize(s.projSize()).seed(seed).build(device); }
            case RNN_TANH -> { return RNN.builder(in, h).numLayers(l).bias(s.bias()).nonlinearity("tanh").seed(seed).build(device); }
            case RNN_RELU -> { return RNN.builder(in, h).numLayers(l).bias(s.bias()).nonlinearity("relu").seed(seed).build(device); }
        }
        throw new AssertionError(s.kind());
    }

    /** A model with seeded random parameters (PyTorch's initialisation), e.g. to train or to test. */
    public static StreamingModel create(Device device, ModelSpec spec, long seed) {
        return new StreamingModel(device, spec, seed);
    }

    /** Loads a state dict strictly (every name, every shape) from a safetensors file. */
    public static StreamingModel load(Device device, ModelSpec spec, Path file) throws IOException {
        StreamingModel m = new StreamingModel(device, spec, 0);
        try {
            StateDicts.load(m, file);
            return m;
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Loads a file written by {@link #save}, whose metadata names the spec. */
    public static StreamingModel load(Device device, Path file) throws IOException {
        return load(device, ModelSpec.fromMetadata(SafeTensors.readHeader(file).metadata()), file);
    }

    /** Loads a safetensors state dict from a class path resource (copied to a temporary file, then read as a file). */
    public static StreamingModel loadResource(Device device, ModelSpec spec, String resource, ClassLoader loader) throws IOException {
        String name = resource.startsWith("/") ? resource.substring(1) : resource;
        Path tmp = Files.createTempFile("rnn4j-model", ".safetensors");
        try (InputStream in = loader.getResourceAsStream(name)) {
            if (in == null) throw new IOException("no class path resource " + resource);
            Files.copy(in, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            ModelSpec s = spec != null ? spec : ModelSpec.fromMetadata(SafeTensors.readHeader(tmp).metadata());
            return load(device, s, tmp);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Saves the state dict with the spec in the file's metadata. */
    public void save(Path file) throws IOException {
        StateDicts.save(this, file, spec.toMetadata());
    }

    public ModelSpec spec() { return spec; }

    /**
     * A fingerprint of this model: {@code sha256:} and the hex SHA-256 of its spec
     * ({@link ModelSpec#toMetadata()}, which fixes the state's layout) and of every state dict
     * entry in order (name, shape, the bits of every float). Models with the same weights and
     * layout have the same fingerprint on every backend; other weights of the same shape give
     * another. The operator keeps it with its state to tell a restore with another model apart
     * (see {@link RecurrentInference#acceptModelChange()}). Reads every parameter back to the host.
     */
    public String fingerprint() {
        checkOpen();
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);   // every JDK must have it
        }
        ByteBuffer b = ByteBuffer.allocate(8192).order(ByteOrder.LITTLE_ENDIAN);
        for (Map.Entry<String, String> m : spec.toMetadata().entrySet()) {
            md.update((m.getKey() + "=" + m.getValue() + "\n").getBytes(StandardCharsets.UTF_8));
        }
        for (Map.Entry<String, HostTensor> e : stateDict().entrySet()) {
            md.update((e.getKey() + java.util.Arrays.toString(e.getValue().shape()) + "\n").getBytes(StandardCharsets.UTF_8));
            for (float f : e.getValue().data()) {
                if (b.remaining() < 4) {
                    md.update(b.flip());
                    b.clear();
                }
                b.putInt(Float.floatToRawIntBits(f));
            }
            md.update(b.flip());
            b.clear();
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    /** The recurrent stack (an RNN, LSTM, GRU or SRU of rnn4j). */
    public Module rnn() { return rnn; }

    public Embedding embedding() { return embedding; }

    public Linear output() { return output; }

    /** A fresh state for a key that has seen no event: all zeros, of {@link ModelSpec#stateFloats()} floats. */
    public float[] initialState() { return new float[spec.stateFloats()]; }

    /**
     * One event for each of n keys as one batched step. {@code states[i]} is key i's state
     * ({@link ModelSpec} layout), updated in place; the result's row i is key i's output.
     *
     * @param states  n >= 1 states
     * @param vectors n float vectors of width inputSize (when the model takes vectors), else null
     * @param tokens  n token ids (when the model has an embedding), else null
     */
    public float[][] step(float[][] states, float[][] vectors, int[] tokens) {
        checkOpen();
        int n = states.length;
        if (n < 1) throw new IllegalArgumentException("step needs at least one key");
        int sf = spec.stateFloats();
        for (float[] s : states)
            if (s.length != sf) throw new IllegalArgumentException("state of " + s.length + " floats, the model's layout is " + spec.stateLayout());
        int in = spec.inputSize();
        float[] flatIn = null;
        if (spec.tokens()) {
            if (tokens == null || tokens.length != n) throw new IllegalArgumentException("expected " + n + " token ids");
        } else {
            if (vectors == null || vectors.length != n) throw new IllegalArgumentException("expected " + n + " vectors");
            flatIn = new float[n * in];
            for (int i = 0; i < n; i++) {
                if (vectors[i].length != in) throw new IllegalArgumentException("vector " + i + " has width " + vectors[i].length + ", expected " + in);
                System.arraycopy(vectors[i], 0, flatIn, i * in, in);
            }
        }
        int L = spec.numLayers(), hW = spec.hWidth(), cW = spec.cWidth(), fpl = spec.floatsPerLayer();
        float[] h0 = hW > 0 ? new float[L * n * hW] : null;
        float[] c0 = cW > 0 ? new float[L * n * cW] : null;
        for (int l = 0; l < L; l++)
            for (int i = 0; i < n; i++) {
                if (h0 != null) System.arraycopy(states[i], l * fpl, h0, (l * n + i) * hW, hW);
                if (c0 != null) System.arraycopy(states[i], l * fpl + hW, c0, (l * n + i) * cW, cW);
            }
        float[] out;
        float[] hN = null, cN = null;
        try (Tensor x = spec.tokens() ? embedding.forward(tokens, 1, n) : device.tensor(flatIn, 1, n, in);
             Tensor h = h0 == null ? null : device.tensor(h0, L, n, hW);
             Tensor c = c0 == null ? null : device.tensor(c0, L, n, cW);
             RecurrentOutput r = forwardRnn(x, h, c)) {
            if (r.hN() != null) hN = r.hN().toArray();
            if (r.cN() != null) cN = r.cN().toArray();
            if (output != null) {
                try (Tensor y = output.forward(r.output())) { out = y.toArray(); }
            } else {
                out = r.output().toArray();
            }
        }
        int ow = spec.outputWidth();
        float[][] result = new float[n][];
        for (int i = 0; i < n; i++) {
            for (int l = 0; l < L; l++) {
                if (hN != null) System.arraycopy(hN, (l * n + i) * hW, states[i], l * fpl, hW);
                if (cN != null) System.arraycopy(cN, (l * n + i) * cW, states[i], l * fpl + hW, cW);
            }
            result[i] = java.util.Arrays.copyOfRange(out, i * ow, (i + 1) * ow);
            if (spec.keepPreviousOutput()) System.arraycopy(result[i], 0, states[i], L * fpl, ow);
        }
        return result;
    }

    /** The key's previous output kept in its state (zeros before its first event); needs keepPreviousOutput. */
    public float[] previousOutput(float[] state) {
        if (!spec.keepPreviousOutput()) throw new IllegalStateException("the spec does not keep the previous output");
        int from = spec.numLayers() * spec.floatsPerLayer();
        return java.util.Arrays.copyOfRange(state, from, from + spec.outputWidth());
    }

    /**
     * The offline run: one key's whole sequence (T events) through the model at once, from the
     * zero state, as a (T, 1, width) input. Returns the T step outputs.
     */
    public float[][] sequence(float[][] vectors, int[] tokens) {
        checkOpen();
        int t = spec.tokens() ? tokens.length : vectors.length;
        if (t < 1) throw new IllegalArgumentException("empty sequence");
        int in = spec.inputSize();
        float[] flat = null;
        if (!spec.tokens()) {
            flat = new float[t * in];
            for (int i = 0; i < t; i++) System.arraycopy(vectors[i], 0, flat, i * in, in);
        }
        float[] out;
        try (Tensor x = spec.tokens() ? embedding.forward(tokens, t, 1) : device.tensor(flat, t, 1, in);
             RecurrentOutput r = forwardRnn(x, null, null)) {
            if (output != null) {
                try (Tensor y = output.forward(r.output())) { out = y.toArray(); }
            } else {
                out = r.output().toArray();
            }
        }
        int ow = spec.outputWidth();
        float[][] result = new float[t][];
        for (int i = 0; i < t; i++) result[i] = java.util.Arrays.copyOfRange(out, i * ow, (i + 1) * ow);
        return result;
    }

    private RecurrentOutput forwardRnn(Tensor x, Tensor h0, Tensor c0) {
        return switch (rnn) {
            case SRU s -> s.forward(x, c0);
            case LSTM m -> m.forward(x, h0, c0);
            case GRU g -> g.forward(x, h0);
            case RNN e -> e.forward(x, h0);
            default -> throw new AssertionError(rnn);
        };
    }

    @Override
    public String toString() {
        return "StreamingModel(" + (embedding != null ? embedding + ", " : "") + rnn + (output != null ? ", " + output : "") + ")";
    }
}
