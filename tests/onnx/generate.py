#!/usr/bin/python3
"""Generates rnn4j's own ONNX import cases (tests/onnx/cases) in the ONNX backend-test layout.

Small models with random weights, exported by torch.onnx.export, and nodes built with
onnx.helper from PyTorch layers' weights; every expected output is PyTorch's. Each case is
CASE/model.onnx and CASE/test_data_set_0/{input,output}_K.pb, inputs in the graph's input
order, outputs in its output order. Run with Debian's python3-torch and python3-onnx:

    /usr/bin/python3 tests/onnx/generate.py [OUT_DIR]     (default: tests/onnx/cases)
"""
import io
import os
import shutil
import sys

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper, TensorProto

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")


def save_case(name, model_bytes, inputs, outputs):
    """Writes one case; inputs/outputs: lists of numpy arrays in the graph's orders."""
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    model = onnx.load_from_string(model_bytes)
    onnx.checker.check_model(model)
    graph_inputs = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    assert len(graph_inputs) == len(inputs), (name, graph_inputs)
    assert len(model.graph.output) == len(outputs), name
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model_bytes)
    for k, (n, a) in enumerate(zip(graph_inputs, inputs)):
        with open(os.path.join(d, "test_data_set_0", "input_%d.pb" % k), "wb") as f:
            f.write(numpy_helper.from_array(np.ascontiguousarray(a), n).SerializeToString())
    for k, (o, a) in enumerate(zip(model.graph.output, outputs)):
        with open(os.path.join(d, "test_data_set_0", "output_%d.pb" % k), "wb") as f:
            f.write(numpy_helper.from_array(np.ascontiguousarray(a), o.name).SerializeToString())
    print(name, sorted({n.op_type for n in model.graph.node}))


def export(module, args, input_names, output_names, opset, dynamic_axes=None):
    buf = io.BytesIO()
    torch.onnx.export(module, args, buf, input_names=input_names, output_names=output_names,
                      opset_version=opset, dynamic_axes=dynamic_axes, do_constant_folding=True)
    return buf.getvalue()


class Tagger(torch.nn.Module):
    """Embedding -> bidirectional LSTM -> Linear -> LogSoftmax, time-major tokens (T, B)."""

    def __init__(self, vocab=23, emb=8, hidden=6, tags=5):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, emb)
        self.lstm = torch.nn.LSTM(emb, hidden, bidirectional=True)
        self.out = torch.nn.Linear(2 * hidden, tags)

    def forward(self, tokens):
        y, _ = self.lstm(self.emb(tokens))
        return torch.log_softmax(self.out(y), dim=-1)


class LmStep(torch.nn.Module):
    """Embedding -> 2-layer LSTM from given states -> Linear: a language model's step."""

    def __init__(self, vocab=17, emb=7, hidden=9):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, emb)
        self.lstm = torch.nn.LSTM(emb, hidden, num_layers=2)
        self.out = torch.nn.Linear(hidden, vocab)

    def forward(self, tokens, h0, c0):
        y, (h, c) = self.lstm(self.emb(tokens), (h0, c0))
        return self.out(y), h, c


class BatchFirstGru(torch.nn.Module):
    """A batch-first bidirectional GRU and a softmax over its features, (B, T, I) in."""

    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(4, 5, batch_first=True, bidirectional=True)

    def forward(self, x, h0):
        y, h = self.gru(x, h0)
        return torch.softmax(y, dim=-1), h


