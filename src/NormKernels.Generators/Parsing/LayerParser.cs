using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NormKernels.Generators.Diagnostics;
using NormKernels.Generators.Helpers;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Parsing;

/// <summary>
/// The parse step's result (equatable, no symbols): the spec to generate, the usage diagnostics to report, or the internal
/// failure to report. With errors in the arguments, <see cref="Spec"/> is the nearest valid declaration
/// (<see cref="StubSpecs"/>) and <see cref="StubErrors"/> names the errors ("NK0007, NK0016"): the generator emits the
/// layer's surface with bodies that throw, so use sites compile. Spec is null when not even that can be generated (the
/// class cannot be extended, the attribute is malformed, or a stub would collide with the user's own members).
/// </summary>
internal sealed record ParseResult<TSpec>(TSpec? Spec, string TypeName, string Failure, EquatableArray<DiagnosticInfo> Diagnostics, string StubErrors)
    where TSpec : class
{
    /// <summary>The layer is generated in full.</summary>
    public bool IsValid => Spec != null && StubErrors.Length == 0;
}

/// <summary>Where the layer is declared, to re-open it as partial: namespace, containing types (outermost first), name.</summary>
/// <param name="Marks">The class attributes the generated part adds: "G" [GeneratedCode], "E" [ExcludeFromCodeCoverage], each
/// unless the user's part already has it (a second one is CS0579).</param>
/// <param name="Unaliased">The alias names a type or member in scope would capture (DeclarationChecks.CapturedAliases): the
/// generated file keeps their <c>global::</c> names.</param>
internal sealed record LayerName(string Namespace, EquatableArray<ContainingType> Containers, string TypeName, string Marks = "GE", string Unaliased = "")
{
    /// <summary>Namespace, containing types and name, dot-separated.</summary>
    public string FullName => (Namespace.Length > 0 ? Namespace + "." : "") + string.Join(".", System.Linq.Enumerable.Select(Containers, c => c.Name)) + (Containers.Count > 0 ? "." : "") + TypeName;
}

/// <summary>What an attribute's own rules make of its arguments: the spec, and whether it is the declaration as written.</summary>
internal readonly struct SpecReading<TSpec>
    where TSpec : class
{
    public SpecReading(TSpec? spec, bool asWritten)
    {
        Spec = spec;
        AsWritten = asWritten;
    }

    /// <summary>The spec as written when valid, the nearest valid one for a stub when not, null when the attribute is malformed.</summary>
    public TSpec? Spec { get; }

    /// <summary>The arguments break no error rule: <see cref="Spec"/> is what the user wrote.</summary>
    public bool AsWritten { get; }
}

/// <summary>
/// The parse step every layer attribute shares: checks the type (shape and collisions, <see cref="DeclarationChecks"/>), reads the
/// attribute's arguments, lets the attribute's own rules turn them into a spec, and decides what is generated: the layer, a
/// stub, or nothing. Every NK usage diagnostic is found here, once per mistake.
/// </summary>
internal static class LayerParser
{
    /// <summary>
    /// The layer attributes, in the order that settles who reports what on a class with more than one (NK0030, one mistake):
    /// the parser of the last one the class has reports NK0030 at its attribute, the parser of the first one reports the
    /// class's other mistakes (without generating anything), and any parser between them reports nothing.
    /// </summary>
    internal static readonly string[] LayerAttributes = { Parser.AttributeName, LrnParser.AttributeName, WeightNormParser.AttributeName };

