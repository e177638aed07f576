using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Linq;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;

namespace NormKernels.Runtime;

// For generated code only (hidden from IntelliSense): the members mirror the generated layers' public members, documented there.
#pragma warning disable CS1591

// What a training loop needs around the kernels, with PyTorch's names and semantics (torch.nn.modules.batchnorm._NormBase):
// the parameters for an optimizer, the state_dict, the batch count and the cumulative moving average, reset_running_stats,
// and a description like the module's repr.
public sealed partial class NormLayer<TNest, TK, T>
{
    private const string WeightKey = "weight", BiasKey = "bias", RunningMeanKey = "running_mean", RunningVarKey = "running_var",
        CountKey = "num_batches_tracked";

    /// <summary>The thread guard's names of StateDict, LoadStateDict and ResetRunningStats, built once per layer type.</summary>
    private static readonly string[] ModuleCalls = [Shape.TypeName + ".StateDict", Shape.TypeName + ".LoadStateDict", Shape.TypeName + ".ResetRunningStats"];

    /// <summary>The state_dict keys of this layer type, in PyTorch's order.</summary>
    private static readonly string[] StateKeys = Keys(Shape);

    private readonly ReadOnlyCollection<LayerParameter<T>> _parameters;

    // Training Forward calls (and ForwardWithStatistics) that updated the running statistics: PyTorch's num_batches_tracked.
    private long _numBatchesTracked;

    private static string[] Keys(LayerShape shape)
    {
        var keys = new List<string>(5);
        if (shape.Affine != AffineMode.None) keys.AddRange([WeightKey, BiasKey]);
        if (shape.RunningStatistics) keys.AddRange([RunningMeanKey, RunningVarKey, CountKey]);
        return keys.ToArray();
    }

    private ReadOnlyCollection<LayerParameter<T>> CreateParameters() => Array.AsReadOnly(Shape.Affine == AffineMode.None
        ? Array.Empty<LayerParameter<T>>()
        : [new LayerParameter<T>(WeightKey, Weight, WeightGrad), new LayerParameter<T>(BiasKey, Bias, BiasGrad)]);

    // The generated class's interface members with a default body reach these through INormalizationLayer<T>.Core (its one
    // explicit member): the layer's shape facts from its nest, the synchronized statistics from the static kernels.
    string INormalizationLayer<T>.Layout => Shape.Layout;
    string INormalizationLayer<T>.Axes => Shape.Axes;
    int INormalizationLayer<T>.Groups => Shape.Groups;
    NormKind INormalizationLayer<T>.Kind => Shape.Kind;
    AffineMode INormalizationLayer<T>.Affine => Shape.Affine;
    int ISynchronizedNormalizationLayer<T>.StatisticCount(ReadOnlySpan<int> dims) => Kernels<TNest, TK, T>.StatisticCount(dims);
    KernelPath ISynchronizedNormalizationLayer<T>.ShardStatistics(ReadOnlySpan<T> input, ReadOnlySpan<int> dims, Span<double> count, Span<double> mean, Span<double> m2) =>
        Kernels<TNest, TK, T>.ShardStatistics(input, dims, count, mean, m2);

    /// <summary>weight and bias with their gradients (the layer's own arrays), or none without affine parameters.</summary>
    public IReadOnlyList<LayerParameter<T>> Parameters() => _parameters;

    /// <summary>The training Forward calls that updated the running statistics since construction (reset to 0, or loaded).</summary>
    public long NumBatchesTracked => _numBatchesTracked;

    /// <summary>
    /// Counts one more tracked batch and returns the factor of its running update (PyTorch's exponential_average_factor):
    /// the momentum, or with none 1 / num_batches_tracked, the cumulative moving average. The caller holds the instance alone.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double NextFactor()
    {
        long count = ++_numBatchesTracked;
        return _momentum is { } momentum ? double.CreateTruncating(momentum) : 1d / count;
    }

    /// <summary>running_mean = 0, running_var = 1, num_batches_tracked = 0, holding the instance alone.</summary>
    public void ResetRunningStats()
    {
        CallGuard.EnterExclusive(ref _guard, ModuleCalls[2]);
        try
        {
            if (RunningMean is not null) Array.Clear(RunningMean);
            RunningVar?.AsSpan().Fill(T.One);
            _numBatchesTracked = 0;
        }
        finally
        {
            CallGuard.ExitExclusive(ref _guard);
        }
    }

    /// <summary>A copy of the state under PyTorch's keys, as doubles.</summary>
    public IReadOnlyDictionary<string, double[]> StateDict()
    {
        // Reads what a training call writes (running statistics, the count): shared with inference calls only.
        CallGuard.EnterShared(ref _guard, ModuleCalls[0]);
        try
        {
            var state = new Dictionary<string, double[]>(StateKeys.Length, StringComparer.Ordinal);
            foreach (string key in StateKeys)
                state.Add(key, key == CountKey ? [(double)_numBatchesTracked] : Widen(StateArray(key)));
            return state;
        }
        finally
        {
            CallGuard.ExitShared(ref _guard);
        }
    }

