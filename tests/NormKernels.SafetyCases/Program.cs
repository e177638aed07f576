using NormKernels;
using NormKernels.SafetyCases;

// Cases that used to kill the process, run one per child process by tests/NormKernels.Tests/SafetyCaseTests.cs.
// Prints one line per check ("PASS ..." or "FAIL ..."); exit code 0 when every check held, 1 when one failed,
// 2 for a bad command line. A crash shows up as any other exit code (or a signal) in the parent test.
//   wrap <Layer> <512|0>     every entry point with dims whose product wraps 64 bits to 512 (or to 0, with empty spans)
//   wrap-style <Layer>       AdaptiveForward with style dims whose product overflows
//   train <Layer>            one instance, 8 threads of training Forward + Backward on inputs of two batch sizes
//   codegen                  every layer's forward and backward over shapes that take each driver (see Codegen), run with
//                            the JIT's disassembly on by the parent test
//   scratch                  the worker scratch's per-thread cache and its arrays' alignment, in a fresh heap (ScratchAlignment)
return args switch
{
    ["wrap", string layer, string set] => Cases.Wrap(layer, set),
    ["wrap-style", string layer] => Cases.WrapStyle(layer),
    ["train", string layer] => Cases.Train(layer),
    ["codegen"] => Codegen.Run(),
    ["scratch"] => Cases.Scratch(),
    _ => Cases.Usage(),
};