    /// <summary>
    /// Parses the class <paramref name="context"/> targets, for the layer attribute <paramref name="ownAttribute"/> (one of
    /// <see cref="LayerAttributes"/>). <paramref name="constructor"/>: the parameter types of the generated constructor of a spec.
    /// </summary>
    public static ParseResult<TSpec>? Parse<TSpec>(GeneratorAttributeSyntaxContext context, string ownAttribute,
        Func<LayerName, AttributeArguments, SpecReading<TSpec>> read,
        Func<Compilation, TSpec, ITypeSymbol[]> constructor, CancellationToken cancellationToken)
        where TSpec : class
    {
        // A struct, interface, enum or delegate: AttributeUsage(Class) makes it CS0592, which is the one error.
        if (context.TargetSymbol is not INamedTypeSymbol { TypeKind: TypeKind.Class } type || context.TargetNode is not TypeDeclarationSyntax declaration)
            return null;
        try
        {
            Compilation compilation = context.SemanticModel.Compilation;
            AttributeData attribute = context.Attributes[0];
            // The attribute on two parts of the class is the compiler's CS0579; one error is enough.
            if (type.GetAttributes().Count(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, attribute.AttributeClass)) > 1) return null;

            var found = new List<DiagnosticInfo>();
            var present = LayerAttributes.Where(a => a == ownAttribute || DeclarationChecks.HasAttribute(type, compilation, a)).ToList();
            bool both = present.Count > 1;
            if (both && present[present.Count - 1] == ownAttribute)
            {
                if (attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) is AttributeSyntax syntax)
                    found.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BothAttributes, syntax.Name.GetLocation(), type.Name, Listed(present)));
                return Result<TSpec>(type, declaration, null, found, "", cancellationToken);
            }
            if (both && present[0] != ownAttribute) return null;

            DeclarationChecks.CheckTypeShape(type, declaration, found);
            List<ContainingType>? containers = found.Count == 0 ? Containers(type, cancellationToken) : null;
            string ns = type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString();
            var name = new LayerName(ns, new EquatableArray<ContainingType>(containers?.ToArray() ?? Array.Empty<ContainingType>()), Identifier(type.Name), Marks(type),
                DeclarationChecks.CapturedAliases(type));

            SpecReading<TSpec> reading = AttributeArguments.Read(attribute, found, cancellationToken) is { } arguments
                ? read(name, arguments)
                : default;
            TSpec? spec = reading.Spec;
            int before = found.Count;
            DeclarationChecks.CheckCollisions(type, declaration, reading.AsWritten && spec != null ? constructor(compilation, spec) : null, found, cancellationToken);

            // Nothing is generated for a class that cannot be extended, that has two layer attributes, or whose own members the
            // generated ones would collide with (the stub's constructor included, which the user's code did not see coming).
            string stubErrors = reading.AsWritten ? "" : DiagnosticInfo.ErrorIds(found);
            if (containers == null || both || found.Count > before ||
                (spec != null && !reading.AsWritten && DeclarationChecks.DeclaresConstructor(type, constructor(compilation, spec), cancellationToken)))
                spec = null;
            return Result(type, declaration, spec, found, spec == null ? "" : stubErrors, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new ParseResult<TSpec>(null, type.Name, e.GetType().Name + ": " + e.Message, default, "");
        }
    }

    /// <summary>"[Normalize] and [WeightNormalize]", "[Normalize], [LocalResponseNormalize] and [WeightNormalize]".</summary>
    private static string Listed(List<string> attributes)
    {
        var names = attributes.Select(a => "[" + a.Substring(a.LastIndexOf('.') + 1).Replace("Attribute", "") + "]").ToList();
        return string.Join(", ", names.Take(names.Count - 1)) + " and " + names[names.Count - 1];
    }

    private static ParseResult<TSpec> Result<TSpec>(INamedTypeSymbol type, TypeDeclarationSyntax declaration, TSpec? spec,
        List<DiagnosticInfo> found, string stubErrors, CancellationToken cancellationToken)
        where TSpec : class
    {
        // Generated code is nobody's to fix: no diagnostic there, as analyzers that skip generated code gave none.
        if (DeclarationChecks.IsGeneratedCode(type, declaration.SyntaxTree, cancellationToken)) found.Clear();
        return new ParseResult<TSpec>(spec, type.Name, "", new EquatableArray<DiagnosticInfo>(found.ToArray()), stubErrors);
    }

    /// <summary>
    /// The containing types (outermost first) of a generatable class: non-static, non-abstract, non-generic, not file-local
    /// and partial, nested only in partial types (generic ones too: their type parameters are repeated, with variance).
    /// Null for anything else (the analyzers report it).
    /// </summary>
    internal static List<ContainingType>? Containers(INamedTypeSymbol type, CancellationToken cancellationToken)
    {
        if (type.TypeKind != TypeKind.Class || type.IsStatic || type.IsAbstract || type.TypeParameters.Length > 0 || type.IsRecord ||
            !IsPartial(type, cancellationToken) || IsFileLocal(type, cancellationToken))
            return null;
        var containers = new List<ContainingType>();
        for (var outer = type.ContainingType; outer != null; outer = outer.ContainingType)
        {
            if (!IsPartial(outer, cancellationToken)) return null;
            string keyword = outer.IsRecord ? (outer.IsValueType ? "record struct" : "record")
                : outer.TypeKind == TypeKind.Struct ? "struct"
                : outer.TypeKind == TypeKind.Interface ? "interface" : "class";
            string typeParameters = outer.TypeParameters.Length == 0 ? "" : "<" + string.Join(", ", outer.TypeParameters.Select(p =>
                (p.Variance == VarianceKind.Out ? "out " : p.Variance == VarianceKind.In ? "in " : "") + Identifier(p.Name))) + ">";
            containers.Insert(0, new ContainingType(keyword, Identifier(outer.Name) + typeParameters));
        }
        return containers;
    }

    /// <summary>A hint name for the layer's file: the full name without '@' and with the characters of type parameter lists replaced.</summary>
    internal static string HintName(string fullName, string suffix) =>
        fullName.Replace("@", "").Replace(", ", "_").Replace('<', '_').Replace('>', '_').Replace(',', '_').Replace(' ', '_') + suffix;

    /// <summary>A <c>file</c> class: its other parts would have to be in the same file, which generated code never is.</summary>
    internal static bool IsFileLocal(INamedTypeSymbol type, CancellationToken cancellationToken) =>
        type.DeclaringSyntaxReferences.Any(r => r.GetSyntax(cancellationToken) is TypeDeclarationSyntax t &&
                                                t.Modifiers.Any(m => m.IsKind(SyntaxKind.FileKeyword)));

    /// <summary>A name as C# source: keywords (<c>class</c>, <c>event</c>) need their <c>@</c> back.</summary>
    internal static string Identifier(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;

    internal static bool IsPartial(INamedTypeSymbol type, CancellationToken cancellationToken) =>
        type.DeclaringSyntaxReferences.Length > 0 &&
        type.DeclaringSyntaxReferences.All(r => r.GetSyntax(cancellationToken) is TypeDeclarationSyntax t &&
                                                t.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)));

    /// <summary>The class attributes the generated part may add without repeating one the user's part has.</summary>
    private static string Marks(INamedTypeSymbol type)
    {
        bool Has(string name) => type.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == name);
        return (Has("System.CodeDom.Compiler.GeneratedCodeAttribute") ? "" : "G") +
               (Has("System.Diagnostics.CodeAnalysis.ExcludeFromCodeCoverageAttribute") ? "" : "E");
    }
}
