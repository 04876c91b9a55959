package dev.rnn4j.train;

import dev.rnn4j.HostTensor;
import dev.rnn4j.io.SafeTensors;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.StateDictException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model, its optimizer and optionally its schedule in one safetensors file, so training
 * resumes exactly: the model's tensors under their {@code state_dict} names, the optimizer's
 * state tensors as {@code optimizer.state.<i>.<name>} (PyTorch's {@code optimizer.state_dict()}
 * names, flattened), its hyper-parameters as metadata {@code optimizer.param_groups.0.<name>}
 * and {@code optimizer.type}, the schedule's as {@code scheduler.<name>}, and every module's
 * dropout generator state ({@link Module#dropoutState()}) as metadata {@code rng.dropout} (the
 * model itself) and {@code rng.dropout.<path>} (its sub-modules), each {@code "<seed> <counter>"}
 * in decimal, so that a run with dropout resumes with the masks the uninterrupted run draws.
 * Files are written atomically.
 *
 * <p>Checkpoints written before the dropout state was saved have no {@code rng.dropout} entries;
 * they still load, and the model's dropout generators are then left as they are: a resumed run
 * with dropout draws other masks than the uninterrupted one did (without dropout, or in eval
 * mode, it continues exactly all the same).
 */
public final class Checkpoints {
    private Checkpoints() {}

    private static final String OPT = "optimizer.", SCHED = "scheduler.", RNG = "rng.dropout";

    /**
     * Writes the checkpoint.
     *
     * @param scheduler may be null
     * @throws IOException naming {@code path} if it cannot be written
     */
    public static void save(Path path, Module model, Optimizer optimizer, LRScheduler scheduler) throws IOException {
        if (model == null) throw new NullPointerException("model is null");
        if (optimizer == null) throw new NullPointerException("optimizer is null");
        Map<String, HostTensor> tensors = new LinkedHashMap<>(model.stateDict());
        for (var e : optimizer.stateTensors().entrySet()) tensors.put(OPT + e.getKey(), e.getValue());
        Map<String, String> meta = new LinkedHashMap<>();
        for (var e : optimizer.hyperParameters().entrySet()) meta.put(OPT + e.getKey(), e.getValue());
        if (scheduler != null) for (var e : scheduler.state().entrySet()) meta.put(SCHED + e.getKey(), e.getValue());
        for (var e : model.dropoutState().entrySet())
            meta.put(e.getKey().isEmpty() ? RNG : RNG + "." + e.getKey(), e.getValue().seed() + " " + e.getValue().counter());
        SafeTensors.write(path, tensors, meta);
    }

    /**
     * Loads a checkpoint written by {@link #save} into a model, optimizer and schedule built with
     * the same configuration. The model is loaded strictly (see {@link Module#loadStateDict}),
     * and so is its dropout state where the file has one ({@link Module#loadDropoutState}; see
     * the class comment for files without).
     *
     * @param scheduler may be null (the file's schedule state, if any, is then ignored)
     * @throws StateDictException       if the model's tensors do not match
     * @throws IllegalArgumentException if the optimizer, schedule or dropout state does not match
     * @throws IOException              if the file cannot be read or is not valid safetensors
     */
    public static void load(Path path, Module model, Optimizer optimizer, LRScheduler scheduler) throws IOException {
        if (model == null) throw new NullPointerException("model is null");
        if (optimizer == null) throw new NullPointerException("optimizer is null");
        SafeTensors.Contents c = SafeTensors.read(path);
        Map<String, HostTensor> modelTensors = new LinkedHashMap<>(), optTensors = new LinkedHashMap<>();
        for (var e : c.tensors().entrySet()) {
            if (e.getKey().startsWith(OPT)) optTensors.put(e.getKey().substring(OPT.length()), e.getValue());
            else modelTensors.put(e.getKey(), e.getValue());
        }
        Map<String, String> optMeta = new LinkedHashMap<>(), schedMeta = new LinkedHashMap<>();
        Map<String, Module.DropoutState> rng = new LinkedHashMap<>();
        for (var e : c.metadata().entrySet()) {
            String k = e.getKey();
            if (k.startsWith(OPT)) optMeta.put(k.substring(OPT.length()), e.getValue());
            else if (k.startsWith(SCHED)) schedMeta.put(k.substring(SCHED.length()), e.getValue());
            else if (k.equals(RNG)) rng.put("", dropoutState(path, k, e.getValue()));
            else if (k.startsWith(RNG + ".")) rng.put(k.substring(RNG.length() + 1), dropoutState(path, k, e.getValue()));
        }
        if (optMeta.isEmpty()) throw new IllegalArgumentException(path + " holds no optimizer state");
        if (scheduler != null && schedMeta.isEmpty()) throw new IllegalArgumentException(path + " holds no schedule state");
        // Checked before anything is loaded, so that a file for another model changes nothing.
        if (!rng.isEmpty() && !rng.keySet().equals(model.dropoutState().keySet()))
            throw new IllegalArgumentException(path + ": its dropout state is for sub-modules " + rng.keySet()
                    + ", the model has " + model.dropoutState().keySet());
        model.loadStateDict(modelTensors);
        optimizer.load(optTensors, optMeta);
        if (scheduler != null) scheduler.load(schedMeta);
        if (!rng.isEmpty()) model.loadDropoutState(rng);
    }

    /** One {@code rng.dropout} entry: two decimal longs, the seed and the counter. */
    private static Module.DropoutState dropoutState(Path path, String key, String value) {
        String[] parts = value.split(" ", -1);
        try {
            if (parts.length == 2) return new Module.DropoutState(Long.parseLong(parts[0]), Long.parseLong(parts[1]));
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(path + ": metadata " + key + " is '" + value + "', not '<seed> <counter>'");
    }
}