    /// <summary>Loads a state with exactly this layer's keys and lengths; checks everything before it writes anything.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, double[]> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        string typeName = Shape.TypeName;
        string expected = StateKeys.Length == 0 ? "none" : string.Join(", ", StateKeys);
        foreach (KeyValuePair<string, double[]> entry in state)
        {
            if (Array.IndexOf(StateKeys, entry.Key) < 0)
                throw new ArgumentException($"'state' has the key \"{entry.Key}\", which {typeName} does not have (its keys: {expected}). Nothing was loaded.", nameof(state));
        }
        foreach (string key in StateKeys)
        {
            if (!state.TryGetValue(key, out double[]? values))
                throw new ArgumentException($"'state' has no \"{key}\" (the keys of {typeName}: {expected}). Nothing was loaded.", nameof(state));
            if (values is null)
                throw new ArgumentException($"'state' has null for \"{key}\". Nothing was loaded.", nameof(state));
            if (key == CountKey)
            {
                // A whole number of batches that a long holds (doubles are exact integers up to 2^53).
                if (values.Length != 1 || !(values[0] >= 0 && values[0] < 9223372036854775808d && Math.Floor(values[0]) == values[0]))
                    throw new ArgumentException($"'state' has \"{key}\" = [{string.Join(", ", values.Select(v => Format(v)))}]; expected one whole number " +
                                                $"of batches, at least 0. Nothing was loaded.", nameof(state));
                continue;
            }
            int length = StateArray(key).Length;
            if (values.Length != length)
            {
                string what = key is WeightKey or BiasKey ? Shape.ParameterText : "one per running statistic";
                throw new ArgumentException($"'state' has {values.Length.ToString(CultureInfo.InvariantCulture)} values for \"{key}\"; expected " +
                                            $"{length.ToString(CultureInfo.InvariantCulture)} ({what}). Nothing was loaded.", nameof(state));
            }
        }

        // Writes the parameters and the running statistics: this instance alone.
        CallGuard.EnterExclusive(ref _guard, ModuleCalls[1]);
        try
        {
            foreach (string key in StateKeys)
            {
                double[] values = state[key];
                if (key == CountKey)
                {
                    _numBatchesTracked = (long)values[0];
                    continue;
                }
                T[] target = StateArray(key);
                for (int i = 0; i < target.Length; i++) target[i] = T.CreateTruncating(values[i]);
            }
        }
        finally
        {
            CallGuard.ExitExclusive(ref _guard);
        }
    }

    private T[] StateArray(string key) => key switch
    {
        WeightKey => Weight,
        BiasKey => Bias,
        RunningMeanKey => RunningMean!,
        _ => RunningVar!,
    };

    private static double[] Widen(T[] values)
    {
        var wide = new double[values.Length];
        for (int i = 0; i < values.Length; i++) wide[i] = double.CreateTruncating(values[i]);
        return wide;
    }

    /// <summary>
    /// The layer as PyTorch prints a module: its type, its family and what it was built with, e.g.
    /// <c>BnNchw(BatchNorm, layout=NCHW, axes=N,H,W, channels=64, eps=1e-05, momentum=0.1, affine=PerChannel, track_running_stats=True)</c>.
    /// </summary>
    public override string ToString()
    {
        LayerShape shape = Shape;
        var text = new StringBuilder(shape.TypeName).Append('(').Append(Family(shape))
            .Append(", layout=").Append(shape.Layout).Append(", axes=").Append(shape.Axes);
        if (shape.Groups > 0) text.Append(", groups=").Append(shape.Groups.ToString(CultureInfo.InvariantCulture));
        string? size = shape.Affine == AffineMode.Elementwise ? "normalized_size" : shape.Channel >= 0 ? "channels" : null;
        if (size is not null) text.Append(", ").Append(size).Append('=').Append(_size.ToString(CultureInfo.InvariantCulture));
        text.Append(", eps=").Append(Format(_epsilon));
        if (shape.RunningStatistics) text.Append(", momentum=").Append(_momentum is { } momentum ? Format(momentum) : "None");
        text.Append(", affine=").Append(shape.Affine.ToString());
        if (shape.BatchReduced) text.Append(", track_running_stats=").Append(shape.RunningStatistics ? "True" : "False");
        return text.Append(')').ToString();
    }

    /// <summary>The family the README's table names: RMSNorm, BatchNorm (N reduced), GroupNorm, InstanceNorm (statistics per
    /// sample and channel), LayerNorm (per sample: C reduced, or no C); "Norm" for any other set of kept axes.</summary>
    private static string Family(LayerShape shape)
    {
        if (shape.Kind == NormKind.RootMeanSquare) return "RMSNorm";
        if (shape.BatchReduced) return "BatchNorm";
        if (shape.Groups > 0) return "GroupNorm";
        if (shape.Channel < 0 || shape.IsReduced(shape.Channel)) return "LayerNorm";
        for (int i = 0; i < shape.Layout.Length; i++)
            if (shape.Layout[i] != 'N' && i != shape.Channel && !shape.IsReduced(i)) return "Norm";
        return "InstanceNorm";
    }

    /// <summary>A number as Python prints it: shortest round trip, lower-case exponent (1e-05, 0.1).</summary>
    private static string Format<TValue>(TValue value) where TValue : IFloatingPointIeee754<TValue> =>
        value.ToString(null, CultureInfo.InvariantCulture).Replace("E", "e");
}
