package dev.rnn4j.io;

import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.StateDictException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Saves and loads a module's parameters as a safetensors file, under their PyTorch
 * {@code state_dict} names, so files move both ways between rnn4j and PyTorch.
 */
public final class StateDicts {
    private StateDicts() {}

    /** Saves {@link Module#stateDict()} as F32 safetensors (atomically), without metadata. */
    public static void save(Module module, Path path) throws IOException {
        save(module, path, Map.of());
    }

    /** Saves {@link Module#stateDict()} as F32 safetensors (atomically), with string metadata (may be empty). */
    public static void save(Module module, Path path, Map<String, String> metadata) throws IOException {
        if (module == null) throw new NullPointerException("module is null");
        SafeTensors.write(path, module.stateDict(), metadata);
    }

    /**
     * Loads parameters from a safetensors file, strictly: the file must hold exactly the module's
     * parameters with their shapes, otherwise nothing changes and a {@link StateDictException}
     * (naming the module and the file) lists every missing, unexpected and mis-shaped key.
     * F16 and BF16 tensors are widened to float32. Returns the file's metadata.
     *
     * @throws SafeTensorsFormatException if the file is not valid safetensors
     */
    public static Map<String, String> load(Module module, Path path) throws IOException {
        if (module == null) throw new NullPointerException("module is null");
        SafeTensors.Contents c = SafeTensors.read(path);
        try {
            module.loadStateDict(c.tensors());
        } catch (StateDictException e) {
            StateDictException named = new StateDictException(module + " from " + path, e.missing(), e.unexpected(), e.mismatched());
            named.initCause(e);
            throw named;
        }
        return c.metadata();
    }
}