def node_case(name, kind, torch_layer, x, lengths, direction, h0=None, c0=None, layout=0):
    """One ONNX LSTM/GRU/RNN node with torch_layer's weights; expected from torch over packed sequences.

    direction 'reverse' takes the reverse half of a bidirectional torch layer."""
    H = torch_layer.hidden_size
    sfx = ["_reverse"] if direction == "reverse" else ["", "_reverse"] if direction == "bidirectional" else [""]
    # torch gate blocks -> ONNX order: LSTM ifgo -> iofc, GRU rzn -> zrh
    perm = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}[kind]

    def onnx_order(w):
        blocks = np.split(w, len(perm), axis=0)
        return np.concatenate([blocks[p] for p in perm], axis=0)

    sd = {k: v.detach().numpy() for k, v in torch_layer.state_dict().items()}
    W = np.stack([onnx_order(sd["weight_ih_l0" + s]) for s in sfx])
    R = np.stack([onnx_order(sd["weight_hh_l0" + s]) for s in sfx])
    Bias = np.stack([np.concatenate([onnx_order(sd["bias_ih_l0" + s]), onnx_order(sd["bias_hh_l0" + s])]) for s in sfx])
    D = len(sfx)
    T, Bn = x.shape[0], x.shape[1]
    with torch.no_grad():
        xt = torch.from_numpy(x)
        full_dirs = 2 if torch_layer.bidirectional else 1
        th0 = torch.zeros(full_dirs, Bn, H) if h0 is None else torch.from_numpy(h0 if direction != "reverse" else np.concatenate([np.zeros_like(h0), h0]))
        tc0 = None
        if kind == "LSTM":
            tc0 = torch.zeros(full_dirs, Bn, H) if c0 is None else torch.from_numpy(c0 if direction != "reverse" else np.concatenate([np.zeros_like(c0), c0]))
        packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), enforce_sorted=False)
        res = torch_layer(packed, (th0, tc0) if kind == "LSTM" else th0)
        y, hn = res[0], res[1]
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, total_length=T)
        hs = hn[0] if kind == "LSTM" else hn
        cs = hn[1] if kind == "LSTM" else None
        y = y.numpy().reshape(T, Bn, full_dirs, H)
        hs, cs = hs.numpy(), (cs.numpy() if cs is not None else None)
        if direction == "reverse":
            y, hs = y[:, :, 1:], hs[1:]
            cs = cs[1:] if cs is not None else None
        Y = np.transpose(y, (0, 2, 1, 3))  # (T, D, B, H)
    inputs = {"X": x, "W": W, "R": R, "B": Bias, "sequence_lens": np.array(lengths, dtype=np.int32)}
    names = ["X", "W", "R", "B", "sequence_lens"]
    if h0 is not None:
        inputs["initial_h"] = h0
        names.append("initial_h")
    if c0 is not None:
        inputs["initial_c"] = c0
        names.append("initial_c")
    outs = {"Y": Y, "Y_h": hs}
    if kind == "LSTM":
        outs["Y_c"] = cs
    if layout == 1:
        inputs["X"] = np.transpose(x, (1, 0, 2)).copy()
        for k in ("initial_h", "initial_c"):
            if k in inputs:
                inputs[k] = np.transpose(inputs[k], (1, 0, 2)).copy()
        outs["Y"] = np.transpose(Y, (2, 0, 1, 3)).copy()
        for k in ("Y_h", "Y_c"):
            if k in outs:
                outs[k] = np.transpose(outs[k], (1, 0, 2)).copy()
    attrs = dict(hidden_size=H, direction=direction)
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    if layout:
        attrs["layout"] = 1
    node = helper.make_node(kind, names, list(outs), **attrs)
    vi = lambda n, a: helper.make_tensor_value_info(n, TensorProto.INT32 if a.dtype == np.int32 else TensorProto.FLOAT, list(a.shape))
    graph = helper.make_graph([node], name, [vi(n, inputs[n]) for n in names], [vi(n, a) for n, a in outs.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 7
    save_case(name, model.SerializeToString(), [inputs[n] for n in names], list(outs.values()))


def main():
    os.makedirs(OUT, exist_ok=True)

    torch.manual_seed(1)
    tagger = Tagger().eval()
    tokens = torch.randint(0, 23, (7, 3))
    with torch.no_grad():
        expected = tagger(tokens)
    save_case("tagger_bilstm", export(tagger, (tokens,), ["tokens"], ["log_probs"], 14,
                                      {"tokens": {0: "T", 1: "B"}, "log_probs": {0: "T", 1: "B"}}),
              [tokens.numpy()], [expected.numpy()])

    torch.manual_seed(2)
    lm = LmStep().eval()
    tok = torch.randint(0, 17, (1, 4))
    h0, c0 = torch.randn(2, 4, 9) * 0.5, torch.randn(2, 4, 9) * 0.5
    with torch.no_grad():
        logits, h, c = lm(tok, h0, c0)
    save_case("lm_step_lstm", export(lm, (tok, h0, c0), ["tokens", "h0", "c0"], ["logits", "h", "c"], 9),
              [tok.numpy(), h0.numpy(), c0.numpy()], [logits.numpy(), h.numpy(), c.numpy()])

    torch.manual_seed(3)
    bg = BatchFirstGru().eval()
    x, hg = torch.randn(3, 6, 4), torch.randn(2, 3, 5) * 0.5
    with torch.no_grad():
        y, h = bg(x, hg)
    save_case("gru_batch_first_bidirectional", export(bg, (x, hg), ["x", "h0"], ["probs", "h"], 17),
              [x.numpy(), hg.numpy()], [y.numpy(), h.numpy()])

    # Single nodes with sequence_lens, from torch's packed sequences (torch.onnx does not export
    # pack_padded_sequence): forward, reverse (the reverse half of a bidirectional torch layer)
    # and bidirectional, with and without initial states, both layouts.
    rng = np.random.default_rng(4)
    lengths = [5, 2, 4, 1]
    x = rng.standard_normal((5, 4, 3)).astype(np.float32)
    h = (rng.standard_normal((1, 4, 6)) * 0.5).astype(np.float32)
    c = (rng.standard_normal((1, 4, 6)) * 0.5).astype(np.float32)
    h2 = (rng.standard_normal((2, 4, 6)) * 0.5).astype(np.float32)
    c2 = (rng.standard_normal((2, 4, 6)) * 0.5).astype(np.float32)
    torch.manual_seed(5)
    gru_uni, gru_bi = torch.nn.GRU(3, 6), torch.nn.GRU(3, 6, bidirectional=True)
    lstm_bi, rnn_bi = torch.nn.LSTM(3, 6, bidirectional=True), torch.nn.RNN(3, 6, bidirectional=True)
    node_case("gru_seq_lens_forward", "GRU", gru_uni, x, lengths, "forward", h0=h)
    node_case("gru_seq_lens_reverse", "GRU", gru_bi, x, lengths, "reverse", h0=h)
    node_case("gru_seq_lens_bidirectional", "GRU", gru_bi, x, lengths, "bidirectional")
    node_case("lstm_seq_lens_reverse", "LSTM", lstm_bi, x, lengths, "reverse", h0=h, c0=c)
    node_case("lstm_seq_lens_bidirectional_batchwise", "LSTM", lstm_bi, x, lengths, "bidirectional", h0=h2, c0=c2, layout=1)
    node_case("rnn_seq_lens_bidirectional", "RNN", rnn_bi, x, lengths, "bidirectional", h0=h2)


if __name__ == "__main__":
    main()
