package dev.rnn4j.nn;

import java.util.List;

/**
 * What a non-strict state-dict load skipped, as PyTorch's {@code load_state_dict(strict=False)}
 * returns {@code missing_keys} and {@code unexpected_keys}.
 *
 * @param missing    the module's keys the state dict lacks, in the module's state-dict order
 *                   (those parameters kept their values); copied, unmodifiable
 * @param unexpected the state dict's keys the module does not have, in the state dict's order
 *                   (ignored); copied, unmodifiable
 */
public record LoadResult(List<String> missing, List<String> unexpected) {
    public LoadResult {
        missing = List.copyOf(missing);
        unexpected = List.copyOf(unexpected);
    }

    /** Whether nothing was skipped: every key of the module was loaded and the state dict had no other. */
    public boolean complete() { return missing.isEmpty() && unexpected.isEmpty(); }
}
