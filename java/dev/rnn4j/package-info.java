/**
 * Devices and tensors: {@link dev.rnn4j.Device} opens a backend (reference, cpu, opencl, cuda)
 * and lists which can run here; {@link dev.rnn4j.Tensor} is a float32 row-major tensor in a
 * device's memory (views, slices, concatenation, host copies); {@link dev.rnn4j.HostTensor} is
 * the same on the Java heap.
 *
 * <p>Requirements: Java 25 or newer, and native access for the cpu, opencl and cuda backends:
 * start the JVM with {@code --enable-native-access=ALL-UNNAMED} (class path) or put
 * {@code Enable-Native-Access: ALL-UNNAMED} in an executable jar's manifest. Without it, those
 * backends report {@link dev.rnn4j.Device#NATIVE_ACCESS_HINT} as the reason they are unavailable.
 */
package dev.rnn4j;
