#!/usr/bin/env python3
"""Writes lrn_torch_golden.json: torch.nn.functional.local_response_norm (forward and autograd backward, float64) on
small tensors, for LrnReferenceTests. Run with a Python that has torch (this repository used torch 1.13):

    /usr/bin/python3 tests/NormKernels.Tests/Golden/make_lrn_golden.py

The tests only read the JSON; they never need torch."""
import json
import os

import torch

CASES = [
    # layout, dims (layout order), size, alpha, beta, k
    ("NCHW", [2, 7, 2, 3], 5, 0.7, 0.75, 1.0),
    ("NCHW", [1, 3, 2, 2], 4, 0.9, 1.3, 0.5),   # C smaller than the window, even size
    ("NCL", [2, 6, 5], 2, 0.5, 0.5, 2.0),
    ("NCL", [3, 1, 4], 3, 2.0, 0.75, 1.0),      # C = 1 (torch needs 3 or more dims)
]


def main():
    torch.manual_seed(0)
    out = []
    for layout, dims, size, alpha, beta, k in CASES:
        x = (torch.rand(dims, dtype=torch.float64) * 4 - 2).requires_grad_(True)
        dy = torch.rand(dims, dtype=torch.float64) * 2 - 1
        y = torch.nn.functional.local_response_norm(x, size, alpha=alpha, beta=beta, k=k)
        (dx,) = torch.autograd.grad(y, x, dy)
        out.append({
            "layout": layout, "dims": dims, "size": size, "alpha": alpha, "beta": beta, "k": k,
            "x": x.detach().flatten().tolist(), "dy": dy.flatten().tolist(),
            "y": y.detach().flatten().tolist(), "dx": dx.flatten().tolist(),
        })
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lrn_torch_golden.json")
    with open(path, "w") as f:
        json.dump({"torch": torch.__version__, "cases": out}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
