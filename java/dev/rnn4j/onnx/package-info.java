/**
 * ONNX import: {@link dev.rnn4j.onnx.OnnxModel} reads an ONNX model file and runs its graph on
 * any rnn4j backend, its LSTM, GRU and RNN nodes on rnn4j's layers and the operators exporters
 * put around them (Gather, MatMul, Gemm, elementwise arithmetic, shape operators, Softmax, ...)
 * beside them. A graph is validated when it is loaded: an operator or attribute rnn4j cannot run
 * exactly is an {@link dev.rnn4j.onnx.OnnxFormatException} naming the node, before anything runs.
 *
 * <p>ONNX export: {@link dev.rnn4j.onnx.OnnxExport} writes rnn4j's recurrent modules (RNN, LSTM,
 * GRU, SRU v1 and 2.x), Linear, Embedding and the language model as ONNX models that ONNX
 * Runtime runs with rnn4j's results.
 */
package dev.rnn4j.onnx;
