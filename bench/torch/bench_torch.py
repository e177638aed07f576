#!/usr/bin/python3
"""PyTorch column of the NormKernels benchmark.

Run by bench/NormKernels.Bench as a child process with Debian's interpreter (/usr/bin/python3, which has
python3-torch): it writes the cases as JSON on stdin, reads one JSON object on stdout, and shows this
script's stderr (one line per case) as progress. Standalone: the same, e.g.
    echo '[{"id":"bn-train-nchw-S5","op":"bn_train","layout":"NCHW","n":1,"c":32,"h":16,"w":16}]' \
        | /usr/bin/python3 bench/torch/bench_torch.py --quick

Method (as the research notes' torch measurements, shorter in --quick):
* torch.set_num_threads(--threads, default 1); default ATen CPU dispatch (AVX2 on this machine with
  Debian's torch 1.13; ATEN_CPU_CAPABILITY=avx512 opts in), functional API called from Python, so the
  ~3-5 us dispatch overhead per call is included (it dominates only tiny shapes);
* outputs allocated per call as torch code does (the caller sets MALLOC_MMAP_THRESHOLD_ and
  MALLOC_TRIM_THRESHOLD_ so glibc keeps freed 25 MB blocks instead of page-faulting them back in);
* per case: warm-up calls, then every call timed on its own (time.perf_counter_ns) until both a minimum
  number of calls and a minimum time are reached; the median is reported, with the min and the count;
* a call during which this thread waited on the run queue for more than 3% of its time (another job had
  the CPU; /proc/thread-self/schedstat) is dropped, as the research notes dropped such blocks (counted in
  "dropped"); when fewer than 3 calls are clean after max_seconds, the median is of every call, disturbed
  ones included, and "all_dropped" is true: the program then reports no torch time for the case;
* "copy_median_ms": out.copy_(x) of the same tensor and memory format, torch's own copy limit.

Ops (PyTorch semantics, eps = 1e-5, per-channel affine):
  bn_train / bn_infer   F.batch_norm(training=True / False); NHWC = channels_last memory format
  ln_sample             F.layer_norm over (C, H, W) (torch's affine is elementwise [C, H, W])
  ln_last               F.layer_norm over the last dim of [N, C]
  instance              F.instance_norm (channels_last input: torch converts it, output comes back NCHW)
  group32               F.group_norm(x, 32)
  lrn5                  F.local_response_norm(x, 5, alpha=1e-4, beta=0.75, k=1.0) (AlexNet; no weights)
  rms_last              F.rms_norm when torch has it (>= 2.4), else the composed expression
                        x * rsqrt(mean(x^2, -1) + eps) * w + b (torch 1.13 has no RMSNorm)
  bn_backward           torch.ops.aten.native_batch_norm_backward(dy, x, w, None, None, save_mean, save_invstd,
                        train=True, eps, [True, True, True]) (NHWC: x and dy channels_last)
  ln_backward           torch.ops.aten.native_layer_norm_backward(dy, x, (C,), mean, rstd, w, b, [True, True, True])
  gn_backward           torch.ops.aten.native_group_norm_backward(dy, x, mean, rstd, w, N, C, H*W, 32, [True, True, True]);
                        NHWC on torch 1.13: its kernel reads x and dy as contiguous NCHW whatever their format (the
                        gradients of a channels_last call are wrong), and its autograd formula passes dy.contiguous()
                        and x.contiguous(): that is the call timed there, conversions included (dx comes back NCHW)

Serve mode (--serve, what the bench runs by default since the fifty-second session): instead of measuring every case
itself, the script answers one command a line on stdin, one reply a line on stdout, so that the bench times torch's
batches in the same rounds as its own kernels:
  info                 -> {"torch_version": ..., "threads": ..., "cpu_capability": ...}
  case <json case>     -> "ok", or "error <message>" (built and, for a backward, checked as below)
  run <calls>          -> "<ns> <run-queue ns>": that many calls of the current case, timed as one batch, and how long
                          this thread waited on the run queue meanwhile (0 where unavailable)
  quit

Every backward call is checked once against torch.autograd.grad through the functional forward (F.batch_norm,
F.layer_norm, F.group_norm) on the same tensors before it is timed; a call whose gradients differ is an error, not a time.

Backward ops: only the backward is timed. The saved statistics come from one call of the matching native forward
(torch.native_batch_norm / native_layer_norm / native_group_norm) at setup, and the timed call is the ATen backward
kernel autograd itself calls, with the same output mask (dx, dweight, dbias): no autograd graph, no forward in the
timing (autograd on a retained graph would add the graph walk and its per-node dispatch, measured separately from the
kernel nowhere). dy is uniform in [-1, 1). Their "copy" is torch.add(x, dy, out=out): x and dy read, one tensor
written, the same bytes the C# copy limit of a backward case moves.
"""
import argparse
import json
import statistics
import sys
import time

