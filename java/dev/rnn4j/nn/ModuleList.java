package dev.rnn4j.nn;

import dev.rnn4j.Device;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/**
 * An indexed list of sub-modules, PyTorch's {@code nn.ModuleList}: module i is registered under
 * the name {@code "i"}, so its parameters appear as {@code "0.weight"}, {@code "1.bias"}, ... in
 * {@link #stateDict()}, and {@link dev.rnn4j.io.StateDicts}, {@link dev.rnn4j.train.Checkpoints},
 * {@link #zeroGrad()}, {@link #train}/{@link #eval} and the optimizers (given
 * {@link #namedParameters()}) treat the list as one model. The list owns its modules:
 * {@link #close()} closes them. It has no forward of its own; {@link Sequential} chains its
 * modules.
 */
public class ModuleList extends Module implements Iterable<Module> {
    private final List<Module> modules = new ArrayList<>();

    /**
     * A list holding {@code modules} in order, each on {@code device}.
     *
     * @throws IllegalArgumentException if a module is on another device
     * @throws IllegalStateException    if a module is closed
     * @throws NullPointerException     if a module is null
     */
    public ModuleList(Device device, Module... modules) {
        super(device);
        if (modules == null) throw new NullPointerException("modules is null");
        for (Module m : modules) add(m);
    }

    /**
     * Appends {@code module} under the next index (PyTorch's {@code append}); returns this list.
     *
     * @throws IllegalArgumentException if it is on another device
     * @throws IllegalStateException    if it or this list is closed
     * @throws NullPointerException     if it is null
     */
    public ModuleList add(Module module) {
        exclusiveUse("add", () -> {
            checkModule(module);
            registerModule(Integer.toString(modules.size()), module);
            modules.add(module);
        });
        return this;
    }

    /** Checks a module before it is appended; a subclass adds its own conditions. */
    void checkModule(Module module) {
        if (module == null) throw new NullPointerException("module " + modules.size() + " is null");
    }

    /** Module {@code i}; IndexOutOfBoundsException unless 0 &lt;= i &lt; size(). */
    public Module get(int i) { return modules.get(i); }

    /** The number of modules. */
    public int size() { return modules.size(); }

    /** The modules in order, unmodifiable. */
    public List<Module> modules() { return Collections.unmodifiableList(modules); }

    @Override
    public Iterator<Module> iterator() { return modules().iterator(); }

    /** The PyTorch-style listing, e.g. {@code ModuleList((0): Linear(...), (1): Linear(...))}. */
    @Override
    public String toString() { return listing("ModuleList"); }

    String listing(String type) {
        StringBuilder sb = new StringBuilder(type).append('(');
        for (int i = 0; i < modules.size(); i++) sb.append(i == 0 ? "" : ", ").append('(').append(i).append("): ").append(modules.get(i));
        return sb.append(')').toString();
    }
}
