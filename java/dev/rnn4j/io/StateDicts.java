package dev.rnn4j.io;

import dev.rnn4j.HostTensor;
import dev.rnn4j.nn.LoadResult;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.StateDictException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Saves and loads a module's parameters as a safetensors file, under their PyTorch
 * {@code state_dict} names, so files move both ways between rnn4j and PyTorch.
 *
 * <p>Loading reads F32 as is, widens F16 and BF16 exactly, and narrows F64 (a
 * {@code model.double()} save) to the nearest float32 as PyTorch's {@code .float()} does, a value
 * beyond float32's range becoming an infinity (see {@link SafeTensors}). A prefix selects one
 * submodule's keys from a file saved from a larger model ({@code "encoder."} for
 * {@code encoder.weight_ih_l0} and its siblings): the keys under it are loaded with the prefix
 * removed, and the file's other keys are ignored. Names in exceptions and in a
 * {@link LoadResult} are the file's, prefix included.
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
     * (naming the module and the file) lists every missing, unexpected and mis-shaped key. If no
     * key matched but the file holds every key of the module under one prefix, the exception
     * says which, for {@link #load(Module, Path, String)}. Returns the file's metadata.
     *
     * @throws SafeTensorsFormatException if the file is not valid safetensors
     */
    public static Map<String, String> load(Module module, Path path) throws IOException {
        return load(module, path, "");
    }

    /**
     * Loads, strictly, the file's keys that start with {@code prefix}, with the prefix removed,
     * into {@code module}; the file's other keys are ignored. {@code prefix} is taken literally
     * and usually ends with a dot, as PyTorch's names do ({@code "encoder."}); the empty prefix
     * loads the whole file as {@link #load(Module, Path)}. The keys under the prefix must be
     * exactly the module's, with its shapes; otherwise nothing changes and a
     * {@link StateDictException} lists every problem by the file's names (prefix included).
     * Returns the file's metadata.
     *
     * @throws SafeTensorsFormatException if the file is not valid safetensors
     */
    public static Map<String, String> load(Module module, Path path, String prefix) throws IOException {
        if (module == null) throw new NullPointerException("module is null");
        if (prefix == null) throw new NullPointerException("prefix is null");
        SafeTensors.Contents c = SafeTensors.read(path);
        Map<String, HostTensor> under = under(c.tensors(), prefix);
        try {
            module.loadStateDict(under);
        } catch (StateDictException e) {
            throw named(module, path, prefix, e, under.size(), c.tensors());
        }
        return c.metadata();
    }

    /**
     * Loads parameters from a safetensors file non-strictly, as PyTorch's
     * {@code load_state_dict(strict=False)}: the module's keys the file holds are loaded, the
     * others keep their values, and the file's keys the module lacks are ignored; the result
     * lists both. A key with another shape is still an error: nothing changes and a
     * {@link StateDictException} lists every mismatch. The file's metadata is in
     * {@link SafeTensors#readHeader(Path)}.
     *
     * @throws SafeTensorsFormatException if the file is not valid safetensors
     */
    public static LoadResult loadNonStrict(Module module, Path path) throws IOException {
        return loadNonStrict(module, path, "");
    }

    /**
     * As {@link #loadNonStrict(Module, Path)} for the file's keys under {@code prefix} (see
     * {@link #load(Module, Path, String)}); the keys outside the prefix are ignored and not
     * reported. The result's names are the file's, prefix included: a missing {@code bias}
     * under {@code "encoder."} is reported as {@code encoder.bias}.
     *
     * @throws SafeTensorsFormatException if the file is not valid safetensors
     */
    public static LoadResult loadNonStrict(Module module, Path path, String prefix) throws IOException {
        if (module == null) throw new NullPointerException("module is null");
        if (prefix == null) throw new NullPointerException("prefix is null");
        SafeTensors.Contents c = SafeTensors.read(path);
        Map<String, HostTensor> under = under(c.tensors(), prefix);
        LoadResult r;
        try {
            r = module.loadStateDictNonStrict(under);
        } catch (StateDictException e) {
            throw named(module, path, prefix, e, under.size(), c.tensors());
        }
        return new LoadResult(prefixed(prefix, r.missing()), prefixed(prefix, r.unexpected()));
    }

    /** The tensors whose names start with {@code prefix}, under their names without it, in file order. */
    private static Map<String, HostTensor> under(Map<String, HostTensor> tensors, String prefix) {
        if (prefix.isEmpty()) return tensors;
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (var e : tensors.entrySet())
            if (e.getKey().startsWith(prefix)) out.put(e.getKey().substring(prefix.length()), e.getValue());
        return out;
    }

    private static List<String> prefixed(String prefix, List<String> names) {
        if (prefix.isEmpty()) return names;
        List<String> out = new ArrayList<>(names.size());
        for (String n : names) out.add(prefix + n);
        return out;
    }

    /**
     * e restated by the file's names, naming the module and the file, keeping e's hint and adding
     * one when no key matched: the prefixes under which the file holds every key of the module
     * (reading the module's state, only on this failure path).
     */
    private static StateDictException named(Module module, Path path, String prefix, StateDictException e,
                                            int loaded, Map<String, HostTensor> file) {
        List<String> hints = new ArrayList<>();
        if (e.hint() != null) hints.add(e.hint());
        // No key matched by name: every one given was unexpected and none mis-shaped.
        boolean noneMatched = !e.missing().isEmpty() && e.unexpected().size() == loaded && e.mismatched().isEmpty();
        if (noneMatched) {
            List<String> fits = prefixesThatFit(module.stateDict(), file, prefix);
            if (!prefix.isEmpty() && loaded == 0) hints.add("no key of the file starts with '" + prefix + "'");
            if (fits.size() == 1)
                hints.add("the file's keys look prefixed with '" + fits.get(0) + "': use StateDicts.load(module, file, \""
                        + fits.get(0) + "\")");
            else if (fits.size() > 1)
                hints.add("the file holds the module's keys under each of the prefixes '" + String.join("', '", fits)
                        + "': use StateDicts.load(module, file, prefix) with the one wanted");
        }
        StateDictException out = new StateDictException(module + " from " + path, prefixed(prefix, e.missing()),
                prefixed(prefix, e.unexpected()), prefixed(prefix, e.mismatched()),
                hints.isEmpty() ? null : String.join("; ", hints));
        out.initCause(e);
        return out;
    }

    /**
     * Each prefix P (ending with a dot, other than {@code tried}) under which the file holds every
     * key of the module with its shape (P + k for each key k), in the file's order. The candidates
     * come from the file's keys that end with the module's first key; each costs one lookup per
     * key of the module.
     */
    private static List<String> prefixesThatFit(Map<String, HostTensor> mine, Map<String, HostTensor> file, String tried) {
        List<String> out = new ArrayList<>();
        if (mine.isEmpty()) return out;
        String first = mine.keySet().iterator().next();
        for (String f : file.keySet()) {
            if (f.length() <= first.length() || !f.endsWith(first)) continue;
            String p = f.substring(0, f.length() - first.length());
            if (!p.endsWith(".") || p.equals(tried) || out.contains(p)) continue;
            boolean all = true;
            for (var k : mine.entrySet()) {
                HostTensor t = file.get(p + k.getKey());
                if (t == null || !Arrays.equals(t.shape(), k.getValue().shape())) {
                    all = false;
                    break;
                }
            }
            if (all) out.add(p);
        }
        return out;
    }
}
