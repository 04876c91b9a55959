// The architecture of a streaming model (which recurrent layer, its sizes, the optional embedding
// and output layer) and the layout of the per-key state it needs; serializable so Flink can ship it.
package dev.rnn4j.flink;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a {@link StreamingModel} is made of: an optional {@code Embedding(vocabSize, inputSize)}
 * (token-id events) or float-vector events of width {@code inputSize}; a unidirectional stack of
 * {@code numLayers} recurrent layers of {@code hiddenSize}; an optional {@code Linear(out, outputSize)}.
 *
 * <p>Per-key state ({@link #stateFloats()} floats, in this order): for each layer l,
 * h_l ({@link #hWidth()} floats; not for SRU) then c_l ({@link #cWidth()} floats; LSTM and SRU
 * only); then, when {@code keepPreviousOutput}, the key's previous model output
 * ({@link #outputWidth()} floats, zeros before the first event).
 *
 * @param kind               the recurrent layer
 * @param inputSize          width of a float-vector event, or the embedding dimension
 * @param hiddenSize         hidden size of every layer
 * @param numLayers          stacked layers (>= 1)
 * @param projSize           LSTM only: projection size (0 = none)
 * @param bias               whether the recurrent layers have biases
 * @param vocabSize          > 0: events are token ids in [0, vocabSize) looked up in an embedding; 0: float vectors
 * @param outputSize         > 0: a Linear layer maps the last layer's output to this width; 0: none
 * @param keepPreviousOutput whether the state also keeps the key's previous output (for next-event scores)
 */
public record ModelSpec(Kind kind, int inputSize, int hiddenSize, int numLayers, int projSize, boolean bias,
                        int vocabSize, int outputSize, boolean keepPreviousOutput) implements Serializable {

    /** The recurrent layer of the stack; names as in PyTorch ({@code RNN_TANH} is nn.RNN's default). */
    public enum Kind { RNN_TANH, RNN_RELU, LSTM, GRU, SRU }

    /** Metadata keys under which {@link #toMetadata()} stores a spec in a safetensors file. */
    public static final String META_PREFIX = "rnn4j.flink.";

    public ModelSpec {
        if (kind == null) throw new NullPointerException("kind is null");
        if (inputSize < 1) throw new IllegalArgumentException("inputSize must be >= 1, got " + inputSize);
        if (hiddenSize < 1) throw new IllegalArgumentException("hiddenSize must be >= 1, got " + hiddenSize);
        if (numLayers < 1) throw new IllegalArgumentException("numLayers must be >= 1, got " + numLayers);
        if (projSize < 0 || (projSize > 0 && (kind != Kind.LSTM || projSize >= hiddenSize)))
            throw new IllegalArgumentException("projSize must be 0, or for LSTM in [1, hiddenSize), got " + projSize + " for " + kind);
        if (vocabSize < 0) throw new IllegalArgumentException("vocabSize must be >= 0, got " + vocabSize);
        if (outputSize < 0) throw new IllegalArgumentException("outputSize must be >= 0, got " + outputSize);
    }

    /** A spec with bias, no projection, no embedding, no output layer, no previous output. */
    public static ModelSpec of(Kind kind, int inputSize, int hiddenSize, int numLayers) {
        return new ModelSpec(kind, inputSize, hiddenSize, numLayers, 0, true, 0, 0, false);
    }

    public ModelSpec withEmbedding(int vocab) {
        return new ModelSpec(kind, inputSize, hiddenSize, numLayers, projSize, bias, vocab, outputSize, keepPreviousOutput);
    }

    public ModelSpec withOutput(int size) {
        return new ModelSpec(kind, inputSize, hiddenSize, numLayers, projSize, bias, vocabSize, size, keepPreviousOutput);
    }

    public ModelSpec withPreviousOutput(boolean keep) {
        return new ModelSpec(kind, inputSize, hiddenSize, numLayers, projSize, bias, vocabSize, outputSize, keep);
    }

    public ModelSpec withProjSize(int p) {
        return new ModelSpec(kind, inputSize, hiddenSize, numLayers, p, bias, vocabSize, outputSize, keepPreviousOutput);
    }

    public boolean tokens() { return vocabSize > 0; }

    /** Width of h per layer (the projection size for a projected LSTM); 0 for SRU, which keeps no h. */
    public int hWidth() { return kind == Kind.SRU ? 0 : projSize > 0 ? projSize : hiddenSize; }

    /** Width of c per layer: hiddenSize for LSTM and SRU, 0 otherwise. */
    public int cWidth() { return kind == Kind.LSTM || kind == Kind.SRU ? hiddenSize : 0; }

    /** Width of the recurrent stack's output at one step. */
    public int rnnOutputWidth() { return kind == Kind.SRU ? hiddenSize : hWidth(); }

    /** Width of one step's result: the output layer's, else the recurrent stack's. */
    public int outputWidth() { return outputSize > 0 ? outputSize : rnnOutputWidth(); }

    public int floatsPerLayer() { return hWidth() + cWidth(); }

    /** Floats of one key's state (see the class comment for the layout). */
    public int stateFloats() { return numLayers * floatsPerLayer() + (keepPreviousOutput ? outputWidth() : 0); }

    /**
     * Bytes of one key's serialized state: Flink writes a float[] as a 4-byte length and 4 bytes
     * per element (checkpoints, RocksDB values); the heap state backend holds the array itself
     * (16-byte object header, 4 bytes per element).
     */
    public long serializedStateBytes() { return 4L + 4L * stateFloats(); }

    /** A one-line description of the per-key state, used to detect a model of other sizes meeting old state. */
    public String stateLayout() {
        StringBuilder s = new StringBuilder();
        s.append(kind).append(" x").append(numLayers).append(" layers, per layer [");
        if (hWidth() > 0) s.append("h:").append(hWidth());
        if (cWidth() > 0) s.append(hWidth() > 0 ? " " : "").append("c:").append(cWidth());
        s.append(']');
        if (keepPreviousOutput) s.append(", previous output:").append(outputWidth());
        return s.append(" = ").append(stateFloats()).append(" floats per key").toString();
    }

    /** The spec as safetensors metadata (string to string), so a file can say what it holds. */
    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(META_PREFIX + "kind", kind.name());
        m.put(META_PREFIX + "input_size", Integer.toString(inputSize));
        m.put(META_PREFIX + "hidden_size", Integer.toString(hiddenSize));
        m.put(META_PREFIX + "num_layers", Integer.toString(numLayers));
        m.put(META_PREFIX + "proj_size", Integer.toString(projSize));
        m.put(META_PREFIX + "bias", Boolean.toString(bias));
        m.put(META_PREFIX + "vocab_size", Integer.toString(vocabSize));
        m.put(META_PREFIX + "output_size", Integer.toString(outputSize));
        m.put(META_PREFIX + "keep_previous_output", Boolean.toString(keepPreviousOutput));
        return m;
    }

    /** Reads a spec written by {@link #toMetadata()}; throws naming the first missing key. */
    public static ModelSpec fromMetadata(Map<String, String> m) {
        return new ModelSpec(Kind.valueOf(get(m, "kind")), Integer.parseInt(get(m, "input_size")),
                Integer.parseInt(get(m, "hidden_size")), Integer.parseInt(get(m, "num_layers")),
                Integer.parseInt(get(m, "proj_size")), Boolean.parseBoolean(get(m, "bias")),
                Integer.parseInt(get(m, "vocab_size")), Integer.parseInt(get(m, "output_size")),
                Boolean.parseBoolean(get(m, "keep_previous_output")));
    }

    private static String get(Map<String, String> m, String key) {
        String v = m.get(META_PREFIX + key);
        if (v == null) throw new IllegalArgumentException("safetensors metadata has no " + META_PREFIX + key + " (not written by StreamingModel.save?)");
        return v;
    }
}
