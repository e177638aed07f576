namespace NormKernels.Generators.Emitting;

/// <summary>
/// One instruction-set path for one element type. Every nest is emitted once, generic over the path
/// (<see cref="PathParams"/>) and instantiated per path by the runtime's drivers; the operations themselves, with each
/// path's multiply-add contract, live in the runtime's <c>ISimd</c> structs.
/// </summary>
internal sealed class VectorIsa
{
    private VectorIsa(int bits, string path, string element)
    {
        Bits = bits;
        Path = path;
        Element = element;
    }

    /// <summary>The four paths, widest first, for elements of type <paramref name="element"/> ("float" or "double").</summary>
    public static VectorIsa[] For(string element) => new[]
    {
        new VectorIsa(512, "Vector512", element),
        new VectorIsa(256, "Vector256", element),
        new VectorIsa(128, "Vector128", element),
        new VectorIsa(0, "Scalar", element),
    };

    /// <summary>Vector width in bits (0 for scalar).</summary>
    public int Bits { get; }

    /// <summary>The <c>KernelPath</c> member name.</summary>
    public string Path { get; }

    /// <summary>The element type, "float" or "double".</summary>
    public string Element { get; }

    private bool IsDouble => Element == "double";

    /// <summary>Lanes per vector.</summary>
    public int Width => IsScalar ? 1 : Bits / (IsDouble ? 64 : 32);

    public bool IsScalar => Bits == 0;

    /// <summary>The path's vector type (the element type on the scalar path).</summary>
    public string Vec => IsScalar ? Element : "global::System.Runtime.Intrinsics." + Path + "<" + Element + ">";

    /// <summary>The type parameters of a method emitted once for every path: the path struct and its vector type.</summary>
    public const string PathParams = "<TS, TV>";

    /// <summary>The constraints of <see cref="PathParams"/> for elements of type <paramref name="element"/>.</summary>
    public static string PathConstraint(string element) =>
        " where TS : struct, global::NormKernels.Runtime.ISimd<TV, " + element + "> where TV : struct";

    /// <summary>The shared run kernels for the path of a method emitted with <see cref="PathParams"/>.</summary>
    public static string Runs(string element) => "global::NormKernels.Runtime.Runs<TS, TV, " + element + ">";

    /// <summary>The shared backward run kernels for the path of a method emitted with <see cref="PathParams"/>.</summary>
    public static string GradientRuns(string element) => "global::NormKernels.Runtime.GradientRuns<TS, TV, " + element + ">";

    /// <summary>The runtime struct of this path.</summary>
    public string SimdType => Bits switch
    {
        512 => "global::NormKernels.Runtime.V512<" + Element + ">",
        256 => "global::NormKernels.Runtime.V256<" + Element + ">",
        128 => "global::NormKernels.Runtime.V128<" + Element + ", TOps>",
        _ => "global::NormKernels.Runtime.Scalar<" + Element + ">",
    };
}
