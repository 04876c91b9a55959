// Thrown when restored state was written by another model of the same shape (other weights).
package dev.rnn4j.flink;

/**
 * Restored state was written by a model whose fingerprint ({@link StreamingModel#fingerprint()})
 * differs from the loaded model's, though the state's layout fits. The message names both
 * fingerprints and where each model came from. Non-recoverable like every
 * {@link StateSchemaException}; when the change is intended (a new version of the model), say so
 * with {@link RecurrentInference#acceptModelChange()}.
 */
public class ModelChangedException extends StateSchemaException {
    /** @param message both fingerprints and model sources */
    public ModelChangedException(String message) { super(message); }
}
