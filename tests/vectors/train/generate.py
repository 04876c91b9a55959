#!/usr/bin/python3
"""Generates the PyTorch reference values that dev.rnn4j.train's tests check against.

Run with Debian's PyTorch (apt-get install -y python3-torch): /usr/bin/python3 generate.py [section ...]
Writes one safetensors file per case next to this script (F32 tensors, string metadata), using
a small writer below because Debian has no safetensors package. Parameters are the shapes of
an nn.Linear(4, 3): weight (3, 4) and bias (3,), so the Java tests can hold them in a Linear.
"""
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 5


def write(name, tensors, meta):
    header, blobs, off = {}, [], 0
    meta = {k: str(v) for k, v in meta.items()}
    meta["torch"] = torch.__version__
    header["__metadata__"] = meta
    for k, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(HERE, name + ".safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def params(gen):
    return [torch.randn(3, 4, generator=gen), torch.randn(3, generator=gen)]


def optimizer_case(name, make, meta, seed):
    gen = torch.Generator().manual_seed(seed)
    ps = [p.clone().requires_grad_(True) for p in params(gen)]
    out = {"param.init.%d" % i: p.detach().clone() for i, p in enumerate(ps)}
    opt = make(ps)
    for s in range(STEPS):
        for i, p in enumerate(ps):
            p.grad = torch.randn(p.shape, generator=gen)
            out["grad.%d.%d" % (s, i)] = p.grad.clone()
        opt.step()
        for i, p in enumerate(ps):
            out["param.%d.%d" % (s, i)] = p.detach().clone()
    for i, p in enumerate(ps):
        for k, v in opt.state[p].items():
            if torch.is_tensor(v):
                out["state.%d.%s" % (i, k)] = v.detach().clone().reshape(v.shape)
    meta = dict(meta)
    meta["steps"] = STEPS
    write(name, out, meta)


def optimizers():
    O = torch.optim
    optimizer_case("sgd_plain", lambda ps: O.SGD(ps, lr=0.1), {"type": "SGD", "lr": 0.1}, 1)
    optimizer_case("sgd_momentum", lambda ps: O.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
                   {"type": "SGD", "lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}, 2)
    optimizer_case("sgd_nesterov", lambda ps: O.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.001),
                   {"type": "SGD", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.001}, 3)
    optimizer_case("adam_default", lambda ps: O.Adam(ps), {"type": "Adam"}, 4)
    optimizer_case("adam_options", lambda ps: O.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
                   {"type": "Adam", "lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1}, 5)
    optimizer_case("adamw_default", lambda ps: O.AdamW(ps), {"type": "AdamW"}, 6)
    optimizer_case("adamw_options", lambda ps: O.AdamW(ps, lr=0.005, betas=(0.85, 0.995), eps=1e-7, weight_decay=0.1),
                   {"type": "AdamW", "lr": 0.005, "beta1": 0.85, "beta2": 0.995, "eps": 1e-7, "weight_decay": 0.1}, 7)


def clipping():
    for name, max_norm, scale in (("clip_active", 1.0, 3.0), ("clip_inactive", 100.0, 1.0)):
        gen = torch.Generator().manual_seed(11)
        ps = [p.requires_grad_(True) for p in params(gen)]
        out = {}
        for i, p in enumerate(ps):
            p.grad = torch.randn(p.shape, generator=gen) * scale
            out["grad.%d" % i] = p.grad.clone()
        norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        for i, p in enumerate(ps):
            out["clipped.%d" % i] = p.grad.clone()
        out["total_norm"] = norm.reshape(1)
        write(name, out, {"max_norm": max_norm})


def losses():
    gen = torch.Generator().manual_seed(21)
    x = torch.randn(4, 3, generator=gen, requires_grad=True)
    y = torch.randn(4, 3, generator=gen)
    out = {"input": x.detach().clone(), "target": y}
    for red in ("mean", "sum"):
        x.grad = None
        loss = torch.nn.functional.mse_loss(x, y, reduction=red)
        loss.backward()
        out["loss." + red] = loss.detach().reshape(1)
        out["grad." + red] = x.grad.clone()
    write("mse", out, {})

    logits = (torch.randn(5, 7, generator=gen) * 2).requires_grad_(True)
    targets = torch.tensor([0, 6, 3, 3, 1])
    out = {"logits": logits.detach().clone(), "targets": targets.to(torch.float32)}
    for red in ("mean", "sum"):
        logits.grad = None
        loss = torch.nn.functional.cross_entropy(logits, targets, reduction=red)
        loss.backward()
        out["loss." + red] = loss.detach().reshape(1)
        out["grad." + red] = logits.grad.clone()
    one = torch.randn(7, generator=gen, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(one, torch.tensor(2))
    loss.backward()
    out["unbatched.logits"] = one.detach().clone()
    out["unbatched.loss"] = loss.detach().reshape(1)
    out["unbatched.grad"] = one.grad.clone()
    write("cross_entropy", out, {"unbatched.target": 2})


def masked_losses():
    """cross_entropy with weight= and ignore_index=, and mse over a 0/1 mask and over weights."""
    gen = torch.Generator().manual_seed(31)
    F = torch.nn.functional
    logits = (torch.randn(6, 5, generator=gen) * 2).requires_grad_(True)
    weight = torch.rand(5, generator=gen) + 0.25
    cases = {
        # name: (targets, weight, ignore_index)
        "ignore": ([1, -100, 4, 1, -100, 0], None, -100),
        "weighted": ([1, 3, 4, 1, 2, 0], weight, -100),
        "weighted_ignore": ([1, -100, 4, 1, -100, 0], weight, -100),
        "ignore_class": ([3, 0, 3, 2, 1, 4], weight, 3),
    }
    out = {"logits": logits.detach().clone(), "weight": weight}
    meta = {"cases": ",".join(cases)}
    for name, (targets, w, ignore) in cases.items():
        t = torch.tensor(targets)
        out[name + ".targets"] = t.to(torch.float32)
        meta[name + ".weighted"] = w is not None
        meta[name + ".ignore_index"] = ignore
        for red in ("mean", "sum"):
            logits.grad = None
            loss = F.cross_entropy(logits, t, weight=w, ignore_index=ignore, reduction=red)
            loss.backward()
            out[name + ".loss." + red] = loss.detach().reshape(1)
            out[name + ".grad." + red] = logits.grad.clone()
    write("cross_entropy_masked", out, meta)

    x = torch.randn(3, 4, 2, generator=gen, requires_grad=True)
    y = torch.randn(3, 4, 2, generator=gen)
    mask = (torch.rand(3, 4, 1, generator=gen) < 0.6).to(torch.float32).expand(3, 4, 2).contiguous()
    w = torch.rand(3, 4, 2, generator=gen) * 2
    out = {"input": x.detach().clone(), "target": y, "mask": mask, "weights": w}
    for name, m in (("mask", mask), ("weights", w)):
        for red in ("mean", "sum"):
            x.grad = None
            loss = ((x - y) ** 2 * m).sum()
            if red == "mean":
                loss = loss / m.sum()
            loss.backward()
            out[name + ".loss." + red] = loss.detach().reshape(1)
            out[name + ".grad." + red] = x.grad.clone()
    write("mse_masked", out, {})


def schedules():
    def run(make):
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=0.1)
        sched = make(opt)
        lrs = [opt.param_groups[0]["lr"]]
        for _ in range(10):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        return lrs
    S = torch.optim.lr_scheduler
    step = run(lambda o: S.StepLR(o, step_size=3, gamma=0.5))
    exp = run(lambda o: S.ExponentialLR(o, gamma=0.9))
    # lrs are Python floats (doubles): stored exactly as metadata strings.
    write("schedules", {"unused": torch.zeros(1)},
          {"base_lr": 0.1, "step.step_size": 3, "step.gamma": 0.5, "exp.gamma": 0.9,
           "step.lrs": ",".join(repr(v) for v in step), "exp.lrs": ",".join(repr(v) for v in exp)})


SECTIONS = {"optimizers": optimizers, "clipping": clipping, "losses": losses, "masked_losses": masked_losses,
            "schedules": schedules}

if __name__ == "__main__":
    # No arguments: every section; else only the named ones (e.g. masked_losses), leaving the other files as they are.
    torch.manual_seed(0)
    for section in sys.argv[1:] or SECTIONS:
        SECTIONS[section]()
