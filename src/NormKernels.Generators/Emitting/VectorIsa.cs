namespace NormKernels.Generators.Emitting;

/// <summary>
/// One instruction-set path for one element type. The normalize layers' nests are emitted once, generic over the
/// path (<see cref="PathParams"/>), and instantiated per path at the dispatch (<see cref="PathCall"/>); the kernels
/// still emitted once per path (LRN's) take the spelling of each operation from here. The multiply-add contract per
/// path: 512 and 256 fused (FMA hardware is required for them); 128 through <c>TOps</c> (fused on ARM64 and on x86
/// with FMA3, multiply-then-add otherwise); scalar multiply-then-add. Within a path the tail uses the same contract
/// as the body because tails are vectors too.
/// </summary>
internal sealed class VectorIsa
{
    private VectorIsa(string suffix, int bits, string path, string element)
    {
        Suffix = suffix;
        Bits = bits;
        Path = path;
        Element = element;
    }

    /// <summary>The four paths, widest first, for elements of type <paramref name="element"/> ("float" or "double").</summary>
    public static VectorIsa[] For(string element) => new[]
    {
        new VectorIsa("V512", 512, "Vector512", element),
        new VectorIsa("V256", 256, "Vector256", element),
        new VectorIsa("V128", 128, "Vector128", element),
        new VectorIsa("Scalar", 0, "Scalar", element),
    };

    /// <summary>Method-name suffix.</summary>
    public string Suffix { get; }

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

    private bool Is128 => Bits == 128;

    /// <summary>Generic parameter list of the path's methods (the 128-bit path is generic over its ops).</summary>
    public string TypeParams => Is128 ? "<TOps>" : "";

    public string Constraint => Is128 ? " where TOps : struct, global::NormKernels.Runtime.IVector128Ops" : "";

    public string Vec => IsScalar ? Element : "global::System.Runtime.Intrinsics." + Path + "<" + Element + ">";

    private string Static => "global::System.Runtime.Intrinsics." + Path;

    public string Load(string reference, string index) =>
        IsScalar ? "global::System.Runtime.CompilerServices.Unsafe.Add(ref " + reference + ", " + index + ")" : Static + ".LoadUnsafe(ref " + reference + ", (nuint)(" + index + "))";

    public string Store(string value, string reference, string index) =>
        IsScalar ? "global::System.Runtime.CompilerServices.Unsafe.Add(ref " + reference + ", " + index + ") = " + value + ";" : Static + ".StoreUnsafe(" + value + ", ref " + reference + ", (nuint)(" + index + "));";

    /// <summary><c>a * b + c</c> under this path's contract.</summary>
    public string MultiplyAdd(string a, string b, string c) =>
        Is128 ? "TOps.MultiplyAdd(" + a + ", " + b + ", " + c + ")"
        : IsScalar ? "(" + a + " * " + b + " + " + c + ")"
        : Static + ".FusedMultiplyAdd(" + a + ", " + b + ", " + c + ")";

    /// <summary>The call-site spelling of a path method (the 128-bit path passes its ops type).</summary>
    public string Call(string method) => method + "_" + Suffix + (Is128 ? "<TOps>" : "");

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

    /// <summary>The call-site spelling of a method emitted once for every path, instantiated for this path.</summary>
    public string PathCall(string method) => method + "<" + SimdType + ", " + Vec + ">";
}
