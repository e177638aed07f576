using System;
using System.Text;

namespace NormKernels.Generators;

/// <summary>
/// The few text rewrites the emitter makes on the code it wrote, in plain string code: the generator runs once per build in a
/// fresh compiler process, where the regular-expression engine's first use (parse, compile to its interpreter, and the JIT of
/// both) cost more than the rewrites themselves.
/// </summary>
internal static class TextEdits
{
    /// <summary>An ASCII identifier character: the generated names are ASCII.</summary>
    public static bool IsIdentifierChar(char c) => c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

    /// <summary>The end of the identifier that starts at <paramref name="start"/> (== start when none starts there).</summary>
    public static int IdentifierEnd(string text, int start)
    {
        if (start >= text.Length || (text[start] >= '0' && text[start] <= '9')) return start;
        int end = start;
        while (end < text.Length && IsIdentifierChar(text[end])) end++;
        return end;
    }

    /// <summary><paramref name="text"/> with every <paramref name="target"/> that no identifier character follows replaced.</summary>
    public static string ReplaceWhole(string text, string target, string replacement)
    {
        int at = text.IndexOf(target, StringComparison.Ordinal);
        if (at < 0) return text;
        var result = new StringBuilder(text.Length);
        int copied = 0;
        while (at >= 0)
        {
            int end = at + target.Length;
            if (end < text.Length && IsIdentifierChar(text[end]))
            {
                at = text.IndexOf(target, at + 1, StringComparison.Ordinal);
                continue;
            }
            result.Append(text, copied, at - copied).Append(replacement);
            copied = end;
            at = text.IndexOf(target, end, StringComparison.Ordinal);
        }
        return result.Append(text, copied, text.Length - copied).ToString();
    }

    /// <summary><paramref name="text"/> with every lower-case letter that stands alone (no identifier character on either side) replaced.</summary>
    public static string ReplaceLetters(string text, Func<char, string> replacement)
    {
        var result = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            bool alone = c >= 'a' && c <= 'z' && (i == 0 || !IsIdentifierChar(text[i - 1])) && (i + 1 == text.Length || !IsIdentifierChar(text[i + 1]));
            if (alone) result.Append(replacement(c));
            else result.Append(c);
        }
        return result.ToString();
    }
}
