#!/usr/bin/env python3
"""GPU peers of rnn4j's benchmark suite: PyTorch's cuDNN LSTM and GRU, and the SRU reference
implementation's CUDA kernel (package `sru`, v2 API; its `SRU` with rescale=False, v1=True is
SRU v1), one layer, input = hidden = d, at the suite's four shapes, forward (inference) and
forward + backward. Prints a Markdown table of ms per call and tokens/s, to set beside
`./rnn4j bench --backends cuda` on the same machine.

Needs a CUDA GPU, torch with CUDA, and optionally `pip install sru` (the SRU rows are skipped
without it). Usage: python3 bench/gpu/peers.py [--iters 50]
"""
import argparse
import time

import torch

SHAPES = [(35, 32, 910), (32, 32, 256), (128, 32, 512), (35, 1, 910)]


def timed(fn, iters):
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / iters * 1e3


def layer(name, d):
    if name == "LSTM":
        return torch.nn.LSTM(d, d)
    if name == "GRU":
        return torch.nn.GRU(d, d)
    from sru import SRU  # the SRU reference implementation
    return SRU(d, d, num_layers=1, rescale=False, v1=True, use_tanh=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=50)
    args = ap.parse_args()
    dev = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")
    print("| model | T x B x d | forward ms | forward tok/s | fwd+bwd ms | fwd+bwd tok/s |")
    print("|---|---|---:|---:|---:|---:|")
    for (T, B, d) in SHAPES:
        for name in ("SRU", "LSTM", "GRU"):
            try:
                m = layer(name, d).to(dev)
            except ImportError:
                continue
            x = torch.randn(T, B, d, device=dev)
            g = torch.randn(T, B, d, device=dev) * 1e-3

            def fwd():
                with torch.no_grad():
                    m(x)

            def fwd_bwd():
                xx = x.detach().requires_grad_(True)
                y = m(xx)[0]
                y.backward(g)

            m.eval()
            f = timed(fwd, args.iters)
            m.train()
            fb = timed(fwd_bwd, args.iters)
            print(f"| {name} | {T}x{B}x{d} | {f:.2f} | {T * B / f * 1e3:.0f} | {fb:.2f} | {T * B / fb * 1e3:.0f} |")


if __name__ == "__main__":
    main()
