#!/usr/bin/python3
"""Generates the PyTorch-made state dicts that dev.rnn4j.io's StateDicts and SafeTensors tests load.

Run with Debian's PyTorch (apt-get install -y python3-torch): /usr/bin/python3 generate.py
Writes next to this script, with a small safetensors writer below (Debian has no safetensors
package), each tensor in its own dtype:

  lstm_f64.safetensors        nn.LSTM(3, 4).double().state_dict(): F64, as a model.double() save
  lstm_f64_float.safetensors  the same parameters after .float(): F32, what loading must give
  f64_edges.safetensors       "edges" (F64 values at float32's rounding and range limits) and
                              "edges_float" (torch's .float() of them: F32)
  seq2seq.safetensors         a model's state dict with nested names: encoder nn.LSTM(3, 4),
                              decoder nn.LSTM(4, 2) (the same keys, other shapes), head nn.Linear(2, 5)
  nonstrict.safetensors       nn.LSTM(3, 4)'s state dict without bias_hh_l0 and with an extra
                              proj.weight; metadata missing_keys and unexpected_keys (JSON lists)
                              are what load_state_dict(strict=False) returned for it
"""
import json
import math
import os
import struct

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {torch.float64: "F64", torch.float32: "F32"}


def write(name, tensors, meta=None):
    header, blobs, off = {}, [], 0
    meta = dict(meta or {})
    meta["torch"] = torch.__version__
    header["__metadata__"] = meta
    for k, t in tensors.items():
        t = t.detach().contiguous()
        b = t.numpy().tobytes()
        header[k] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(HERE, name + ".safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(20261207)

    lstm = nn.LSTM(3, 4).double()
    write("lstm_f64", lstm.state_dict())
    write("lstm_f64_float", {k: v.float() for k, v in lstm.state_dict().items()})

    fmax = 3.4028234663852886e38                  # largest float32
    tiny = 1.401298464324817e-45                  # smallest float32 subnormal
    edges = torch.tensor([
        1.0, 0.1, -1.0 / 3.0, -0.0, 16777217.0,   # exact; rounded; rounded; signed zero; a tie to even
        fmax, 3.4028235677973362e38,              # largest; just under halfway past it (rounds to it)
        3.4028235677973366e38, 1e39, -1e300,      # halfway past it (rounds to inf, the even side); beyond
        math.inf, -math.inf, math.nan,
        tiny, tiny / 2, tiny * 0.5000001, -1e-50,  # subnormal; a tie to zero; just over it; underflow
        1.1754942106924411e-38,                   # the largest float32 subnormal
    ], dtype=torch.float64)
    write("f64_edges", {"edges": edges, "edges_float": edges.float()})

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.LSTM(3, 4)
            self.decoder = nn.LSTM(4, 2)
            self.head = nn.Linear(2, 5)

    write("seq2seq", Seq2Seq().state_dict())

    sd = dict(nn.LSTM(3, 4).state_dict())
    del sd["bias_hh_l0"]
    sd["proj.weight"] = torch.randn(2, 4)
    result = nn.LSTM(3, 4).load_state_dict(sd, strict=False)
    write("nonstrict", sd, {"missing_keys": json.dumps(result.missing_keys),
                            "unexpected_keys": json.dumps(result.unexpected_keys)})


if __name__ == "__main__":
    main()
