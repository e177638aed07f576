using System;
using System.Text;

namespace NormKernels.Generators.Emitting;

/// <summary>A tiny indented writer. Everything written is already invariant text: callers format
/// numbers through <see cref="Literals"/>, never through the current culture.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _text = new StringBuilder();
    private int _indent;

    public void Line(string line = "")
    {
        line = Simplify(line);
        if (line.Length > 0) _text.Append(' ', _indent * 4).Append(line);
        _text.Append('\n');
    }

    /// <summary>Writes <paramref name="header"/> and an opening brace; disposing writes the closing brace.</summary>
    public IDisposable Block(string header, string closing = "}")
    {
        Line(header);
        Line("{");
        _indent++;
        return new Closer(this, closing);
    }

    // Offsets and extents are composed from plan parts, so a constant part can reach the text as (nint)0 or (nint)1.
    // These rewrites drop them where the result is the same expression: Unsafe.Add(ref r, (nint)0) is r (as a value,
    // a target and a ref argument), "* (nint)1" multiplies by one, "(int)(nint)1" is 1.
    private const string AddHead = "global::System.Runtime.CompilerServices.Unsafe.Add(ref ", AddZeroTail = ", (nint)0)";

    private static string Simplify(string line)
    {
        if (line.IndexOf("(nint)", StringComparison.Ordinal) < 0) return line;
        int at = line.IndexOf(AddHead, StringComparison.Ordinal);
        while (at >= 0)
        {
            int name = at + AddHead.Length, end = TextEdits.IdentifierEnd(line, name);
            if (end > name && string.CompareOrdinal(line, end, AddZeroTail, 0, AddZeroTail.Length) == 0)
            {
                line = line.Substring(0, at) + line.Substring(name, end - name) + line.Substring(end + AddZeroTail.Length);
                at = line.IndexOf(AddHead, at + (end - name), StringComparison.Ordinal);
            }
            else
            {
                at = line.IndexOf(AddHead, at + 1, StringComparison.Ordinal);
            }
        }
        return line.Replace("(int)(nint)1", "1").Replace(" * (nint)1)", ")").Replace(" * (nint)1;", ";").Replace(" * (nint)1,", ",");
    }

    public override string ToString()
    {
        if (_indent != 0) throw new InvalidOperationException("Unbalanced blocks in generated source.");
        return _text.ToString();
    }

    private sealed class Closer : IDisposable
    {
        private readonly SourceWriter _writer;
        private readonly string _closing;

        public Closer(SourceWriter writer, string closing)
        {
            _writer = writer;
            _closing = closing;
        }

        public void Dispose()
        {
            _writer._indent--;
            _writer.Line(_closing);
        }
    }
}

/// <summary>Invariant-culture C# literals (a culture with U+2212 minus signs must not break the build). Values that are not
/// finite (a product of finite attribute values can overflow) are written as the type's named constants.</summary>
internal static class Literals
{
    public static string Float(double value)
    {
        float f = (float)value;
        if (float.IsNaN(f)) return "float.NaN";
        if (float.IsInfinity(f)) return f > 0 ? "float.PositiveInfinity" : "float.NegativeInfinity";
        string text = f.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (text.IndexOf('.') < 0 && text.IndexOf('E') < 0) text += ".0";
        return text + "f";
    }

    public static string Double(double value)
    {
        if (double.IsNaN(value)) return "double.NaN";
        if (double.IsInfinity(value)) return value > 0 ? "double.PositiveInfinity" : "double.NegativeInfinity";
        string text = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (text.IndexOf('.') < 0 && text.IndexOf('E') < 0) text += ".0";
        return text + "d";
    }

    public static string Int(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string String(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
