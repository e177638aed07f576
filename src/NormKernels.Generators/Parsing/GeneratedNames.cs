using System.Collections.Generic;

namespace NormKernels.Generators.Parsing;

/// <summary>
/// The names the generated half of a layer declares or leans on, in one place for <c>[Normalize]</c>,
/// <c>[LocalResponseNormalize]</c> and <c>[WeightNormalize]</c>. The parsers refuse a layer named like one of its generated members (NK0026), a user
/// member of the same name (NK0029), and a type in scope that would capture a keyword the generated code uses (NK0027).
/// GeneratedNamesTests checks that every member of every generated layer is listed here.
/// </summary>
internal static class GeneratedNames
{
    /// <summary>Public members, the layer's contract: renaming one is a breaking change.</summary>
    public static readonly HashSet<string> Public = new HashSet<string>
    {
        // [Normalize]
        "Weight", "Bias", "WeightGrad", "BiasGrad", "RunningMean", "RunningVar", "Momentum", "Epsilon", "Training", "LastPath",
        "BatchMean", "BatchVariance", "BatchMeanSquare", "Forward", "Backward", "ForwardTraining", "ForwardInference",
        "ForwardWithStatistics", "StatisticCount", "AdaptiveForward", "ForwardShard", "BackwardShard", "ShardStatistics",
        "BackwardStatistics", "BackwardWithStatistics",
        "Parameters", "StateDict", "LoadStateDict", "NumBatchesTracked", "ResetRunningStats", "ToString",
        // [LocalResponseNormalize]
        "Size", "Alpha", "Beta", "K", "ForwardKernel", "BackwardKernel",
        // [WeightNormalize]
        "NormCount",
    };

    /// <summary>Private helpers, constants, nested types and type parameters of the generated code.</summary>
    public static readonly HashSet<string> Internal = new HashSet<string>
    {
        "CheckShape", "CheckKernel", "CheckBackward", "CheckShard", "CheckAdaptive", "CheckDims", "CountPerStatistic",
        "ParameterCount", "ChoosePath", "RunTraining", "RunInference", "TrainingCore", "InferenceCore", "GroupCount",
        "Before", "After", "TileWidth", "ChunkWidth", "ScaleD", "KD", "RecomputeRatio", "GradientScaleD", "TileFor", "PiecesFor",
        "RangesFor", "RowWidth", "ForwardRows", "ForwardUnit", "BackwardUnit", "BlockMoments", "BlockOffset", "Gather", "Scatter",
        "ZeroGrad", "Run", "TOps", "Window", "Scale", "GradientScale",
        "Apply", "Statistics", "TS", "TV",
        "AdaptiveBlock", "AdaptiveCore", "AdaptiveForwardOnPath", "AdaptivePath", "ApplyChunk", "BackwardColumns", "BackwardCore",
        "BackwardGroup", "BackwardInference", "BackwardInferenceOnPath", "BackwardOnPath", "BackwardTraining", "BackwardTrainingOnPath",
        "ChooseBackwardPath", "ForwardColumns", "ForwardCore", "ForwardInferenceOnPath", "ForwardOnPath", "ForwardTrainingOnPath",
        "GradientApplyChunk", "GradientChunk", "InferenceBlock", "RunBackward", "ShardBlock", "ShardCore", "ShardStatisticsOnPath",
        "StatisticsChunk", "TrainingBlock", "Nest", "Kernels", "Layout",
        "BackwardStatisticsOnPath", "BackwardWithStatisticsOnPath", "CheckBackwardStatistics", "CheckBackwardWithStatistics",
        "CheckSynchronized", "RunSynchronizedBackward", "RunSynchronizedSums", "SynchronizedSumsCore", "SynchronizedBackwardCore",
        "SynchronizedSumsGroup", "SynchronizedBackwardGroup",
        // The loop nests emitted once, generic over the path (TS, TV).
        "Statistics", "Apply", "GradientReduce", "GradientApply", "GradientAffineReduce", "GradientAffineApply", "TS", "TV",
    };

    /// <summary>Contextual keywords the generated code writes, which a type of that name in scope would capture.</summary>
    public static readonly string[] CapturedKeywords = { "nint", "nuint", "var", "nameof", "dynamic", "unmanaged", "notnull" };

    /// <summary>The names the generated code uses unqualified: its aliases and the System types its <c>using System;</c>
    /// brings (Emitting.Shared.Aliases, SystemTypes). Where a type or member in scope has one of these names, that layer's
    /// file keeps the <c>global::</c> name instead (never an error).</summary>
    public static readonly string[] AliasNames =
        { "Unsafe", "CompilerServices", "MemoryMarshal", "Intrinsics", "Tensors", "KernelPath", "Rt", "NK", "Span", "ReadOnlySpan", "Half" };

    /// <summary>Whether <paramref name="name"/> (as declared, without '@') is a generated member's name.</summary>
    public static bool IsReserved(string name) =>
        Public.Contains(name) || Internal.Contains(name) || name.StartsWith("_", System.StringComparison.Ordinal) || HasIsaSuffix(name);

    /// <summary>Per-ISA kernels are named Name_V512, Name_V256, Name_V128, Name_Scalar (and so on): any name with such a suffix.
    /// (Fields are <c>_</c> and a name: any name that starts with an underscore.)</summary>
    private static bool HasIsaSuffix(string name)
    {
        int underscore = name.LastIndexOf('_');
        if (underscore <= 0) return false;
        string suffix = name.Substring(underscore + 1);
        return suffix == "V512" || suffix == "V256" || suffix == "V128" || suffix == "Scalar";
    }
}
