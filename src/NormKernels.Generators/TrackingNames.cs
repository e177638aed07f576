namespace NormKernels.Generators;

/// <summary>Names of the incremental pipeline steps; IncrementalTests asserts every one is Cached after unrelated edits.</summary>
public static class TrackingNames
{
    /// <summary>Attribute + symbol to <c>NormSpec</c> (null for declarations the analyzer reports).</summary>
    public const string Parse = "NormKernels.Parse";

    /// <summary><c>NormSpec</c> to <c>KernelPlan</c>.</summary>
    public const string Plan = "NormKernels.Plan";

    /// <summary>Attribute + symbol to <c>LrnSpec</c> for <c>[LocalResponseNormalize]</c> (null for declarations the analyzer reports).</summary>
    public const string LrnParse = "NormKernels.LrnParse";

    /// <summary>Attribute + symbol to <c>WeightNormSpec</c> for <c>[WeightNormalize]</c> (null for declarations another layer attribute's parser reports).</summary>
    public const string WeightNormParse = "NormKernels.WeightNormParse";
}
