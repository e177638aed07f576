using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NormKernels.Generators.Diagnostics.Analyzers;
using NormKernels.Generators.Helpers;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Parsing;

/// <summary>The parse step's result: a spec, or the internal failure to report (equatable, no symbols).</summary>
internal sealed record ParseResult(NormSpec? Spec, string TypeName, string Failure);

/// <summary>Symbol and attribute to <see cref="NormSpec"/>. Declarations the analyzer reports return null quietly.</summary>
internal static class Parser
{
    public const string AttributeName = "NormKernels.NormalizeAttribute";

    public static ParseResult? Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        if (context.TargetSymbol is not INamedTypeSymbol type) return null;
        try
        {
            if (Containers(type, cancellationToken) is not { } containers) return null;

            AttributeData attribute = context.Attributes[0];
            string layout = "NCHW", axes = "";
            int groups = 0, kind = 0, affine = 0;
            bool groupsGiven = false;
            double epsilon = 1e-5, momentum = 0.1;
            string element = "float";
            foreach (var pair in attribute.NamedArguments)
            {
                object? value = pair.Value.Value;
                if (pair.Value.Kind == TypedConstantKind.Error) return null;
                switch (pair.Key)
                {
                    case "ElementType":
                        if (ElementType(value) is not { } elementType) return null; // NK0021
                        element = elementType;
                        break;
                    case "Layout": layout = value as string ?? ""; break;
                    case "Axes": axes = value as string ?? ""; break;
                    case "Groups": groups = value is int g ? g : 0; groupsGiven = true; break;
                    case "Kind": kind = value is int k ? k : -1; break;
                    case "Affine": affine = value is int a ? a : -1; break;
                    case "Epsilon": epsilon = Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture); break;
                    case "Momentum": momentum = Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture); break;
                }
            }
            cancellationToken.ThrowIfCancellationRequested();
            if (LayoutGrammar.Check(layout, axes, groups, groupsGiven, kind, affine, epsilon, momentum).Count > 0)
                return null;
            // NK0026-NK0030: the analyzers report what in the declaration would collide with the generated code.
            Compilation compilation = context.SemanticModel.Compilation;
            ITypeSymbol[] constructor = LayerDeclarationChecks.NormalizeConstructor(compilation,
                compilation.GetSpecialType(element == "double" ? SpecialType.System_Double : SpecialType.System_Single), layout, axes, affine);
            if (Collides(type, context.TargetNode, constructor, compilation, AttributeName, LrnParser.AttributeName, cancellationToken)) return null;

            string ns = type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString();
            var spec = new NormSpec(ns, new EquatableArray<ContainingType>(containers.ToArray()), Identifier(type.Name),
                layout, string.Join(",", LayoutGrammar.SplitAxes(axes)), groups, kind, affine, epsilon, momentum, element);
            return new ParseResult(spec, type.Name, "");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new ParseResult(null, type.Name, e.GetType().Name + ": " + e.Message);
        }
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

    /// <summary>
    /// True when the type has a collision the analyzers report (NK0026-NK0029), also carries <paramref name="otherAttribute"/>
    /// (NK0030), or carries this attribute on more than one declaration (CS0579): generating would only add errors.
    /// </summary>
    internal static bool Collides(INamedTypeSymbol type, SyntaxNode declaration, ITypeSymbol[] constructor, Compilation compilation,
        string ownAttribute, string otherAttribute, CancellationToken cancellationToken)
    {
        INamedTypeSymbol? own = compilation.GetTypeByMetadataName(ownAttribute);
        if (type.GetAttributes().Count(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, own)) > 1) return true;
        INamedTypeSymbol? other = compilation.GetTypeByMetadataName(otherAttribute);
        if (LayerDeclarationChecks.HasAttribute(type, other)) return true;
        return LayerDeclarationChecks.Find(type, declaration, constructor, cancellationToken).Count > 0;
    }

    /// <summary>A hint name for the layer's file: the full name without '@' and with the characters of type parameter lists replaced.</summary>
    internal static string HintName(string fullName, string suffix) =>
        fullName.Replace("@", "").Replace(", ", "_").Replace('<', '_').Replace('>', '_').Replace(',', '_').Replace(' ', '_') + suffix;

    /// <summary>A <c>file</c> class: its other parts would have to be in the same file, which generated code never is.</summary>
    internal static bool IsFileLocal(INamedTypeSymbol type, CancellationToken cancellationToken) =>
        type.DeclaringSyntaxReferences.Any(r => r.GetSyntax(cancellationToken) is TypeDeclarationSyntax t &&
                                                t.Modifiers.Any(m => m.IsKind(SyntaxKind.FileKeyword)));

    /// <summary>An <c>ElementType</c> argument as C#: "float", "double", or null for any other type (NK0021).</summary>
    internal static string? ElementType(object? value) => (value as ITypeSymbol)?.SpecialType switch
    {
        SpecialType.System_Single => "float",
        SpecialType.System_Double => "double",
        _ => null,
    };

    /// <summary>A name as C# source: keywords (<c>class</c>, <c>event</c>) need their <c>@</c> back.</summary>
    internal static string Identifier(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;

    internal static bool IsPartial(INamedTypeSymbol type, CancellationToken cancellationToken) =>
        type.DeclaringSyntaxReferences.Length > 0 &&
        type.DeclaringSyntaxReferences.All(r => r.GetSyntax(cancellationToken) is TypeDeclarationSyntax t &&
                                                t.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)));
}
