/**
 * rnn4j: recurrent layers (SRU, LSTM, GRU, RNN) over a small set of backend ops, with PyTorch's
 * semantics and parameter names. The exported packages are the user-facing API: tensors and
 * devices ({@code dev.rnn4j}), layers and modules ({@code dev.rnn4j.nn}), training
 * ({@code dev.rnn4j.train}), state dicts and safetensors files ({@code dev.rnn4j.io}), the
 * language model ({@code dev.rnn4j.lm}), the request batcher ({@code dev.rnn4j.serve}), the
 * conformance runner ({@code dev.rnn4j.conformance}) and the ONNX importer and exporter ({@code dev.rnn4j.onnx}). The backend SPI and its
 * implementations ({@code dev.rnn4j.backend}, which also holds the exceptions a device throws),
 * the native bindings, the command line and the benchmark launcher stay inside.
 *
 * <p>On the module path, grant native access with {@code --enable-native-access=dev.rnn4j,jocl}
 * (rnn4j for CUDA, JOCL's automatic module for OpenCL; on the class path:
 * {@code --enable-native-access=ALL-UNNAMED}); the cpu backend's vector kernels need
 * {@code --add-modules jdk.incubator.vector} and fall back to plain Java without it.
 */
module dev.rnn4j {
    requires jocl;
    requires com.google.protobuf;
    requires static jdk.incubator.vector;

    exports dev.rnn4j;
    exports dev.rnn4j.nn;
    exports dev.rnn4j.train;
    exports dev.rnn4j.io;
    exports dev.rnn4j.lm;
    exports dev.rnn4j.serve;
    exports dev.rnn4j.conformance;
    exports dev.rnn4j.onnx;
}
