#!/usr/bin/python3
"""PyTorch float32's error on offset data, for the README's precision table (issue 9).

Data: offset + scale * N(0, 1), rounded to float32; weight 1, bias 0 (as in the issue's measurement). Each float32
result is compared with a float64 computation of the same float32 input (PyTorch's own ops in float64). Forward:
max |y - ref|. Backward (training mode, gradient dy = 1e3 + N(0, 1)): max |dx - ref| / max |ref|.

Run with Debian's python3-torch: /usr/bin/python3 bench/torch/precision_torch.py   (CI does not need it.)
"""
import torch
import torch.nn.functional as F

torch.manual_seed(9)
OFFSETS = [(1e4, 1.0), (-3e3, 0.01), (1e6, 1.0)]
EPS = 1e-5


def data(shape, offset, scale):
    return (offset + scale * torch.randn(shape, dtype=torch.float64)).float()


def cases():
    # (name, float32 input shape, function of (x, training) in x's dtype, has inference)
    def bn(x, training):
        c = x.shape[1]
        rm = x.detach().double().mean(dim=(0, 2, 3)).to(x.dtype)  # running stats near the data, as float32
        rv = x.detach().double().var(dim=(0, 2, 3), unbiased=False).to(x.dtype)
        return F.batch_norm(x, rm.clone(), rv.clone(), torch.ones(c, dtype=x.dtype), torch.zeros(c, dtype=x.dtype), training, 0.1, EPS)

    def bn_nhwc(x, training):
        return bn(x.contiguous(memory_format=torch.channels_last), training)

    def ln(x, training):
        return F.layer_norm(x, (x.shape[-1],), torch.ones(x.shape[-1], dtype=x.dtype), torch.zeros(x.shape[-1], dtype=x.dtype), EPS)

    def gn(x, training):
        x = x.contiguous(memory_format=torch.channels_last)
        return F.group_norm(x, 4, torch.ones(x.shape[1], dtype=x.dtype), torch.zeros(x.shape[1], dtype=x.dtype), EPS)

    def inorm(x, training):
        x = x.contiguous(memory_format=torch.channels_last)
        return F.instance_norm(x, weight=torch.ones(x.shape[1], dtype=x.dtype), bias=torch.zeros(x.shape[1], dtype=x.dtype), eps=EPS)

    return [
        ("BN NCHW", (8, 16, 28, 28), bn, True),
        ("BN NHWC", (8, 16, 28, 28), bn_nhwc, True),
        ("LN [.,768]", (64, 768), ln, False),
        ("GN(4) NHWC", (8, 16, 28, 28), gn, False),
        ("IN NHWC", (8, 16, 28, 28), inorm, False),
    ]


def forward_error(fn, x, training):
    y32 = fn(x, training)
    y64 = fn(x.double(), training)
    return (y32.double() - y64).abs().max().item()


def backward_error(fn, x):
    dy = (1e3 + torch.randn(x.shape, dtype=torch.float64)).float()
    x32 = x.clone().requires_grad_(True)
    fn(x32, True).backward(dy)
    x64 = x.double().requires_grad_(True)
    fn(x64, True).backward(dy.double())
    ref = x64.grad
    return ((x32.grad.double() - ref).abs().max() / ref.abs().max()).item()


def main():
    torch.set_num_threads(1)
    print("torch", torch.__version__)
    header = "| family | mode | " + " | ".join(f"({o:g}, {s:g})" for o, s in OFFSETS) + " |"
    print(header)
    print("|---|---|" + "---:|" * len(OFFSETS))
    for name, shape, fn, inference in cases():
        xs = [data(shape, o, s) for o, s in OFFSETS]
        rows = [("training", [forward_error(fn, x, True) for x in xs])]
        if inference:
            rows.append(("inference", [forward_error(fn, x, False) for x in xs]))
        rows.append(("backward (rel.)", [backward_error(fn, x) for x in xs]))
        for mode, errs in rows:
            print(f"| {name} | {mode} | " + " | ".join(f"{e:.2g}" for e in errs) + " |")


if __name__ == "__main__":
    main()
