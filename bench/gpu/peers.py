#!/usr/bin/env python3
"""GPU peers of rnn4j's benchmark suite: PyTorch's cuDNN LSTM and GRU, and the SRU reference
implementation's CUDA kernel (package `sru`, v2 API; its `SRU` with rescale=False, v1=True is
SRU v1), one layer, input = hidden = d, at the suite's four shapes, forward (inference) and
forward + backward. Prints a Markdown table of ms per call and tokens/s, to set beside rnn4j's
cuda benchmarks on the same machine (the GPU bundle's run.sh runs both).

Everything runs in FP32: TF32 is switched off for cuDNN and for matrix products, because rnn4j's
default GEMM is FP32 and a TF32 peer would be compared on unequal terms.

The `sru` package compiles its CUDA extension on first use (a JIT build that can fail with any
exception, not only ImportError): that happens once, up front, inside the error handling, and the
SRU rows are left out with the reason when it fails. Lines starting "peers: " are for run.sh.

Needs a CUDA GPU and torch with CUDA; `sru` optional. Usage: python3 bench/gpu/peers.py [--iters 50]
"""
import argparse
import sys
import time

SHAPES = [(35, 32, 910), (32, 32, 256), (128, 32, 512), (35, 1, 910)]


def timed(torch, fn, iters):
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / iters * 1e3


def fp32_only(torch):
    """TF32 off everywhere PyTorch could use it for these layers."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def sru_factory(torch, dev):
    """Imports sru and runs its kernel once (its JIT compile); returns (factory, None) or (None, why)."""
    try:
        t0 = time.perf_counter()
        from sru import SRU  # the SRU reference implementation; may compile its CUDA extension here

        def make(d):
            return SRU(d, d, num_layers=1, rescale=False, v1=True, use_tanh=True)

        probe = make(8).to(dev)
        x = torch.randn(3, 2, 8, device=dev, requires_grad=True)
        probe(x)[0].sum().backward()  # forward and backward kernels compiled and run once
        torch.cuda.synchronize()
        print(f"peers: sru ready (import and first call {time.perf_counter() - t0:.1f} s)")
        return make, None
    except Exception as e:  # ImportError, or the extension build's RuntimeError/OSError
        return None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=50)
    args = ap.parse_args()
    try:
        import torch
    except ImportError as e:
        print(f"peers: no PyTorch ({e})")
        return 2
    if torch.version.cuda is None:
        print(f"peers: no PyTorch with CUDA (torch {torch.__version__} is a CPU-only build)")
        return 2
    if not torch.cuda.is_available():
        try:
            torch.cuda.init()  # raises with PyTorch's reason (no driver, no device)
            why = "torch.cuda.is_available() is False"
        except Exception as e:
            why = f"{type(e).__name__}: {e}"
        print(f"peers: no CUDA driver or device for torch {torch.__version__} (CUDA {torch.version.cuda}): {why}")
        return 3
    fp32_only(torch)
    dev = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
          f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}, matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}")
    makers = {"LSTM": lambda d: torch.nn.LSTM(d, d), "GRU": lambda d: torch.nn.GRU(d, d)}
    sru, why = sru_factory(torch, dev)
    if sru is None:
        print(f"peers: SRU rows left out: sru unusable ({why})")
    else:
        makers = {"SRU": sru, **makers}
    print("| model | T x B x d | forward ms | forward tok/s | fwd+bwd ms | fwd+bwd tok/s |")
    print("|---|---|---:|---:|---:|---:|")
    for (T, B, d) in SHAPES:
        for name, make in makers.items():
            m = make(d).to(dev)
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
            f = timed(torch, fwd, args.iters)
            m.train()
            fb = timed(torch, fwd_bwd, args.iters)
            print(f"| {name} | {T}x{B}x{d} | {f:.2f} | {T * B / f * 1e3:.0f} | {fb:.2f} | {T * B / fb * 1e3:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
