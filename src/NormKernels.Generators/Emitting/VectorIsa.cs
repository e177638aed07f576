namespace NormKernels.Generators.Emitting;

/// <summary>
/// The instruction-set path as the emitted nests see it: every nest is emitted once, generic over the path
/// (<see cref="PathParams"/>) and instantiated per path by the runtime's drivers; the operations themselves, with each
/// path's multiply-add contract, live in the runtime's <c>ISimd</c> structs.
/// </summary>
internal static class VectorIsa
{
    /// <summary>The type parameters of a method emitted once for every path: the path struct and its vector type.</summary>
    public const string PathParams = "<TS, TV>";

    /// <summary>The constraints of <see cref="PathParams"/> for elements of type <paramref name="element"/>.</summary>
    public static string PathConstraint(string element) =>
        " where TS : struct, global::NormKernels.Runtime.ISimd<TV, " + element + "> where TV : struct";

    /// <summary>The shared run kernels for the path of a method emitted with <see cref="PathParams"/>.</summary>
    public static string Runs(string element) => "global::NormKernels.Runtime.Runs<TS, TV, " + element + ">";

    /// <summary>The shared backward run kernels for the path of a method emitted with <see cref="PathParams"/>.</summary>
    public static string GradientRuns(string element) => "global::NormKernels.Runtime.GradientRuns<TS, TV, " + element + ">";
}
