using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using Microsoft.CodeAnalysis;
using NormKernels.Generators.Helpers;
using NormKernels.Generators.Model;

namespace NormKernels.Generators.Parsing;

/// <summary>The LRN parse step's result: a spec, or the internal failure to report (equatable, no symbols).</summary>
internal sealed record LrnParseResult(LrnSpec? Spec, string TypeName, string Failure);

/// <summary>Symbol and <c>[LocalResponseNormalize]</c> to <see cref="LrnSpec"/>. Declarations the analyzer reports as errors return null quietly.</summary>
internal static class LrnParser
{
    public const string AttributeName = "NormKernels.LocalResponseNormalizeAttribute";

    public static LrnParseResult? Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        if (context.TargetSymbol is not INamedTypeSymbol type) return null;
        try
        {
            if (Parser.Containers(type, cancellationToken) is not { } containers) return null;

            AttributeData attribute = context.Attributes[0];
            string layout = "NCHW", element = "float";
            int size = 5;
            double alpha = 1e-4, beta = 0.75, k = 1.0;
            foreach (var pair in attribute.NamedArguments)
            {
                object? value = pair.Value.Value;
                if (pair.Value.Kind == TypedConstantKind.Error) return null;
                switch (pair.Key)
                {
                    case "ElementType":
                        if (Parser.ElementType(value) is not { } elementType) return null; // NK0021
                        element = elementType;
                        break;
                    case "Layout": layout = value as string ?? ""; break;
                    case "Size": size = value is int s ? s : 0; break;
                    case "Alpha": alpha = Convert.ToDouble(value, CultureInfo.InvariantCulture); break;
                    case "Beta": beta = Convert.ToDouble(value, CultureInfo.InvariantCulture); break;
                    case "K": k = Convert.ToDouble(value, CultureInfo.InvariantCulture); break;
                }
            }
            cancellationToken.ThrowIfCancellationRequested();
            if (LrnRules.HasError(LrnRules.Check(layout, size, alpha, beta, k))) return null;
            // NK0026-NK0030, as in Parser: the generated constructor takes no parameters.
            if (Parser.Collides(type, context.TargetNode, Array.Empty<ITypeSymbol>(), context.SemanticModel.Compilation, AttributeName, Parser.AttributeName, cancellationToken))
                return null;

            string ns = type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString();
            var spec = new LrnSpec(ns, new EquatableArray<ContainingType>(containers.ToArray()), Parser.Identifier(type.Name),
                layout, size, alpha, beta, k, element);
            return new LrnParseResult(spec, type.Name, "");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new LrnParseResult(null, type.Name, e.GetType().Name + ": " + e.Message);
        }
    }
}
