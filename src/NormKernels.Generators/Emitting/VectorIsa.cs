using System.Globalization;

namespace NormKernels.Generators.Emitting;

/// <summary>
/// One instruction-set path for one element type. Every kernel is emitted once per path from the same
/// template; this record supplies the spelling of each operation. The multiply-add contract per path:
/// 512 and 256 fused (FMA hardware is required for them); 128 through <c>TOps</c> (fused on ARM64 and
/// on x86 with FMA3, multiply-then-add otherwise); scalar multiply-then-add. Within a path the tail uses
/// the same contract as the body because tails are vectors too.
/// Accumulators are double: float lanes are widened into double pairs (Lo/Hi) when a chunk is added;
/// double lanes are added as they are (Lo only).
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

    private string DVec => IsScalar ? "double" : "global::System.Runtime.Intrinsics." + Path + "<double>";

    private string Static => "global::System.Runtime.Intrinsics." + Path;

    public string Zero => IsScalar ? (IsDouble ? "0d" : "0f") : Vec + ".Zero";

    public string Load(string reference, string index) =>
        IsScalar ? "global::System.Runtime.CompilerServices.Unsafe.Add(ref " + reference + ", " + index + ")" : Static + ".LoadUnsafe(ref " + reference + ", (nuint)(" + index + "))";

    public string Store(string value, string reference, string index) =>
        IsScalar ? "global::System.Runtime.CompilerServices.Unsafe.Add(ref " + reference + ", " + index + ") = " + value + ";" : Static + ".StoreUnsafe(" + value + ", ref " + reference + ", (nuint)(" + index + "));";

    public string Splat(string value) => IsScalar ? value : Static + ".Create(" + value + ")";

    /// <summary><c>a * b + c</c> under this path's contract.</summary>
    public string MultiplyAdd(string a, string b, string c) =>
        Is128 ? "TOps.MultiplyAdd(" + a + ", " + b + ", " + c + ")"
        : IsScalar ? "(" + a + " * " + b + " + " + c + ")"
        : Static + ".FusedMultiplyAdd(" + a + ", " + b + ", " + c + ")";

    /// <summary>A mask selecting the last <paramref name="lanes"/> lanes.</summary>
    public string LastLanes(string lanes) =>
        "global::NormKernels.Runtime.Tails.Last" + Bits.ToString(CultureInfo.InvariantCulture) + (IsDouble ? "Double" : "") + "(" + lanes + ")";

    public string Select(string mask, string whenTrue, string whenFalse) => Static + ".ConditionalSelect(" + mask + ", " + whenTrue + ", " + whenFalse + ")";

    /// <summary>Declares double accumulators named <paramref name="d"/> (Lo/Hi pair for float vectors), zeroed.</summary>
    public string DeclareDouble(string d) =>
        IsScalar ? "double " + d + " = 0d;"
        : IsDouble ? DVec + " " + d + "Lo = " + DVec + ".Zero;"
        : DVec + " " + d + "Lo = " + DVec + ".Zero, " + d + "Hi = " + DVec + ".Zero;";

    /// <summary>Statements adding the vector <paramref name="v"/> to the double accumulators <paramref name="d"/>.</summary>
    public string WidenAdd(string d, string v) =>
        IsScalar ? d + " += " + v + ";"
        : IsDouble ? d + "Lo += " + v + ";"
        : d + "Lo += " + Static + ".WidenLower(" + v + "); " + d + "Hi += " + Static + ".WidenUpper(" + v + ");";

    /// <summary>The double sum of the accumulators <paramref name="d"/>.</summary>
    public string SumDouble(string d)
    {
        if (IsScalar) return d;
        string all = IsDouble ? d + "Lo" : d + "Lo + " + d + "Hi";
        return Is128 ? "TOps.Sum(" + all + ")" : Static + ".Sum(" + all + ")";
    }

    /// <summary>Statements adding vector <paramref name="v"/> into a double array at <paramref name="index"/>.</summary>
    public string AddToDoubles(string array, string index, string v)
    {
        if (IsScalar) return "global::System.Runtime.CompilerServices.Unsafe.Add(ref " + array + ", " + index + ") += " + v + ";";
        if (IsDouble) return Static + ".StoreUnsafe(" + Load(array, index) + " + " + v + ", ref " + array + ", (nuint)(" + index + "));";
        string half = (Width / 2).ToString(CultureInfo.InvariantCulture);
        return Static + ".StoreUnsafe(" + Load(array, index) + " + " + Static + ".WidenLower(" + v + "), ref " + array + ", (nuint)(" + index + ")); " +
               Static + ".StoreUnsafe(" + Load(array, index + " + " + half) + " + " + Static + ".WidenUpper(" + v + "), ref " + array + ", (nuint)(" + index + " + " + half + "));";
    }

    /// <summary>Declares the lanes of <paramref name="v"/> as doubles named <paramref name="name"/> (Lo/Hi pair for float vectors).</summary>
    public string DeclareWidened(string name, string v) =>
        IsScalar ? "double " + name + " = (double)" + v + ";"
        : IsDouble ? DVec + " " + name + "Lo = " + v + ";"
        : DVec + " " + name + "Lo = " + Static + ".WidenLower(" + v + "), " + name + "Hi = " + Static + ".WidenUpper(" + v + ");";

    /// <summary>Statements adding, lane by lane in double, <paramref name="v"/> minus the widened <paramref name="k"/> (see
    /// <see cref="DeclareWidened"/>) to the double accumulators <paramref name="d"/>: exact for float lanes, whatever their magnitudes.</summary>
    public string WidenSubtractAdd(string d, string v, string k) =>
        IsScalar ? d + " += (double)" + v + " - " + k + ";"
        : IsDouble ? d + "Lo += " + v + " - " + k + "Lo;"
        : d + "Lo += " + Static + ".WidenLower(" + v + ") - " + k + "Lo; " + d + "Hi += " + Static + ".WidenUpper(" + v + ") - " + k + "Hi;";

    /// <summary>Statements adding the double accumulators <paramref name="d"/> (one vector's lanes) into a double array at <paramref name="index"/>.</summary>
    public string AddDoublesTo(string array, string index, string d)
    {
        if (IsScalar) return "global::System.Runtime.CompilerServices.Unsafe.Add(ref " + array + ", " + index + ") += " + d + ";";
        if (IsDouble) return Static + ".StoreUnsafe(" + Load(array, index) + " + " + d + "Lo, ref " + array + ", (nuint)(" + index + "));";
        string half = (Width / 2).ToString(CultureInfo.InvariantCulture);
        return Static + ".StoreUnsafe(" + Load(array, index) + " + " + d + "Lo, ref " + array + ", (nuint)(" + index + ")); " +
               Static + ".StoreUnsafe(" + Load(array, index + " + " + half) + " + " + d + "Hi, ref " + array + ", (nuint)(" + index + " + " + half + "));";
    }

    /// <summary>The call-site spelling of a path method (the 128-bit path passes its ops type).</summary>
    public string Call(string method) => method + "_" + Suffix + (Is128 ? "<TOps>" : "");

    /// <summary>The type parameters of a method emitted once for every path: the path struct and its vector type.</summary>
    public const string PathParams = "<TS, TV>";

    /// <summary>The constraints of <see cref="PathParams"/> for elements of type <paramref name="element"/>.</summary>
    public static string PathConstraint(string element) =>
        " where TS : struct, global::NormKernels.Runtime.ISimd<TV, " + element + "> where TV : struct";

    /// <summary>The shared run kernels for the path of a method emitted with <see cref="PathParams"/>.</summary>
    public static string Runs(string element) => "global::NormKernels.Runtime.Runs<TS, TV, " + element + ">";

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
