#!/usr/bin/env python3
"""Writes torch_state_golden.json: the state_dict of torch.nn.BatchNorm2d (momentum 0.1 and momentum=None, trained three
steps so the running statistics and num_batches_tracked are not the initial ones), LayerNorm([C, H, W]) and
GroupNorm(2, C), all with random weight and bias, plus an input and PyTorch's output for it (BatchNorm in eval mode), and
for BatchNorm the three training batches. For ModuleTests: the layers load the state and must reproduce the output.
Run with a Python that has torch (this repository used torch 1.13):

    /usr/bin/python3 tests/NormKernels.Tests/Golden/make_state.py

The tests only read the JSON; they never need torch. Values are float32, written with 9 significant digits (exact)."""
import json
import os

import torch


def values(tensor):
    return [float(format(v, ".9g")) for v in tensor.detach().flatten().tolist()]


def randomize_affine(module, generator):
    with torch.no_grad():
        module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
        module.bias.copy_(torch.rand(module.bias.shape, generator=generator) - 0.5)


def state(module):
    out = {}
    for key, tensor in module.state_dict().items():
        out[key] = [int(tensor.item())] if key == "num_batches_tracked" else values(tensor)
    return out


def batchnorm(generator, momentum):
    n, c, h, w = 2, 3, 2, 2
    bn = torch.nn.BatchNorm2d(c, eps=1e-5, momentum=momentum)
    randomize_affine(bn, generator)
    bn.train()
    batches = []
    for step in range(3):
        # Each batch with its own offset and spread per channel, so the running statistics move.
        x = torch.randn((n, c, h, w), generator=generator) * (1 + step) + torch.tensor([step, -2.0, 0.5]).view(1, c, 1, 1)
        bn(x)
        batches.append(values(x))
    bn.eval()
    x = torch.randn((n, c, h, w), generator=generator) * 2 + 0.25
    with torch.no_grad():
        y = bn(x)
    return {"module": "BatchNorm2d", "momentum": momentum, "eps": bn.eps, "dims": [n, c, h, w], "batches": batches,
            "state": state(bn), "x": values(x), "y": values(y)}


def layernorm(generator):
    n, c, h, w = 2, 2, 2, 3
    ln = torch.nn.LayerNorm([c, h, w], eps=1e-5)
    randomize_affine(ln, generator)
    x = torch.randn((n, c, h, w), generator=generator) * 3 - 1
    with torch.no_grad():
        y = ln(x)
    return {"module": "LayerNorm", "eps": ln.eps, "dims": [n, c, h, w], "state": state(ln), "x": values(x), "y": values(y)}


def groupnorm(generator):
    n, c, h, w, groups = 2, 4, 1, 3, 2
    gn = torch.nn.GroupNorm(groups, c, eps=1e-5)
    randomize_affine(gn, generator)
    x = torch.randn((n, c, h, w), generator=generator) * 2 + 1
    with torch.no_grad():
        y = gn(x)
    return {"module": "GroupNorm", "groups": groups, "eps": gn.eps, "dims": [n, c, h, w], "state": state(gn), "x": values(x), "y": values(y)}


def main():
    generator = torch.Generator().manual_seed(14)
    cases = [batchnorm(generator, 0.1), batchnorm(generator, None), layernorm(generator), groupnorm(generator)]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_state_golden.json")
    with open(path, "w") as f:
        f.write('{"torch": %s, "cases": [\n' % json.dumps(torch.__version__))
        f.write(",\n".join(json.dumps(case, separators=(",", ":")) for case in cases))
        f.write("\n]}\n")


if __name__ == "__main__":
    main()