MIN_CALLS_QUICK, MIN_SECONDS_QUICK, WARMUP_QUICK = 15, 0.05, 3
MIN_CALLS_FULL, MIN_SECONDS_FULL, WARMUP_FULL = 60, 1.0, 10
MAX_SECONDS_QUICK, MAX_SECONDS_FULL = 1.0, 5.0
MAX_RUN_QUEUE_SHARE = 0.03


def run_queue_reader():
    """Returns a function giving this thread's total run-queue wait in ns, or None where unavailable."""
    import os
    try:
        fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        read = lambda: int(os.pread(fd, 128, 0).split()[1])
        read()
        return read
    except (OSError, ValueError, IndexError):
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions")
    parser.add_argument("--serve", action="store_true", help="answer commands on stdin (see the module's notes)")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = [] if args.serve else json.load(sys.stdin)
    min_calls, min_seconds, max_seconds, warmup = (
        (MIN_CALLS_QUICK, MIN_SECONDS_QUICK, MAX_SECONDS_QUICK, WARMUP_QUICK) if args.quick
        else (MIN_CALLS_FULL, MIN_SECONDS_FULL, MAX_SECONDS_FULL, WARMUP_FULL))

    run_queue = run_queue_reader()

    def measure(fn):
        for _ in range(warmup):
            fn()
        clean, everything = [], []
        begin = time.perf_counter()
        while True:
            w0 = run_queue() if run_queue else 0
            t0 = time.perf_counter_ns()
            fn()
            t1 = time.perf_counter_ns()
            w1 = run_queue() if run_queue else 0
            everything.append(t1 - t0)
            if w1 - w0 <= MAX_RUN_QUEUE_SHARE * (t1 - t0):
                clean.append(t1 - t0)
            elapsed = time.perf_counter() - begin
            if len(clean) >= min_calls and elapsed >= min_seconds:
                break
            if elapsed >= max_seconds and len(everything) >= min_calls:
                break
        all_dropped = len(clean) < 3
        times = everything if all_dropped else clean
        return statistics.median(times) / 1e6, min(times) / 1e6, len(times), len(everything) - len(clean), all_dropped

    def backward_matches_autograd(fn, op, x, dy, weight, bias, eps, groups):
        """Whether the timed backward call gives the gradients autograd gives for the same forward (dx, dweight,
        dbias within 1e-3 of the largest magnitude): a call that is fast because it computes something else is not
        a baseline."""
        with torch.enable_grad():
            xr, wr, br = (t.detach().clone().requires_grad_() for t in (x, weight, bias))
            if op == "bn_backward":
                y = F.batch_norm(xr, None, None, wr, br, training=True, eps=eps)
            elif op == "ln_backward":
                y = F.layer_norm(xr, (x.shape[-1],), wr, br, eps)
            else:
                y = F.group_norm(xr, groups, wr, br, eps)
            expected = torch.autograd.grad(y, (xr, wr, br), dy)
        got = fn()
        for e, g in zip(expected, got):
            scale = max(e.abs().max().item(), 1e-30)
            if g is None or g.shape != e.shape or (g - e).abs().max().item() > 1e-3 * scale:
                return False
        return True

    def build(case):
        op, layout = case["op"], case["layout"]
        n, c, h, w = case["n"], case["c"], case["h"], case["w"]
        eps = case.get("eps", 1e-5)
        shape = (n, c) if layout == "NC" else (n, c, h, w)
        x = torch.rand(shape, dtype=torch.float32) * 2 - 0.5
        if layout == "NHWC":
            x = x.contiguous(memory_format=torch.channels_last)
        weight = torch.rand(c) + 0.5
        bias = torch.rand(c) - 0.5
        if op in ("bn_train", "bn_infer"):
            mean, var = torch.rand(c) * 0.5 + 0.25, torch.rand(c) * 0.3 + 0.2
            training = op == "bn_train"
            fn = lambda: F.batch_norm(x, mean, var, weight, bias, training=training, momentum=0.1, eps=eps)
        elif op == "ln_sample":
            w_full, b_full = torch.rand(c, h, w) + 0.5, torch.rand(c, h, w) - 0.5
            fn = lambda: F.layer_norm(x, (c, h, w), w_full, b_full, eps)
        elif op == "ln_last":
            fn = lambda: F.layer_norm(x, (c,), weight, bias, eps)
        elif op == "instance":
            fn = lambda: F.instance_norm(x, weight=weight, bias=bias, eps=eps)
        elif op == "group32":
            fn = lambda: F.group_norm(x, 32, weight, bias, eps)
        elif op == "rms_last":
            if hasattr(F, "rms_norm"):
                fn = lambda: F.rms_norm(x, (c,), weight, eps) + bias
            else:
                fn = lambda: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight + bias
        elif op == "lrn5":
            fn = lambda: F.local_response_norm(x, 5, alpha=1e-4, beta=0.75, k=1.0)
        elif op in ("bn_backward", "ln_backward", "gn_backward"):
            dy = torch.rand(shape, dtype=torch.float32) * 2 - 1
            if layout == "NHWC":
                dy = dy.contiguous(memory_format=torch.channels_last)
            mask = [True, True, True]
            native_backward = torch.ops.aten
            if op == "bn_backward":
                _, save_mean, save_invstd = torch.native_batch_norm(x, weight, bias, None, None, True, 0.1, eps)[:3]
                fn = lambda: native_backward.native_batch_norm_backward(
                    dy, x, weight, None, None, save_mean, save_invstd, True, eps, mask)
            elif op == "ln_backward":
                _, mean, rstd = torch.native_layer_norm(x, (c,), weight, bias, eps)
                fn = lambda: native_backward.native_layer_norm_backward(dy, x, (c,), mean, rstd, weight, bias, mask)
            else:
                groups = case.get("groups", 32)
                _, mean, rstd = torch.native_group_norm(x, weight, bias, n, c, h * w, groups, eps)
                fn = lambda: native_backward.native_group_norm_backward(dy, x, mean, rstd, weight, n, c, h * w, groups, mask)
            groups = case.get("groups", 32)
            matches = backward_matches_autograd(fn, op, x, dy, weight, bias, eps, groups)
            if not matches and op == "gn_backward":
                # torch 1.13's CPU kernel reads any input as contiguous NCHW (a channels_last x and dy give wrong
                # gradients), and its autograd formula calls it on grad.contiguous() and input.contiguous():
                # that call, conversions included, is what a torch user's backward runs.
                fn = lambda: native_backward.native_group_norm_backward(
                    dy.contiguous(), x.contiguous(), mean, rstd, weight, n, c, h * w, groups, mask)
                matches = backward_matches_autograd(fn, op, x, dy, weight, bias, eps, groups)
            if not matches:
                raise ValueError("the timed backward call's gradients differ from autograd's; not timed")
            out = torch.empty_like(x)
            copy = lambda: torch.add(x, dy, out=out)
            return fn, copy
        else:
            raise ValueError(f"op '{op}' is not measured here")
        out = torch.empty_like(x)
        copy = lambda: out.copy_(x)
        return fn, copy

    def capability_line():
        for line in torch.__config__.show().splitlines():  # "  - CPU capability usage: AVX2"
            if "CPU capability usage:" in line:
                return line.split(":", 1)[1].strip()
        return "unknown"

    if args.serve:
        current = None
        with torch.no_grad():
            for line in sys.stdin:
                command, _, rest = line.strip().partition(" ")
                if command == "info":
                    reply = json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(),
                                        "cpu_capability": capability_line()})
                elif command == "case":
                    try:
                        current, _ = build(json.loads(rest))
                        reply = "ok"
                    except Exception as e:  # the bench reports it and goes on
                        current = None
                        reply = f"error {type(e).__name__}: {e}".replace("\n", " ")
                elif command == "run" and current is not None:
                    calls = int(rest)
                    w0 = run_queue() if run_queue else 0
                    t0 = time.perf_counter_ns()
                    for _ in range(calls):
                        current()
                    t1 = time.perf_counter_ns()
                    w1 = run_queue() if run_queue else 0
                    reply = f"{t1 - t0} {w1 - w0}"
                elif command == "quit":
                    break
                else:
                    reply = f"error unknown command or no case: {line.strip()[:40]}"
                print(reply, flush=True)
        return

    results = {}
    with torch.no_grad():
        for i, case in enumerate(cases, 1):
            cid = case["id"]
            try:
                fn, copy = build(case)
                median, minimum, calls, dropped, all_dropped = measure(fn)
                copy_median, _, _, _, _ = measure(copy)
                results[cid] = {"median_ms": median, "min_ms": minimum, "calls": calls, "dropped": dropped,
                                "all_dropped": all_dropped, "copy_median_ms": copy_median}
                print(f"  torch [{i:2}/{len(cases)}] {cid:<20} {median:9.4f} ms (copy {copy_median:.4f} ms, {calls} calls"
                      + (f", {dropped} dropped" if dropped else "")
                      + (": too few clean calls, the time is of disturbed calls" if all_dropped else "") + ")",
                      file=sys.stderr, flush=True)
            except Exception as e:  # report, go on with the other cases
                results[cid] = {"error": f"{type(e).__name__}: {e}"}
                print(f"  torch [{i:2}/{len(cases)}] {cid:<20} error: {e}", file=sys.stderr, flush=True)

    capability = capability_line()
    json.dump({
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": capability,
        "quick": args.quick,
        "cases": results,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
