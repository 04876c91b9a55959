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
 * and {@code optimizer.type}, and the schedule's as {@code scheduler.<name>}. Files are written
 * atomically.
 */
public final class Checkpoints {
    private Checkpoints() {}

    private static final String OPT = "optimizer.", SCHED = "scheduler.";

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
        SafeTensors.write(path, tensors, meta);
    }

    /**
     * Loads a checkpoint written by {@link #save} into a model, optimizer and schedule built with
     * the same configuration. The model is loaded strictly (see {@link Module#loadStateDict}).
     *
     * @param scheduler may be null (the file's schedule state, if any, is then ignored)
     * @throws StateDictException       if the model's tensors do not match
     * @throws IllegalArgumentException if the optimizer or schedule state does not match
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
        for (var e : c.metadata().entrySet()) {
            if (e.getKey().startsWith(OPT)) optMeta.put(e.getKey().substring(OPT.length()), e.getValue());
            else if (e.getKey().startsWith(SCHED)) schedMeta.put(e.getKey().substring(SCHED.length()), e.getValue());
        }
        if (optMeta.isEmpty()) throw new IllegalArgumentException(path + " holds no optimizer state");
        if (scheduler != null && schedMeta.isEmpty()) throw new IllegalArgumentException(path + " holds no schedule state");
        model.loadStateDict(modelTensors);
        optimizer.load(optTensors, optMeta);
        if (scheduler != null) scheduler.load(schedMeta);
    }
}
