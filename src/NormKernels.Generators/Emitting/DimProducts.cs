using System.Collections.Generic;

namespace NormKernels.Generators.Emitting;

/// <summary>Products of dims in generated prologues, always checked: a chain of Checks.Multiply that throws at the dim
/// where the product first exceeds what a span can hold (a product formed in long could wrap for 4+ dims).</summary>
internal static class DimProducts
{
    private const string Checks = "global::NormKernels.Runtime.Checks";

    /// <summary>An int expression: the checked product of <paramref name="factors"/> (expression, parameter blamed, and the
    /// factor's name in the message when it is not the parameter itself), described as <paramref name="dimsText"/>.</summary>
    public static string Checked(IEnumerable<(string Factor, string Name, string? Text)> factors, string dimsText)
    {
        string expr = "1";
        foreach (var (factor, name, text) in factors)
            expr = Checks + ".Multiply(" + expr + ", " + factor + ", " + Literals.String(name) + ", " + Literals.String(dimsText) +
                   (text is null ? "" : ", " + Literals.String(text)) + ")";
        return expr;
    }

    /// <summary>The checked product of dims given by name (each factor is its own parameter).</summary>
    public static string Checked(IEnumerable<string> dims, string dimsText)
    {
        var factors = new List<(string, string, string?)>();
        foreach (string d in dims) factors.Add((d, d, null));
        return Checked(factors, dimsText);
    }
}
