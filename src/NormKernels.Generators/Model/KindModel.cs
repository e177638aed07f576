using NormKernels.Generators.Helpers;

namespace NormKernels.Generators.Model;

/// <summary>One batch statistic a layer keeps: its static kernels' parameter name, the layer's public property and its summary.</summary>
internal sealed record StatisticOutput(string Parameter, string Property, string Summary);

/// <summary>
/// What a norm kind means to the generated code: the one model entry per kind (<see cref="Standardize"/>,
/// <see cref="RootMeanSquare"/>). The planner picks it into the plan; the emitter reads its data and never asks which kind it
/// has. A new kind is a new entry here, a planner rule, and the runtime operator struct it names.
/// </summary>
/// <param name="EnumMember">Its <c>NormKind</c> member.</param>
/// <param name="RuntimeType">Its runtime operator struct (<c>INormKind</c>): the type argument of the nests, runs and drivers.</param>
/// <param name="Description">How the class remarks name it.</param>
/// <param name="SumsText">What its statistics pass sums, for the class remarks.</param>
/// <param name="FoldApply">The folded apply's formula, for the class remarks.</param>
/// <param name="TwoStepApply">The two-step apply's formula (before <c>* gamma[p] + beta[p]</c>), for the class remarks.</param>
/// <param name="StatisticsText">What its batch statistics are, for the summaries.</param>
/// <param name="Outputs">The batch statistics it keeps, in the order the drivers take them (stat0, stat1).</param>
/// <param name="Centered">It takes a mean: the layer keeps the mean's residual (<c>mean - (T)mean</c>) for Backward, refuses a
/// statistic of one value in training, and offers mergeable shard statistics and, instance-shaped, AdaIN.</param>
internal sealed record KindModel(
    string EnumMember,
    string RuntimeType,
    string Description,
    string SumsText,
    string FoldApply,
    string TwoStepApply,
    string StatisticsText,
    EquatableArray<StatisticOutput> Outputs,
    bool Centered)
{
    public static readonly KindModel Standardize = new KindModel(
        "Standardize", "StandardizeNorm", "standardize",
        "Sums of (x - shift) and (x - shift)^2, shift = the statistic's first element,",
        "y = (x - C[f]) * A[f] + B[f], C the mean rounded to the element type,",
        "y = ((x - c[s]) * a[s] + b[s])",
        "mean and biased variance",
        new EquatableArray<StatisticOutput>(new[]
        {
            new StatisticOutput("mean", "BatchMean", "The batch mean per statistic from the last training Forward."),
            new StatisticOutput("variance", "BatchVariance", "The biased batch variance per statistic from the last training Forward."),
        }),
        Centered: true);

    public static readonly KindModel RootMeanSquare = new KindModel(
        "RootMeanSquare", "RootMeanSquareNorm", "root mean square",
        "Sum of squares",
        "y = x * A[f] + B[f]",
        "y = (x * a[s] + b[s])",
        "mean square",
        new EquatableArray<StatisticOutput>(new[]
        {
            new StatisticOutput("meanSquare", "BatchMeanSquare", "The batch mean per statistic from the last training Forward (root mean square: the mean square)."),
        }),
        Centered: false);

    /// <summary>The model entry of the attribute's <c>Kind</c> value.</summary>
    public static KindModel For(NormKindId kind) => kind == NormKindId.RootMeanSquare ? RootMeanSquare : Standardize;
}
