#!/usr/bin/python3
"""PyTorch column of the NormKernels fused bench (`--fused`): PyTorch 1.13's op sequence for one fused case.

    /usr/bin/python3 bench/torch/bench_fused.py OP DIMS THREADS     prints the median ns per call

OP: tail      relu(batch_norm(x, training=True) + r)   DIMS n,c,h,w,channels_last(0/1)
    gn_silu   silu(group_norm(x, 32))                  DIMS n,c,h,w,channels_last
    add_ln    s = x + r; layer_norm(s)                 DIMS rows,c
    add_rms   s = x + r; s * rsqrt(mean(s^2) + eps) * w (torch 1.13 has no RMSNorm)
    ln_decode layer_norm(x) over the last dim          DIMS rows,c
    add_ln_bwd   add_ln's backward: dx = layer_norm'(s) dy + ds (aten's native_layer_norm_backward, then the add)
    add_rms_bwd  add_rms's backward through autograd (torch 1.13 has no RMSNorm kernel), then the add
Eager PyTorch fuses none of these: each op is its own pass over memory, as users run it. Calls are timed one by one
(perf_counter_ns) after warm-up; the median is printed.
"""
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def main():
    op, dims, threads = sys.argv[1], [int(d) for d in sys.argv[2].split(",")], int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if op in ("tail", "gn_silu"):
        n, c, h, w, last = dims
        fmt = torch.channels_last if last else torch.contiguous_format
        x = torch.rand(n, c, h, w).contiguous(memory_format=fmt)
        r = torch.rand(n, c, h, w).contiguous(memory_format=fmt)
        weight, bias = torch.ones(c), torch.zeros(c)
        rm, rv = torch.zeros(c), torch.ones(c)
        if op == "tail":
            call = lambda: F.relu(F.batch_norm(x, rm, rv, weight, bias, True, 0.1, 1e-5) + r)
        else:
            call = lambda: F.silu(F.group_norm(x, 32, weight, bias, 1e-5))
    else:
        rows, c = dims
        x, r = torch.rand(rows, c), torch.rand(rows, c)
        weight, bias = torch.ones(c), torch.zeros(c)
        if op == "add_ln":
            def call():
                s = x + r
                return s, F.layer_norm(s, (c,), weight, bias, 1e-5)
        elif op == "add_rms":
            def call():
                s = x + r
                return s, s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + 1e-5) * weight
        elif op == "add_ln_bwd":
            s = x + r
            dy, ds = torch.rand(rows, c), torch.rand(rows, c)
            _, mean, rstd = torch.native_layer_norm(s, (c,), weight, bias, 1e-5)

            def call():
                dx, _, _ = torch.ops.aten.native_layer_norm_backward(dy, s, (c,), mean, rstd, weight, bias, [True, True, True])
                return dx + ds
        elif op == "add_rms_bwd":
            s = (x + r).requires_grad_(True)
            w = weight.clone().requires_grad_(True)
            out = s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + 1e-5) * w
            dy, ds = torch.rand(rows, c), torch.rand(rows, c)

            def call():
                dx, _ = torch.autograd.grad(out, [s, w], dy, retain_graph=True)
                return dx + ds
        elif op == "ln_decode":
            call = lambda: F.layer_norm(x, (c,), weight, bias, 1e-5)
        else:
            raise SystemExit("unknown op " + op)
    small = x.numel() < 100000
    for _ in range(200 if small else 5):
        call()
    times = []
    budget = time.perf_counter() + (0.5 if small else 2.0)
    while len(times) < (2000 if small else 30) or time.perf_counter() < budget:
        t0 = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - t0)
        if len(times) > 200000:
            break
    print(statistics.median(times))


if __name__ == "__main__":
    main()
