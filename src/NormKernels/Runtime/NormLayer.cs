using System;
using System.Buffers;
using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace NormKernels.Runtime;

// For generated code only (hidden from IntelliSense): the members mirror the generated layers' public members, documented there.
#pragma warning disable CS1591

/// <summary>
/// The state and the instance calls of a generated layer, shared by every layer: parameters, running statistics, the
/// saved batch statistics, dims and input fingerprint a training Forward leaves for Backward, the thread guard. The
/// generated class holds one and forwards its public members here; the kernels run on its nest
/// (<typeparamref name="TNest"/>) and kind (<typeparamref name="TK"/>) as struct type arguments.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed partial class NormLayer<TNest, TK, T> : ISynchronizedNormalizationLayer<T>
    where TNest : struct, ILayerNest<TNest, T> where TK : struct, INormKind where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int _size;
    private T _epsilon;
    private T? _momentum; // null: the cumulative moving average (PyTorch's momentum=None)
    private T[] _statistic0 = Array.Empty<T>();
    private T[] _statistic1 = Array.Empty<T>();
    private T[] _meanResidual = Array.Empty<T>(); // mean - (T)mean: the batch mean in double, for Backward
    private long _savedLength = -1;
    private T _savedEpsilon;
    // What Backward checks its arguments against: the dims and sampled input elements of the last training Forward.
    private readonly int[] _savedDims;
    private readonly T[] _fingerprint = new T[Fingerprint.Count];
    // The thread contract (see the layer's remarks): > 0 inference Forward calls running, -1 a call that writes the state.
    private int _guard;

    // Each direction's tuners (Streaming.Adaptive): the adaptive band's choice of the cached or the streamed path, and past
    // the threshold the order of interleaved blocks (see LayerTuner).
    private LayerTuner _forwardBand, _backwardBand, _forwardOrder, _backwardOrder;

    /// <summary>The last choice any instance of this layer class made, per direction, for the adaptive band and for the order
    /// (taken up by instances that meet the same key; see <see cref="StreamingTuner"/>).</summary>
    private static StreamingChoice? s_forwardChoice, s_backwardChoice, s_forwardOrder, s_backwardOrder;

    private static LayerShape Shape => TNest.Shape;

    /// <summary>Statistics an inference-mode call of a per-sample norm keeps on the stack (more: pooled arrays).</summary>
    private const int StackStatistics = 64;

    /// <summary>The layer with <paramref name="size"/> (channels or normalizedSize, named <paramref name="sizeName"/>; 0 and
    /// null when the layer has neither) and <paramref name="runningSize"/> running statistics (0: none). A null
    /// <paramref name="momentum"/> is the cumulative moving average.</summary>
    public NormLayer(int size, string? sizeName, T epsilon, T? momentum, int runningSize)
    {
        var shape = Shape;
        if (sizeName is not null)
        {
            Checks.Size(size, sizeName);
            if (shape.Channel >= 0 && shape.Fixed[shape.Channel] != 0 && shape.Affine != AffineMode.Elementwise)
                Checks.Equal(size, shape.Fixed[shape.Channel], sizeName, "the channel count fixed at compile time by the layer's Sizes");
            if (shape.Groups > 0 && shape.Affine != AffineMode.Elementwise) Checks.Divisible(size, shape.Groups, sizeName);
        }
        Kernels<TNest, TK, T>.CheckEpsilon(epsilon);
        if (shape.RunningStatistics && momentum is { } m) Kernels<TNest, TK, T>.CheckMomentum(m, "momentum");
        _size = size;
        _epsilon = epsilon;
        _momentum = momentum;
        _savedDims = new int[shape.Layout.Length];
        int parameters = shape.Affine == AffineMode.None ? 0 : size;
        Weight = AlignedArrays.Allocate<T>(parameters);
        Weight.AsSpan().Fill(T.One);
        Bias = AlignedArrays.Allocate<T>(parameters);
        WeightGrad = AlignedArrays.Allocate<T>(parameters);
        BiasGrad = AlignedArrays.Allocate<T>(parameters);
        if (shape.RunningStatistics)
        {
            RunningMean = new T[runningSize];
            RunningVar = new T[runningSize];
            RunningVar.AsSpan().Fill(T.One);
        }
        _parameters = CreateParameters();
    }

    public T[] Weight { get; }
    public T[] Bias { get; }
    public T[] WeightGrad { get; }
    public T[] BiasGrad { get; }
    public T[]? RunningMean { get; }
    public T[]? RunningVar { get; }
    public bool Training { get; set; } = true;
    public KernelPath LastPath { get; private set; }

    public T Epsilon
    {
        get => _epsilon;
        set { Kernels<TNest, TK, T>.CheckEpsilon(value, "Epsilon"); _epsilon = value; }
    }

    public T? Momentum
    {
        get => _momentum;
        set { if (value is { } m) Kernels<TNest, TK, T>.CheckMomentum(m, "Momentum"); _momentum = value; }
    }

    /// <summary>The saved batch statistics of the last training Forward (the kind's outputs in order).</summary>
    public ReadOnlySpan<T> Statistic0 => _statistic0;
    public ReadOnlySpan<T> Statistic1 => _statistic1;

    private ReadOnlySpan<T> Stat1(T[] array) => Shape.Outputs.Length > 1 ? array : default;

    // ------------------------------------------------------------------ forward

    /// <summary>Forward: training (batch statistics, saved for Backward; running statistics updated) or inference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims)
    {
        if (TryRowLane(input, output, dims)) return;
        ForwardTunable(input, output, dims, 0, default);
    }

    /// <summary><see cref="ForwardCore"/> of every form, through this instance's forward tuner when the input and output bytes
    /// (as the kernels' own test, <see cref="Streaming.Use"/>, counts them) are in the adaptive band (<see cref="Streaming.Adaptive"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ForwardTunable(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, nint residual, BeforeAdd before)
    {
        long bytes = ((long)input.Length + output.Length) * Unsafe.SizeOf<T>();
        if (Streaming.InBand(bytes)) TunedForward(input, output, dims, bytes, residual, before, true);
        else if (Streaming.PastBand(bytes) && (Training || !Shape.RunningStatistics)) TunedForward(input, output, dims, bytes, residual, before, false);
        else ForwardCore(input, output, dims, residual, before);
    }

    /// <summary>
    /// A forward one of this instance's forward tuners times (<see cref="LayerTuner"/>), and its time reported back: in the
    /// adaptive band (<paramref name="band"/>) the cached or the streamed path; past the threshold (a call on batch
    /// statistics: training, or any call of a kind without running statistics) the order of its interleaved blocks or its
    /// rows, where it has them. The band's key mode: training, and the residual added before the norm (its own pass writing
    /// the sum first); the residual added after it runs the class's one kernel (its kind adds a residual in every call), so
    /// it shares the plain form's key. The order's: training, the residual added before, and an output on the input (in
    /// place: not streamed, so no order to choose).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void TunedForward(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, long bytes, nint residual, BeforeAdd before, bool band)
    {
        int mode = (Training ? 1 : 0) | (before.On ? 2 : 0) | (!band && input.Overlaps(output) ? 8 : 0);
        int workers = Parallelism.MaxDegree;
        ref LayerTuner tuner = ref band ? ref _forwardBand : ref _forwardOrder;
        if (tuner.Skips(bytes, workers, mode))
        {
            ForwardCore(input, output, dims, residual, before);
            return;
        }
        StreamingTuner.Ticket ticket = tuner.Choose(bytes, workers, mode, ref band ? ref s_forwardChoice : ref s_forwardOrder);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        Streaming.BeginTuned(band, ticket.Streams);
        try
        {
            ForwardCore(input, output, dims, residual, before);
        }
        finally
        {
            Streaming.EndTuned();
        }
        tuner.Report(ticket, System.Diagnostics.Stopwatch.GetTimestamp() - start, band || LastCall.Current.OrderChoice, bytes, workers, mode);
    }

    /// <summary>The forward of every form; <paramref name="residual"/>: the residual's byte offset from the input, for kinds that
    /// add it in the apply (the caller keeps both pinned). The checks here; each of the three calls (on the running statistics,
    /// on batch statistics not saved, training) in a method of its own, compiled only when a call takes it: written in this
    /// method, the drivers of every path of all three were compiled with a layer's first call (one method of 8 KB, 19-21 ms of
    /// a BatchNorm training call's 150-170 ms of JIT, AMD Zen 3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardCore(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, nint residual, BeforeAdd before)
    {
        var shape = Shape;
        int count = shape.Call(dims, input.Length, output.Length, _size, out int statistics);
        Checks.NoPartialOverlap(input, output, "output");
        bool training = Training; // read once: it decides the checks and the path
        bool plain = residual == 0 && !before.On; // the plain Forward (no residual form): its row lane may be remembered
        if (!training && shape.RunningStatistics)
        {
            RunningCall(input, output, dims, residual, before, plain, count, statistics);
            return;
        }
        if (training && count / statistics <= 1) Kernels<TNest, TK, T>.MoreThanOneValue(dims);
        if (!training) InferenceCall(input, output, dims, residual, before, plain, count, statistics);
        else TrainingCall(input, output, dims, residual, before, statistics);
    }

    /// <summary><see cref="ForwardCore"/>'s inference call of a kind with running statistics, on them.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void RunningCall(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, nint residual, BeforeAdd before, bool plain, int count, int statistics)
    {
        // Inference reads the running statistics: shared with other inference calls, never with a call that updates them.
        CallGuard.EnterShared(ref _guard, Shape.Calls[1]);
        try
        {
            SeparateAdd(ref input, ref before);
            TNest nest = NestFor(dims, residual);
            KernelPath path = Kernels<TNest, TK, T>.Choose(nest, false);
            LastPath = RunningForward(path, nest, dims, input, output, residual, out bool lane);
            if (lane && plain) RememberRowLane(dims, count, statistics, path);
        }
        finally
        {
            CallGuard.ExitShared(ref _guard);
        }
    }

    /// <summary><see cref="ForwardCore"/>'s inference call on batch statistics (a kind without running statistics), not saved.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private void InferenceCall(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, nint residual, BeforeAdd before, bool plain, int count, int statistics)
    {
        // Inference: the same statistics, in call-local buffers and not saved, so calls can share the instance between threads,
        // and with every other call, so no guard: it reads only Weight, Bias and Epsilon, and the calls that need the instance
        // alone (a training-mode Forward, Backward, ZeroGrad) write only what it does not read (the saved statistics, dims and
        // fingerprint, WeightGrad and BiasGrad): refusing one of two such calls protected nothing. Weight, Bias or Epsilon
        // changed while it runs (by the caller, or LoadStateDict) is not detected, as the layer's remarks say of any change of
        // them. The guard's two interlocked operations were 5-13 ns of a decode step's LayerNorm [1, 768] (AMD Zen 5). A norm
        // with running statistics reads them: its inference calls register (above), and a call that updates them is refused.
        // (A few statistics, e.g. a decode step's rows, on the stack: two pool round trips were a tenth of such a call. Not
        // cleared (SkipLocalsInit): the kernel writes every statistic of the call before it reads it.)
        bool two = Shape.Outputs.Length > 1, small = statistics <= StackStatistics;
        T[]? scratch0 = small ? null : ArrayPool<T>.Shared.Rent(statistics);
        T[]? scratch1 = two && !small ? ArrayPool<T>.Shared.Rent(statistics) : null;
        Span<T> stat0 = small ? stackalloc T[StackStatistics] : scratch0;
        Span<T> stat1 = small && two ? stackalloc T[StackStatistics] : scratch1;
        try
        {
            SeparateAdd(ref input, ref before);
            TNest nest = NestFor(dims, residual);
            KernelPath path = Kernels<TNest, TK, T>.Choose(nest, true);
            LastPath = BatchForward(path, nest, dims, input, output, stat0[..statistics], two ? stat1[..statistics] : default, _epsilon, null, residual, out bool lane);
            if (lane && plain && small) RememberRowLane(dims, count, statistics, path);
        }
        finally
        {
            if (scratch0 is not null) ArrayPool<T>.Shared.Return(scratch0);
            if (scratch1 is not null) ArrayPool<T>.Shared.Return(scratch1);
        }
    }

    /// <summary><see cref="ForwardCore"/>'s training call: batch statistics saved for Backward, the running statistics updated.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void TrainingCall(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, nint residual, BeforeAdd before, int statistics)
    {
        var shape = Shape;
        // Saves statistics, dims and fingerprint for Backward (and updates the running statistics): this instance alone.
        CallGuard.EnterExclusive(ref _guard, shape.Calls[0]);
        try
        {
            SeparateAdd(ref input, ref before);
            // Every field read once: the kernel writes through pointers into these very arrays.
            T[] statistic0 = LayerState.Sized(ref _statistic0, statistics);
            T[] statistic1 = shape.Outputs.Length > 1 ? LayerState.Sized(ref _statistic1, statistics) : _statistic1;
            T[]? meanResidual = shape.Centered ? LayerState.Sized(ref _meanResidual, statistics) : null;
            T epsilon = _epsilon;
            // The input as given (with the residual added before the norm, the sum just written), before the kernel runs (in
            // place, it is overwritten).
            Fingerprint.Take(input, _fingerprint);
            _savedLength = -1;
            TNest nest = NestFor(dims, residual);
            KernelPath path = Kernels<TNest, TK, T>.Choose(nest, true);
            LastPath = BatchForward(path, nest, dims, input, output, statistic0, shape.Outputs.Length > 1 ? statistic1 : default, epsilon, meanResidual, residual, out _);
            LayerState.SaveDims(_savedDims, dims);
            _savedLength = input.Length;
            _savedEpsilon = epsilon;
            // PyTorch's update: the running variance takes the unbiased batch variance.
            if (shape.RunningStatistics)
                LayerState.UpdateRunning(RunningMean!, RunningVar!, statistic0, statistic1, meanResidual, shape.CountPerStatistic(dims), NextFactor());
        }
        finally
        {
            CallGuard.ExitExclusive(ref _guard);
        }
    }

    /// <summary>The batch-statistics forward of a checked call, by the driver that fits it: the expanded one (short planes), the
    /// small row calls' own lane (a decode step's rows), else the block driver.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private KernelPath BatchForward(KernelPath path, TNest nest, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, Span<T> output, Span<T> stat0, Span<T> stat1,
        T epsilon, T[]? meanResidual, nint residual, out bool lane)
    {
        lane = false;
        if (residual == 0)
        {
            if (ExpandedTraining<TK, T>.Applies(Shape, dims, path))
                return ExpandedTraining<TK, T>.Run(path, Shape, dims, input, output, Weight, Bias, stat0, stat1, epsilon, meanResidual);
            if (lane = Forward<TNest, TK, T>.TrySmallRows(path, nest, input, output, Weight, Bias, stat0, stat1, epsilon, meanResidual)) return path;
        }
        return Forward<TNest, TK, T>.Training(path, nest, input, output, Weight, Bias, stat0, stat1, epsilon, meanResidual);
    }

    /// <summary>The inference forward on the running statistics of a checked call, by the driver that fits it: the expanded one
    /// (one kept axis), the row plans' lane (BatchNorm NCHW with N = 1, small calls), else the block driver.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private KernelPath RunningForward(KernelPath path, TNest nest, ReadOnlySpan<int> dims, ReadOnlySpan<T> input, Span<T> output, nint residual, out bool lane)
    {
        lane = false;
        if (residual == 0)
        {
            if (ExpandedInference<TK, T>.Applies(Shape, dims, path))
                return ExpandedInference<TK, T>.Run(path, Shape, dims, input, output, Weight, Bias, RunningMean, RunningVar, _epsilon);
            if (lane = Forward<TNest, TK, T>.TryInferenceRows(path, nest, input, output, Weight, Bias, RunningMean, RunningVar, _epsilon, null)) return path;
        }
        return Forward<TNest, TK, T>.Inference(path, nest, input, output, Weight, Bias, RunningMean, RunningVar, _epsilon, null);
    }

    /// <summary>Forward on tensors: dims from the input's lengths; the output of the same shape.</summary>
    public void Forward(ReadOnlyTensorSpan<T> input, TensorSpan<T> output)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<T> inputSpan = Kernels<TNest, TK, T>.Dense(in input, "input", dims);
        Span<T> outputSpan = Kernels<TNest, TK, T>.DenseLike(in output, "output", dims);
        Forward(inputSpan, outputSpan, dims);
    }

    /// <summary>Training forward with merged statistics (synchronized BatchNorm).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per call, with a loop: never at tier 0
    public void ForwardWithStatistics(ReadOnlySpan<T> input, Span<T> output, ReadOnlySpan<int> dims, ReadOnlySpan<double> count, ReadOnlySpan<double> mean, ReadOnlySpan<double> m2)
    {
        var shape = Shape;
        shape.Shape(dims, input.Length, output.Length);
        shape.LayerSize(dims, _size);
        Checks.NoPartialOverlap(input, output, "output");
        int statistics = shape.Statistics(dims);
        Checks.MergedStatistics(count, mean, m2, statistics, shape.StatisticText);
        // Saves statistics and updates the running ones: this instance alone.
        CallGuard.EnterExclusive(ref _guard, shape.Calls[4]);
        try
        {
            // Every field read once: the kernel reads through pointers into these very arrays.
            T[] statistic0 = LayerState.Sized(ref _statistic0, statistics);
            T[] statistic1 = LayerState.Sized(ref _statistic1, statistics);
            T[] meanResidual = LayerState.Sized(ref _meanResidual, statistics);
            for (int stat = 0; stat < statistics; stat++)
            {
                statistic0[stat] = T.CreateTruncating(mean[stat]);
                meanResidual[stat] = T.CreateTruncating(mean[stat] - double.CreateTruncating(statistic0[stat]));
                statistic1[stat] = T.CreateTruncating(Statistics.Variance(count[stat], m2[stat]));
            }
            Fingerprint.Take(input, _fingerprint);
            LayerState.SaveDims(_savedDims, dims);
            // Its backward needs gradient sums added across the shards: Backward refuses (it would be the local gradient);
            // BackwardStatistics and BackwardWithStatistics give it.
            _savedLength = Checks.SynchronizedForward;
            TNest nest = TNest.Create(dims);
            LastPath = Forward<TNest, TK, T>.Inference(Kernels<TNest, TK, T>.Choose(nest, false), nest, input, output, Weight, Bias, statistic0, statistic1, _epsilon, meanResidual);
            // PyTorch's update (SyncBatchNorm too): the running variance takes the unbiased variance over the total count.
            if (!shape.RunningStatistics) return;
            double momentum = NextFactor();
            T[] runningMean = RunningMean!, runningVar = RunningVar!;
            for (int stat = 0; stat < statistics; stat++)
            {
                runningMean[stat] = T.CreateTruncating((1d - momentum) * double.CreateTruncating(runningMean[stat]) + momentum * mean[stat]);
                runningVar[stat] = T.CreateTruncating((1d - momentum) * double.CreateTruncating(runningVar[stat]) + momentum * Statistics.UnbiasedVariance(count[stat], m2[stat]));
            }
        }
        finally
        {
            CallGuard.ExitExclusive(ref _guard);
        }
    }

    /// <summary>AdaIN with the layer's epsilon; LastPath tells the path that ran.</summary>
    public void AdaptiveForward(ReadOnlySpan<T> content, ReadOnlySpan<T> style, Span<T> output, ReadOnlySpan<int> dims, ReadOnlySpan<int> styleDims) =>
        LastPath = Kernels<TNest, TK, T>.AdaptiveForward(content, style, output, dims, styleDims, _epsilon);

    // ------------------------------------------------------------------ backward

    /// <summary>Zeroes WeightGrad and BiasGrad, holding the instance alone.</summary>
    public void ZeroGrad() => LayerState.ZeroGrad(ref _guard, Shape.Calls[3], WeightGrad, BiasGrad);

    /// <summary>Backward of the last training Forward (or, with running statistics and Training false, of the inference forward).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Backward(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims)
    {
        Kernels<TNest, TK, T>.CheckGradients(input, outputGrad, inputGrad, dims);
        Shape.LayerSize(dims, _size);
        Kernels<TNest, TK, T>.CheckGradientOverlaps(input, outputGrad, inputGrad);
        BackwardTunable(input, default, outputGrad, inputGrad, default, dims);
    }

    /// <summary><see cref="BackwardCore"/> of a checked call, through this instance's backward tuner when the call is in the
    /// adaptive band (<see cref="Streaming.Adaptive"/>; the bytes of input, outputGrad and inputGrad, as the kernels count them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void BackwardTunable(ReadOnlySpan<T> input, ReadOnlySpan<T> residual, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, Span<T> residualGrad,
        ReadOnlySpan<int> dims, ReadOnlySpan<T> sumGrad = default)
    {
        long bytes = ((long)input.Length + outputGrad.Length + inputGrad.Length) * Unsafe.SizeOf<T>();
        if (Streaming.InBand(bytes)) TunedBackward(input, residual, outputGrad, inputGrad, residualGrad, dims, sumGrad, bytes, true);
        else if (Streaming.PastBand(bytes)) TunedBackward(input, residual, outputGrad, inputGrad, residualGrad, dims, sumGrad, bytes, false);
        else BackwardCore(input, residual, outputGrad, inputGrad, residualGrad, dims, sumGrad);
    }

    /// <summary>A backward one of this instance's backward tuners times, as <see cref="TunedForward"/>: the residual forms modes of
    /// their own in both keys, and in the order's key dx on x or dy (in place).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void TunedBackward(ReadOnlySpan<T> input, ReadOnlySpan<T> residual, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, Span<T> residualGrad,
        ReadOnlySpan<int> dims, ReadOnlySpan<T> sumGrad, long bytes, bool band)
    {
        int mode = (!residual.IsEmpty ? 2 : 0) | (!sumGrad.IsEmpty ? 4 : 0)
            | (band ? (Training ? 1 : 0) : input.Overlaps(inputGrad) || outputGrad.Overlaps(inputGrad) ? 8 : 0);
        int workers = Parallelism.MaxDegree;
        ref LayerTuner tuner = ref band ? ref _backwardBand : ref _backwardOrder;
        if (tuner.Skips(bytes, workers, mode))
        {
            BackwardCore(input, residual, outputGrad, inputGrad, residualGrad, dims, sumGrad);
            return;
        }
        StreamingTuner.Ticket ticket = tuner.Choose(bytes, workers, mode, ref band ? ref s_backwardChoice : ref s_backwardOrder);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        Streaming.BeginTuned(band, ticket.Streams);
        try
        {
            BackwardCore(input, residual, outputGrad, inputGrad, residualGrad, dims, sumGrad);
        }
        finally
        {
            Streaming.EndTuned();
        }
        tuner.Report(ticket, System.Diagnostics.Stopwatch.GetTimestamp() - start, band || LastCall.Current.OrderChoice, bytes, workers, mode);
    }

    /// <summary>The backward of every form, after its checks: through the epilogue first when the kind has one
    /// (<paramref name="residual"/> and <paramref name="residualGrad"/>: the residual added after the norm and its gradient;
    /// <paramref name="sumGrad"/>: the residual added before it, the gradient its sum gets from elsewhere, added to dx).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BackwardCore(ReadOnlySpan<T> input, ReadOnlySpan<T> residual, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, Span<T> residualGrad, ReadOnlySpan<int> dims,
        ReadOnlySpan<T> sumGrad = default)
    {
        var shape = Shape;
        // Adds into WeightGrad and BiasGrad and reads the saved statistics: this instance alone.
        CallGuard.EnterExclusive(ref _guard, shape.Calls[2]);
        try
        {
            TNest nest = TNest.Create(dims);
            KernelPath path = Kernels<TNest, TK, T>.ChooseBackward(nest);
            if (shape.RunningStatistics && !Training)
            {
                LastPath = Run(path, nest, input, residual, outputGrad, inputGrad, residualGrad, RunningMean, RunningVar, _epsilon, true, null, sumGrad);
                return;
            }
            Checks.SavedStatistics(_savedLength, input.Length, "input");
            Checks.SavedDims(_savedDims, dims, shape.Layout);
            Fingerprint.Check<T>(_fingerprint, input, "input");
            if (residual.IsEmpty && ExpandedBackward<TK, T>.Applies(shape, dims, path, false))
                LastPath = ExpandedBackward<TK, T>.Run(path, shape, dims, input, outputGrad, inputGrad, Weight, _statistic0, Stat1(_statistic1), _savedEpsilon, WeightGrad,
                    BiasGrad, _meanResidual);
            // A fused layer without an activation: its plain twin's backward from dy (FusedBackward.Expanded).
            else if (TK.Epilogue && TK.IdentityGradient && TK.Centered && ExpandedBackward<StandardizeNorm, T>.Applies(shape, dims, path, false))
                LastPath = FusedBackward<TNest, TK, T>.Expanded(path, shape, dims, input, outputGrad, inputGrad, residualGrad, Weight, _statistic0, Stat1(_statistic1),
                    _savedEpsilon, WeightGrad, BiasGrad, _meanResidual);
            else
            {
                // The nest's backward takes the sum's gradient itself (added inside its apply where the plan allows).
                LastPath = Run(path, nest, input, residual, outputGrad, inputGrad, residualGrad, _statistic0, Stat1(_statistic1), _savedEpsilon, false,
                    shape.Centered ? _meanResidual : null, sumGrad);
                sumGrad = default;
            }
            // The expanded backwards: the sum's gradient in a pass of its own.
            if (!sumGrad.IsEmpty) Elementwise.Add(inputGrad, sumGrad, inputGrad);
        }
        finally
        {
            CallGuard.ExitExclusive(ref _guard);
        }
    }

    private KernelPath Run(KernelPath path, TNest nest, ReadOnlySpan<T> input, ReadOnlySpan<T> residual, ReadOnlySpan<T> outputGrad, Span<T> inputGrad,
        Span<T> residualGrad, ReadOnlySpan<T> stat0, ReadOnlySpan<T> stat1, T epsilon, bool constant, T[]? meanResidual, ReadOnlySpan<T> sumGrad) =>
        System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported
            ? FusedBackward<TNest, TK, T>.Run<AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, nest, input, residual, outputGrad, inputGrad, residualGrad, Weight, Bias,
                stat0, stat1, epsilon, constant, meanResidual, WeightGrad, BiasGrad, sumGrad)
            : FusedBackward<TNest, TK, T>.Run<X86Vector128Ops>(path, nest, input, residual, outputGrad, inputGrad, residualGrad, Weight, Bias,
                stat0, stat1, epsilon, constant, meanResidual, WeightGrad, BiasGrad, sumGrad);

    /// <summary>Backward on tensors: dims from the input's lengths; outputGrad and inputGrad of the same shape.</summary>
    public void Backward(ReadOnlyTensorSpan<T> input, ReadOnlyTensorSpan<T> outputGrad, TensorSpan<T> inputGrad)
    {
        Span<int> dims = stackalloc int[Shape.Layout.Length];
        ReadOnlySpan<T> inputSpan = Kernels<TNest, TK, T>.Dense(in input, "input", dims);
        ReadOnlySpan<T> outputGradSpan = Kernels<TNest, TK, T>.DenseLike(in outputGrad, "outputGrad", dims);
        Span<T> inputGradSpan = Kernels<TNest, TK, T>.DenseLike(in inputGrad, "inputGrad", dims);
        Backward(inputSpan, outputGradSpan, inputGradSpan, dims);
    }

    /// <summary>The synchronized backward differentiates the last ForwardWithStatistics: same dims, same input.</summary>
    private void CheckSynchronized(ReadOnlySpan<T> input, ReadOnlySpan<int> dims)
    {
        Checks.SynchronizedStatistics(_savedLength, _savedDims, dims, Shape.Layout);
        Fingerprint.Check<T>(_fingerprint, input, "input");
    }

    /// <summary>Synchronized backward, step 1, after ForwardWithStatistics.</summary>
    public void BackwardStatistics(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, ReadOnlySpan<int> dims, Span<double> count, Span<double> sumGrad, Span<double> sumGradCentered)
    {
        var shape = Shape;
        shape.Rank(dims.Length);
        Kernels<TNest, TK, T>.CheckBackwardStatistics(input, outputGrad, dims, Weight.Length, shape.StatisticCount(dims), count, sumGrad, sumGradCentered);
        shape.LayerSize(dims, _size);
        // Reads the saved statistics: this instance alone.
        CallGuard.EnterExclusive(ref _guard, shape.Calls[5]);
        try
        {
            CheckSynchronized(input, dims);
            // The kernels read the statistics through the arrays read here, whose lengths are checked: never through a field another call may replace.
            T[] savedMean = _statistic0;
            Checks.SynchronizedStatisticsLength(savedMean.Length, shape.Statistics(dims));
            TNest nest = TNest.Create(dims);
            LastPath = System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported
                ? NestBackward<TNest, T>.Sums<TK, AdvSimdVector128Ops<AdvSimdIntrinsics>>(Kernels<TNest, TK, T>.ChooseBackward(nest), nest, input, outputGrad, Weight, savedMean, count, sumGrad, sumGradCentered)
                : NestBackward<TNest, T>.Sums<TK, X86Vector128Ops>(Kernels<TNest, TK, T>.ChooseBackward(nest), nest, input, outputGrad, Weight, savedMean, count, sumGrad, sumGradCentered);
        }
        finally
        {
            CallGuard.ExitExclusive(ref _guard);
        }
    }

    /// <summary>Synchronized backward, step 2, with the sums of every shard added.</summary>
    public void BackwardWithStatistics(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad, ReadOnlySpan<int> dims, ReadOnlySpan<double> count,
        ReadOnlySpan<double> sumGrad, ReadOnlySpan<double> sumGradCentered)
    {
        var shape = Shape;
        int statistics = shape.StatisticCount(dims);
        Kernels<TNest, TK, T>.CheckBackwardWithStatistics(input, outputGrad, inputGrad, dims, Weight.Length, statistics, statistics, _epsilon, count, sumGrad,
            sumGradCentered, WeightGrad.Length, BiasGrad.Length);
        shape.LayerSize(dims, _size);
        // Adds into WeightGrad and BiasGrad and reads the saved statistics: this instance alone.
        CallGuard.EnterExclusive(ref _guard, shape.Calls[6]);
        try
        {
            CheckSynchronized(input, dims);
            T[] savedMean = _statistic0, savedVariance = _statistic1;
            Checks.SynchronizedStatisticsLength(savedMean.Length, statistics);
            Checks.SynchronizedStatisticsLength(savedVariance.Length, statistics);
            TNest nest = TNest.Create(dims);
            KernelPath path = Kernels<TNest, TK, T>.ChooseBackward(nest);
            LastPath = System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported
                ? NestBackward<TNest, T>.WithSums<TK, AdvSimdVector128Ops<AdvSimdIntrinsics>>(path, nest, input, outputGrad, inputGrad, Weight, savedMean, savedVariance, _epsilon, count, sumGrad, sumGradCentered, WeightGrad, BiasGrad)
                : NestBackward<TNest, T>.WithSums<TK, X86Vector128Ops>(path, nest, input, outputGrad, inputGrad, Weight, savedMean, savedVariance, _epsilon, count, sumGrad, sumGradCentered, WeightGrad, BiasGrad);
        }
        finally
        {
            CallGuard.ExitExclusive(ref _guard);
        }
    }
}
