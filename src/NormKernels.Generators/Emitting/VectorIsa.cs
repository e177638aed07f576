namespace NormKernels.Generators.Emitting;

/// <summary>
/// One instruction-set path. Every kernel is emitted once per path from the same template; this
/// record supplies the spelling of each operation. The multiply-add contract per path: 512 and 256
/// fused (FMA hardware is required for them); 128 through <c>TOps</c> (fused on ARM64 and on x86 with
/// FMA3, multiply-then-add otherwise); scalar multiply-then-add. Within a path the tail uses the
/// same contract as the body because tails are vectors too.
/// </summary>
internal sealed class VectorIsa
{
    private VectorIsa(string suffix, int width, string path)
    {
        Suffix = suffix;
        Width = width;
        Path = path;
    }

    public static readonly VectorIsa V512 = new VectorIsa("V512", 16, "Vector512");
    public static readonly VectorIsa V256 = new VectorIsa("V256", 8, "Vector256");
    public static readonly VectorIsa V128 = new VectorIsa("V128", 4, "Vector128");
    public static readonly VectorIsa Scalar = new VectorIsa("Scalar", 1, "Scalar");

    public static readonly VectorIsa[] All = { V512, V256, V128, Scalar };

    /// <summary>Method-name suffix.</summary>
    public string Suffix { get; }

    /// <summary>Float lanes per vector.</summary>
    public int Width { get; }

    /// <summary>The <c>KernelPath</c> member name.</summary>
    public string Path { get; }

    public bool IsScalar => Width == 1;

    /// <summary>Generic parameter list of the path's methods (the 128-bit path is generic over its ops).</summary>
    public string TypeParams => this == V128 ? "<TOps>" : "";

    public string Constraint => this == V128 ? " where TOps : struct, global::NormKernels.Runtime.IVector128Ops" : "";

    public string Vec => IsScalar ? "float" : "global::System.Runtime.Intrinsics." + Path + "<float>";

    public string DVec => IsScalar ? "double" : "global::System.Runtime.Intrinsics." + Path + "<double>";

    private string Static => "global::System.Runtime.Intrinsics." + Path;

    public string Zero => IsScalar ? "0f" : Vec + ".Zero";

    public string DZero => IsScalar ? "0d" : DVec + ".Zero";

    public string Load(string reference, string index) =>
        IsScalar ? "global::System.Runtime.CompilerServices.Unsafe.Add(ref " + reference + ", " + index + ")" : Static + ".LoadUnsafe(ref " + reference + ", (nuint)(" + index + "))";

    public string Store(string value, string reference, string index) =>
        IsScalar ? "global::System.Runtime.CompilerServices.Unsafe.Add(ref " + reference + ", " + index + ") = " + value + ";" : Static + ".StoreUnsafe(" + value + ", ref " + reference + ", (nuint)(" + index + "));";

    public string Splat(string value) => IsScalar ? value : Static + ".Create(" + value + ")";

    /// <summary><c>a * b + c</c> under this path's contract.</summary>
    public string MultiplyAdd(string a, string b, string c) =>
        this == V128 ? "TOps.MultiplyAdd(" + a + ", " + b + ", " + c + ")"
        : IsScalar ? "(" + a + " * " + b + " + " + c + ")"
        : Static + ".FusedMultiplyAdd(" + a + ", " + b + ", " + c + ")";

    /// <summary>A mask selecting the last <paramref name="lanes"/> lanes.</summary>
    public string LastLanes(string lanes) => "global::NormKernels.Runtime.Tails.Last" + Width * 32 + "(" + lanes + ")";

    public string Select(string mask, string whenTrue, string whenFalse) => Static + ".ConditionalSelect(" + mask + ", " + whenTrue + ", " + whenFalse + ")";

    /// <summary>Statements adding the float vector <paramref name="v"/> to the double accumulators <paramref name="d"/>Lo/Hi.</summary>
    public string WidenAdd(string d, string v) =>
        IsScalar ? d + " += " + v + ";" : d + "Lo += " + Static + ".WidenLower(" + v + "); " + d + "Hi += " + Static + ".WidenUpper(" + v + ");";

    /// <summary>The double sum of the accumulators <paramref name="d"/>Lo/Hi.</summary>
    public string SumDouble(string d) =>
        IsScalar ? d : this == V128 ? "TOps.Sum(" + d + "Lo + " + d + "Hi)" : Static + ".Sum(" + d + "Lo + " + d + "Hi)";

    /// <summary>Statements adding float vector <paramref name="v"/> into a double array at <paramref name="index"/>.</summary>
    public string AddToDoubles(string array, string index, string v)
    {
        if (IsScalar) return "global::System.Runtime.CompilerServices.Unsafe.Add(ref " + array + ", " + index + ") += " + v + ";";
        string half = (Width / 2).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Static + ".StoreUnsafe(" + Load(array, index) + " + " + Static + ".WidenLower(" + v + "), ref " + array + ", (nuint)(" + index + ")); " +
               Static + ".StoreUnsafe(" + Load(array, index + " + " + half) + " + " + Static + ".WidenUpper(" + v + "), ref " + array + ", (nuint)(" + index + " + " + half + "));";
    }

    /// <summary>The call-site spelling of a path method (the 128-bit path passes its ops type).</summary>
    public string Call(string method) => method + "_" + Suffix + (this == V128 ? "<TOps>" : "");
}
