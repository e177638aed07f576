using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using NormKernels.Generators.Diagnostics;
using NormKernels.Generators.Helpers;

namespace NormKernels.Generators.Model;

/// <summary>
/// A usage diagnostic as the pipeline carries it: the NK id, where (file path, text span and line span, as numbers) and the
/// message arguments. No <see cref="Location"/> or syntax tree, so a parse result that holds it stays equatable and keeps no
/// compilation alive; <see cref="ToDiagnostic"/> rebuilds the diagnostic in the output step.
/// </summary>
internal sealed record DiagnosticInfo(
    string Id,
    string FilePath,
    int Start,
    int Length,
    int StartLine,
    int StartCharacter,
    int EndLine,
    int EndCharacter,
    EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, Location location, params string[] arguments)
    {
        FileLinePositionSpan lines = location.GetLineSpan();
        return new DiagnosticInfo(descriptor.Id, lines.Path ?? "", location.SourceSpan.Start, location.SourceSpan.Length,
            lines.StartLinePosition.Line, lines.StartLinePosition.Character, lines.EndLinePosition.Line, lines.EndLinePosition.Character,
            new EquatableArray<string>(arguments));
    }

    /// <summary>True for an error (anything but NK0025, the one warning): the layer is not generated, only its stub.</summary>
    public bool IsError => DiagnosticDescriptors.ById(Id).DefaultSeverity == DiagnosticSeverity.Error;

    /// <summary>
    /// The diagnostic, located in <paramref name="tree"/> when the compilation has the file (so <c>#pragma warning disable</c>
    /// applies, which a location by path alone would bypass), else by path and span.
    /// </summary>
    public Diagnostic ToDiagnostic(SyntaxTree? tree)
    {
        var span = new TextSpan(Start, Length);
        Location location = tree != null
            ? Location.Create(tree, span)
            : Location.Create(FilePath, span, new LinePositionSpan(new LinePosition(StartLine, StartCharacter), new LinePosition(EndLine, EndCharacter)));
        return Diagnostic.Create(DiagnosticDescriptors.ById(Id), location, Arguments.Cast<object>().ToArray());
    }

    /// <summary>The distinct error ids, in order, as the stub's exception message names them ("NK0007, NK0016").</summary>
    public static string ErrorIds(IEnumerable<DiagnosticInfo> diagnostics) =>
        string.Join(", ", diagnostics.Where(d => d.IsError).Select(d => d.Id).Distinct());
}
