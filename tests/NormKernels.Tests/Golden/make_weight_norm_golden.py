#!/usr/bin/env python3
"""Writes weight_norm_torch_golden.json: torch._weight_norm (what nn.utils.weight_norm computes; forward and autograd
backward) on small tensors, float32 and float64, for WeightNormTests: the generated [WeightNormalize] layers must give
PyTorch's numbers, and PyTorch's NaN where a slice of v is all zeros. Run with a Python that has torch (this repository
used torch 1.13):

    /usr/bin/python3 tests/NormKernels.Tests/Golden/make_weight_norm_golden.py

The tests only read the JSON; they never need torch. float32 values are written with 9 significant digits (exact);
NaN is written as the string "NaN"."""
import json
import math
import pathlib

import torch

CASES = [
    # name of the test layer, its layout, dims (layout order), torch dim (the kept axis), zero slice (index along it) or None
    ("WnConv", "OIHW", [3, 2, 2, 3], 0, 1),          # g has O entries; output channel 1 all zeros
    ("WnLinear", "OI", [4, 5], 0, None),
    ("WnLinearColumns", "OI", [5, 4], 1, 2),           # dim=1: a norm per column, column 2 all zeros
    ("WnConvDouble", "OIHW", [2, 3, 1, 2], 0, None),
]


def values(tensor):
    out = []
    for v in tensor.detach().flatten().tolist():
        out.append("NaN" if math.isnan(v) else (float(format(v, ".9g")) if tensor.dtype == torch.float32 else v))
    return out


def main():
    torch.manual_seed(0)
    out = []
    for name, layout, dims, dim, zero in CASES:
        dtype = torch.float64 if name.endswith("Double") else torch.float32
        v = torch.randn(dims, dtype=dtype)
        if zero is not None:
            v.select(dim, zero).zero_()
        g_shape = [d if a == dim else 1 for a, d in enumerate(dims)]
        g = torch.rand(g_shape, dtype=dtype) * 3 - 1.5
        dw = torch.randn(dims, dtype=dtype)
        v.requires_grad_(True)
        g.requires_grad_(True)
        w = torch._weight_norm(v, g, dim)
        dv, dg = torch.autograd.grad(w, (v, g), dw)
        out.append({
            "name": name, "layout": layout, "dims": dims, "dim": dim,
            "v": values(v), "g": values(g), "dw": values(dw),
            "w": values(w), "dv": values(dv), "dg": values(dg),
        })
    golden = pathlib.Path(__file__).resolve().with_name("weight_norm_torch_golden.json")
    golden.write_text(json.dumps({"torch": torch.__version__, "cases": out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
