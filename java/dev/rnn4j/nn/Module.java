package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Shapes;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DropoutRng;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Base of every layer: named parameters and sub-modules (named like PyTorch's state_dict),
 * train/eval mode, dropout seeds, state dicts, and closing.
 *
 * <p>Names: a module's own parameters come first in registration order, then each child's
 * under "childName." — the order of PyTorch's {@code named_parameters()} and {@code state_dict()}.
 * A parameter registered under two names (weight tying) appears once in
 * {@link #namedParameters()} (first name) and under both names in {@link #stateDict()}.
 * Buffers (PyTorch's {@code register_buffer}: state without a gradient, such as sru's
 * {@code scale_x}) are in the state dict after the module's own parameters, but not among its
 * parameters, so optimisers never see them.
 *
 * <p>Thread safety (README, "Serving"): a module in eval mode may be shared by any number of
 * threads calling {@code forward} at once, on every backend; each call reads the parameters
 * only and owns what it allocates. Everything else is exclusive: a forward call in training
 * mode (it draws dropout seeds), {@code backward} (it adds to the gradients), {@link #zeroGrad},
 * {@link #train}/{@link #eval} when they change the mode (when they do not, they are no-ops that
 * any thread may call at any time), {@link #setDropoutSeed}, {@link #loadDropoutState},
 * {@link #loadStateDict} and the re-initialisations. An exclusive call while another thread uses the module, or any call
 * while another thread makes an exclusive one, throws {@link IllegalStateException} naming the
 * module and both uses, before anything is changed. {@link #close()} while calls are in flight
 * makes every later call throw; the parameters are freed when the last call in flight returns.
 * Writing a {@link Parameter}'s tensors directly (an optimizer step) is not checked: it must
 * not overlap any use of the module.
 *
 * <p>Composite models: a model made of layers is a subclass that registers them with
 * {@link #registerModule} in its constructor; the state dict, {@link dev.rnn4j.io.StateDicts},
 * {@link dev.rnn4j.train.Checkpoints}, {@link #zeroGrad()}, the modes and {@link #close()} then
 * treat it as one module, with PyTorch's names ({@code "gru.weight_ih_l0"}, {@code "head.weight"}):
 *
 * <pre>{@code
 * final class Classifier extends Module {
 *     final GRU gru;
 *     final Linear head;
 *
 *     Classifier(Device device, int in, int hidden, int classes) {
 *         super(device);
 *         gru = registerModule("gru", GRU.builder(in, hidden).build(device));
 *         head = registerModule("head", new Linear(device, hidden, classes, true));
 *     }
 *
 *     public String toString() { return "Classifier"; }   // Module's names in messages
 * }
 * }</pre>
 *
 * <p>Its forward and backward are plain methods calling the children's. {@link ModuleList}
 * and {@link Sequential} are ready-made composites named by index ({@code "0.weight"}).
 */
public abstract class Module implements AutoCloseable {
    private static final SplittableRandom SEEDS = new SplittableRandom();

    /** The device holding every parameter of this module. */
    protected final Device device;
    private final LinkedHashMap<String, Parameter> params = new LinkedHashMap<>();
    private final LinkedHashMap<String, Module> children = new LinkedHashMap<>();
    private final LinkedHashMap<String, Parameter> buffers = new LinkedHashMap<>();
    /** Volatile: a mode check that changes nothing reads it without taking the module. */
    private volatile boolean training = true;
    private volatile boolean closed;
    /** Guards the use counts below and the training flag's changes. */
    private final Object useLock = new Object();
    /** Eval-mode forward calls in flight. */
    private int sharedUses;
    /** The thread making an exclusive call, what it does, and how deeply it re-entered. */
    private Thread exclusiveOwner;
    private String exclusiveWhat;
    private int exclusiveDepth;
    /** close() came while calls were in flight: the last one to leave frees the parameters. */
    private boolean closePending;
    private long dropoutSeed;
    private long dropoutCounter;

    /** A module on {@code device}; NullPointerException if null, IllegalStateException if closed. */
    protected Module(Device device) {
        if (device == null) throw new NullPointerException("device is null");
        DeviceAccess.backend(device); // fails if closed
        this.device = device;
        synchronized (SEEDS) { this.dropoutSeed = SEEDS.nextLong(); }
    }

    /** The device holding this module's parameters. */
    public Device device() { return device; }

    /** PyTorch-style type name used in messages, e.g. "LSTM(10, 20, num_layers=2)". */
    @Override
    public abstract String toString();

    /** Creates a zero-filled parameter of {@code shape} under {@code name}; IllegalStateException if the name is taken. */
    protected Parameter registerParameter(String name, int... shape) {
        if (params.containsKey(name) || children.containsKey(name) || buffers.containsKey(name))
            throw new IllegalStateException("duplicate name " + name);
        Parameter p = new Parameter(device, shape);
        params.put(name, p);
        return p;
    }

    /** A state tensor without gradient, saved and loaded with the parameters (never given to optimisers). */
    protected Parameter registerBuffer(String name, int... shape) {
        if (params.containsKey(name) || children.containsKey(name) || buffers.containsKey(name))
            throw new IllegalStateException("duplicate name " + name);
        Parameter p = new Parameter(device, shape);
        buffers.put(name, p);
        return p;
    }

    /** Registers an existing parameter under a second name (weight tying). */
    protected Parameter registerTied(String name, Parameter shared) {
        if (params.containsKey(name) || children.containsKey(name)) throw new IllegalStateException("duplicate name " + name);
        params.put(name, shared);
        return shared;
    }

    /**
     * Registers a child module under {@code name}: its parameters and buffers become
     * {@code "name.*"} in {@link #namedParameters()} and {@link #stateDict()}, it follows this
     * module's {@link #train}/{@link #eval}, {@link #zeroGrad()} and dropout seed, and
     * {@link #close()} closes it. Call it from a subclass's constructor (see "Composite models"
     * above); returns {@code module}.
     *
     * @throws IllegalStateException    if the name is taken, or the module is closed
     * @throws IllegalArgumentException if the module is on another device, or is this module
     * @throws NullPointerException     if the name or the module is null
     */
    protected <M extends Module> M registerModule(String name, M module) {
        if (name == null) throw new NullPointerException("module name is null");
        if (module == null) throw new NullPointerException("module " + name + " is null");
        if (module == this) throw new IllegalArgumentException("a module cannot be its own child (" + name + ")");
        if (module.device != device)
            throw new IllegalArgumentException("module " + name + " (" + module + ") is on device " + module.device.label()
                    + ", this module on device " + device.label());
        module.checkOpen();
        if (params.containsKey(name) || children.containsKey(name) || buffers.containsKey(name))
            throw new IllegalStateException("duplicate name " + name);
        children.put(name, module);
        return module;
    }

    /** Direct children in registration order. */
    public Map<String, Module> children() { return java.util.Collections.unmodifiableMap(children); }

    /** Every parameter once (tied ones under their first name), in PyTorch order. */
    public Map<String, Parameter> namedParameters() {
        Map<String, Parameter> all = new LinkedHashMap<>();
        collect("", all, new IdentityHashMap<>(), true);
        return all;
    }

    private void collect(String prefix, Map<String, Parameter> out, IdentityHashMap<Parameter, Boolean> seen, boolean dedup) {
        collect(prefix, out, seen, dedup, false);
    }

    private void collect(String prefix, Map<String, Parameter> out, IdentityHashMap<Parameter, Boolean> seen, boolean dedup,
                         boolean withBuffers) {
        for (var e : params.entrySet()) {
            if (dedup && seen.put(e.getValue(), Boolean.TRUE) != null) continue;
            out.put(prefix + e.getKey(), e.getValue());
        }
        if (withBuffers) for (var e : buffers.entrySet()) out.put(prefix + e.getKey(), e.getValue());
        for (var e : children.entrySet()) e.getValue().collect(prefix + e.getKey() + ".", out, seen, dedup, withBuffers);
    }

    /** Every state-dict entry: parameters under every name, and buffers, in PyTorch's state_dict order. */
    private Map<String, Parameter> stateEntries() {
        Map<String, Parameter> all = new LinkedHashMap<>();
        collect("", all, new IdentityHashMap<>(), false, true);
        return all;
    }

    /** Every parameter under every name it has (tied parameters appear under each name). */
    public Map<String, Parameter> allNamedParameters() {
        Map<String, Parameter> all = new LinkedHashMap<>();
        collect("", all, new IdentityHashMap<>(), false);
        return all;
    }

    /** Number of scalar parameters, tied ones counted once (PyTorch's sum of p.numel() over parameters()). */
    public long numParameters() {
        long n = 0;
        for (Parameter p : namedParameters().values()) n += p.numel();
        return n;
    }

    /**
     * Sets training mode on this module and every child. Dropout is active only in training mode.
     * When this module and every descendant are already in that mode the call changes nothing
     * and is not an exclusive use: it never throws for other threads' calls in flight and never
     * holds up their forward calls (a server may call {@code eval()} on the model it serves).
     *
     * @throws IllegalStateException if the module is closed, or if the mode changes while
     *                               another thread uses the module
     */
    public Module train(boolean on) {
        checkOpen();
        if (inMode(on)) return this;
        enterExclusive(on ? "train(true)" : "eval()");
        try {
            training = on;
            for (Module m : children.values()) m.train(on);
        } finally {
            exit(true);
        }
        return this;
    }

    /** Whether this module and every descendant are in training mode {@code on}. */
    private boolean inMode(boolean on) {
        if (training != on) return false;
        for (Module m : children.values()) if (!m.inMode(on)) return false;
        return true;
    }

    /** Evaluation mode: {@code train(false)}; a no-op, shared with forward calls, when already in eval mode. */
    public Module eval() { return train(false); }

    /** Whether the module is in training mode (the default). */
    public boolean isTraining() { return training; }

    /** Fixes the dropout seed of this module and (derived from it) of every child, for reproducible masks. */
    public void setDropoutSeed(long seed) {
        enterExclusive("setDropoutSeed");
        try {
            dropoutSeed = seed;
            dropoutCounter = 0;
            long i = 0;
            for (Module m : children.values()) m.setDropoutSeed(DropoutRng.stream(seed ^ 0x5DEECE66DL, i++));
        } finally {
            exit(true);
        }
    }

    /**
     * Where one module's dropout generator stands: masks are drawn from the counter-based
     * generator with seeds {@code DropoutRng.stream(seed, i)} for i = counter, counter + 1, ...,
     * so these two numbers are the module's whole generator state.
     *
     * @param seed    the module's seed (random per module unless fixed by {@link #setDropoutSeed})
     * @param counter how many mask seeds it has drawn since
     */
    public record DropoutState(long seed, long counter) {}

    /**
     * The dropout generator state of this module and every descendant, keyed by module path:
     * {@code ""} for this module, else the child names joined by dots as in parameter names
     * ({@code "rnn"}, {@code "rnn.rnn_lst.0"}), in registration order. With the parameters it is
     * what a training run needs to continue with the same masks ({@code Checkpoints} saves it).
     * Like {@link #stateDict()} it must not overlap a training-mode call on another thread.
     */
    public Map<String, DropoutState> dropoutState() {
        checkOpen();
        Map<String, DropoutState> out = new LinkedHashMap<>();
        collectDropout("", out, new IdentityHashMap<>());
        return out;
    }

    private void collectDropout(String path, Map<String, DropoutState> out, IdentityHashMap<Module, Boolean> seen) {
        if (seen.put(this, Boolean.TRUE) != null) return;
        out.put(path, new DropoutState(dropoutSeed, dropoutCounter));
        for (var e : children.entrySet())
            e.getValue().collectDropout(path.isEmpty() ? e.getKey() : path + "." + e.getKey(), out, seen);
    }

    /**
     * Restores what {@link #dropoutState()} returned, so that the next masks are the ones the
     * module that saved it would have drawn next. Strict: the keys must be exactly this
     * module's paths, otherwise nothing is changed and {@link IllegalArgumentException} lists the
     * missing and unexpected ones. An exclusive use.
     */
    public void loadDropoutState(Map<String, DropoutState> state) {
        if (state == null) throw new NullPointerException("dropout state is null");
        exclusiveUse("loadDropoutState", () -> {
            Map<String, DropoutState> mine = dropoutState();
            List<String> missing = new ArrayList<>(), unexpected = new ArrayList<>();
            for (String k : mine.keySet()) if (state.get(k) == null) missing.add(k);
            for (String k : state.keySet()) if (!mine.containsKey(k)) unexpected.add(k);
            if (!missing.isEmpty() || !unexpected.isEmpty())
                throw new IllegalArgumentException(this + ": dropout state does not match the module's sub-modules (missing "
                        + missing + ", unexpected " + unexpected + ")");
            applyDropout("", state, new IdentityHashMap<>());
        });
    }

    private void applyDropout(String path, Map<String, DropoutState> state, IdentityHashMap<Module, Boolean> seen) {
        if (seen.put(this, Boolean.TRUE) != null) return;
        DropoutState s = state.get(path);
        // Children are written under their own exclusive use, like setDropoutSeed's recursion.
        enterExclusive("loadDropoutState");
        try {
            dropoutSeed = s.seed();
            dropoutCounter = s.counter();
        } finally {
            exit(true);
        }
        for (var e : children.entrySet())
            e.getValue().applyDropout(path.isEmpty() ? e.getKey() : path + "." + e.getKey(), state, seen);
    }

    /** A fresh mask seed: the next element of this module's seed stream. */
    protected long nextDropoutSeed() { return DropoutRng.stream(dropoutSeed, dropoutCounter++); }

    /** Sets the gradient of every parameter to zero (PyTorch's {@code zero_grad(set_to_none=False)}). */
    public void zeroGrad() {
        exclusiveUse("zeroGrad", () -> {
            for (Parameter p : namedParameters().values()) p.zeroGrad();
        });
    }

    /** A copy of every parameter under every name, and of every buffer, host-side, in PyTorch order. */
    public Map<String, HostTensor> stateDict() {
        checkOpen();
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (var e : stateEntries().entrySet()) out.put(e.getKey(), e.getValue().value().toHost());
        return out;
    }

    /**
     * Loads a state dict strictly: every key must be present with the right shape and no other
     * key may appear; otherwise nothing is changed and a {@link StateDictException} lists every
     * problem. Tied parameters may appear under any of their names (all copies must then agree
     * in shape; the last one loaded wins).
     */
    public void loadStateDict(Map<String, HostTensor> state) {
        if (state == null) throw new NullPointerException("state dict is null");
        exclusiveUse("loadStateDict", () -> loadStateDictLocked(state));
    }

    private void loadStateDictLocked(Map<String, HostTensor> state) {
        loadLocked(state, true);
    }

    /**
     * Loads a state dict non-strictly, as PyTorch's {@code load_state_dict(strict=False)}: every
     * key the module has is loaded, the module's keys the state dict lacks keep their values, and
     * the state dict's other keys are ignored; the result lists both. A key present with another
     * shape is still an error (as in PyTorch): nothing is changed and a {@link StateDictException}
     * lists every mismatch. A tied parameter is loaded if any of its names is present (the others
     * are reported missing, as PyTorch does).
     */
    public LoadResult loadStateDictNonStrict(Map<String, HostTensor> state) {
        if (state == null) throw new NullPointerException("state dict is null");
        return exclusiveUse("loadStateDictNonStrict", () -> loadLocked(state, false));
    }

    /** Checks every key before changing anything, then loads those present; strict also fails on missing and unexpected keys. */
    private LoadResult loadLocked(Map<String, HostTensor> state, boolean strict) {
        Map<String, Parameter> mine = stateEntries();
        List<String> missing = new ArrayList<>(), unexpected = new ArrayList<>(), mismatched = new ArrayList<>();
        for (var e : mine.entrySet()) {
            HostTensor t = state.get(e.getKey());
            if (t == null) missing.add(e.getKey());
            else if (!Arrays.equals(t.shape(), e.getValue().shape()))
                mismatched.add(e.getKey() + ": expected " + Shapes.str(e.getValue().shape()) + ", got " + Shapes.str(t.shape()));
        }
        for (String k : state.keySet()) if (!mine.containsKey(k)) unexpected.add(k);
        if (!mismatched.isEmpty() || (strict && (!missing.isEmpty() || !unexpected.isEmpty())))
            throw new StateDictException(toString(), strict ? missing : List.of(), strict ? unexpected : List.of(), mismatched);
        for (var e : mine.entrySet()) {
            HostTensor t = state.get(e.getKey());
            if (t != null) e.getValue().set(t);
        }
        return new LoadResult(missing, unexpected);
    }

    /** Throws IllegalStateException if the module is closed. */
    protected void checkOpen() {
        if (closed) throw new IllegalStateException(this + " is closed");
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() { return closed; }

    // ------------------------------------------------------------------ who uses the module

    /**
     * Starts a forward call: shared in eval mode, exclusive in training mode (the mode is read
     * under the lock, so it cannot change until {@link #exit}). Returns whether the call is
     * exclusive, which the caller passes to {@code exit} in a finally block.
     */
    protected final boolean enterForward() {
        synchronized (useLock) {
            checkOpen();
            Thread me = Thread.currentThread();
            if (exclusiveOwner == me) {                 // re-entered from this thread's own exclusive call
                exclusiveDepth++;
                return true;
            }
            if (training) {
                takeExclusive(me, "forward in training mode");
                return true;
            }
            if (exclusiveOwner != null) throw inUse("forward in eval mode");
            sharedUses++;
            return false;
        }
    }

    /** Starts an exclusive call described by {@code what} (e.g. "backward"); pair with {@code exit(true)}. */
    protected final void enterExclusive(String what) {
        synchronized (useLock) {
            checkOpen();
            Thread me = Thread.currentThread();
            if (exclusiveOwner == me) exclusiveDepth++;
            else takeExclusive(me, what);
        }
    }

    private void takeExclusive(Thread me, String what) {
        if (exclusiveOwner != null || sharedUses > 0) throw inUse(what);
        exclusiveOwner = me;
        exclusiveWhat = what;
        exclusiveDepth = 1;
    }

    private IllegalStateException inUse(String what) {
        String other = exclusiveOwner != null
                ? exclusiveWhat + " on thread \"" + exclusiveOwner.getName() + "\""
                : sharedUses + " eval-mode forward call" + (sharedUses == 1 ? "" : "s");
        return new IllegalStateException(this + ": " + what + " on thread \"" + Thread.currentThread().getName()
                + "\" while another thread uses the module (" + other + "); only eval-mode forward calls may run"
                + " concurrently on one module");
    }

    /** Runs {@code call} as one forward use of the module ({@link #enterForward} ... {@link #exit}). */
    protected final <T> T forwardUse(java.util.function.Supplier<T> call) {
        boolean exclusive = enterForward();
        try {
            return call.get();
        } finally {
            exit(exclusive);
        }
    }

    /** Runs {@code call} as one exclusive use described by {@code what} ({@link #enterExclusive} ... {@link #exit}). */
    protected final <T> T exclusiveUse(String what, java.util.function.Supplier<T> call) {
        enterExclusive(what);
        try {
            return call.get();
        } finally {
            exit(true);
        }
    }

    /** As {@link #exclusiveUse(String, java.util.function.Supplier)}, for a call without a result. */
    protected final void exclusiveUse(String what, Runnable call) {
        exclusiveUse(what, () -> {
            call.run();
            return null;
        });
    }

    /** Ends a call started by {@link #enterForward} or {@link #enterExclusive}; frees the module if it was closed meanwhile. */
    protected final void exit(boolean exclusive) {
        boolean free;
        synchronized (useLock) {
            if (exclusive) {
                if (--exclusiveDepth == 0) {
                    exclusiveOwner = null;
                    exclusiveWhat = null;
                }
            } else {
                sharedUses--;
            }
            free = closePending && sharedUses == 0 && exclusiveOwner == null;
            if (free) closePending = false;
        }
        if (free) freeAll();
    }

    /**
     * Frees every parameter and child. Idempotent. Calls in flight on other threads finish
     * first (the memory is freed when the last one returns); every call after close throws
     * {@link IllegalStateException}.
     */
    @Override
    public void close() {
        synchronized (useLock) {
            if (closed) return;
            closed = true;
            if (sharedUses > 0 || exclusiveOwner != null) {
                closePending = true;
                return;
            }
        }
        freeAll();
    }

    private void freeAll() {
        IdentityHashMap<Parameter, Boolean> done = new IdentityHashMap<>();
        for (Parameter p : params.values()) if (done.put(p, Boolean.TRUE) == null) p.close();
        for (Parameter p : buffers.values()) p.close();
        for (Module m : children.values()) m.close();
    }
}
