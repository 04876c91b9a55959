/**
 * Files: {@link dev.rnn4j.io.SafeTensors} reads and writes the safetensors format (strictly
 * validated, written atomically) and {@link dev.rnn4j.io.StateDicts} saves and loads a module's
 * parameters under PyTorch's names, so weights move both ways between rnn4j and PyTorch.
 */
package dev.rnn4j.io;
