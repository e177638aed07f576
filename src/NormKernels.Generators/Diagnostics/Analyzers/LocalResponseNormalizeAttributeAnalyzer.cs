using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using NormKernels.Generators.Parsing;

namespace NormKernels.Generators.Diagnostics.Analyzers
{
    /// <summary>
    /// Reports every mistake in a <c>[LocalResponseNormalize]</c> declaration, each at the argument it is about: the type's
    /// shape (NK0001, NK0019, NK0020, shared with <c>[Normalize]</c>), the layout's letters (NK0002-NK0004), and
    /// NK0021-NK0025 (see <see cref="LrnRules"/>). Malformed attributes are left to the compiler.
    /// </summary>
    [DiagnosticAnalyzer(LanguageNames.CSharp)]
    public sealed class LocalResponseNormalizeAttributeAnalyzer : DiagnosticAnalyzer
    {
        /// <summary>The metadata name of the attribute this analyzer checks.</summary>
        public const string AttributeMetadataName = "NormKernels.LocalResponseNormalizeAttribute";

        /// <inheritdoc/>
        public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
            DiagnosticDescriptors.TypeNotPartial,
            DiagnosticDescriptors.UnsupportedType,
            DiagnosticDescriptors.ContainingTypeNotPartial,
            DiagnosticDescriptors.LayoutEmpty,
            DiagnosticDescriptors.LayoutInvalidLetter,
            DiagnosticDescriptors.LayoutDuplicateLetter,
            DiagnosticDescriptors.ElementTypeUnsupported,
            DiagnosticDescriptors.LrnLayoutWithoutChannel,
            DiagnosticDescriptors.LrnSizeNotPositive,
            DiagnosticDescriptors.LrnNotFinite,
            DiagnosticDescriptors.LrnKNotPositive,
            DiagnosticDescriptors.TypeNameReserved,
            DiagnosticDescriptors.KeywordCaptured,
            DiagnosticDescriptors.PrimaryConstructor,
            DiagnosticDescriptors.MemberConflict,
            DiagnosticDescriptors.BothAttributes);

        /// <inheritdoc/>
        public override void Initialize(AnalysisContext context)
        {
            context.EnableConcurrentExecution();
            context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
            context.RegisterCompilationStartAction(start =>
            {
                INamedTypeSymbol? attributeType = start.Compilation.GetTypeByMetadataName(AttributeMetadataName);
                if (attributeType is null) return;
                INamedTypeSymbol? normalizeType = start.Compilation.GetTypeByMetadataName(NormalizeAttributeAnalyzer.AttributeMetadataName);
                start.RegisterSymbolAction(symbolContext => AnalyzeType(symbolContext, attributeType, normalizeType), SymbolKind.NamedType);
            });
        }

        private static void AnalyzeType(SymbolAnalysisContext context, INamedTypeSymbol attributeType, INamedTypeSymbol? normalizeType)
        {
            var type = (INamedTypeSymbol)context.Symbol;
            foreach (AttributeData attribute in type.GetAttributes())
            {
                if (!SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, attributeType)) continue;
                if (attribute.ApplicationSyntaxReference?.GetSyntax(context.CancellationToken) is not AttributeSyntax syntax) continue;
                if (syntax.Parent?.Parent is not MemberDeclarationSyntax declaration) continue;

                // NK0030: one mistake, one diagnostic; the [Normalize] analyzer reports everything else about the type.
                if (LayerDeclarationChecks.HasAttribute(type, normalizeType))
                {
                    context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.BothAttributes, syntax.Name.GetLocation(), type.Name));
                    continue;
                }
                NormalizeAttributeAnalyzer.AnalyzeTypeShape(context, type, declaration);
                AnalyzeArguments(context, attribute, syntax);
                LayerDeclarationChecks.Analyze(context, type, declaration, System.Array.Empty<ITypeSymbol>());
            }
        }

        private static void AnalyzeArguments(SymbolAnalysisContext context, AttributeData attribute, AttributeSyntax syntax)
        {
            if (syntax.ContainsDiagnostics || attribute.ConstructorArguments.Length != 0) return;
            var written = new HashSet<string>();
            if (syntax.ArgumentList != null)
            {
                foreach (AttributeArgumentSyntax argument in syntax.ArgumentList.Arguments)
                    if (argument.NameEquals == null || !written.Add(argument.NameEquals.Name.Identifier.ValueText)) return;
            }
            if (attribute.NamedArguments.Length != written.Count) return;

            string? layout = "NCHW";
            int size = 5;
            double alpha = 1e-4, beta = 0.75, k = 1.0;
            foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
            {
                TypedConstant constant = named.Value;
                if (named.Key == "ElementType")
                {
                    if (constant.Kind != TypedConstantKind.Type || constant.Value is not ITypeSymbol element) return;
                    if (element.SpecialType != SpecialType.System_Single && element.SpecialType != SpecialType.System_Double)
                        context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ElementTypeUnsupported, LocationOf(syntax, "ElementType"),
                            element.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)));
                    continue;
                }
                if (constant.Kind != TypedConstantKind.Primitive) return;
                object? value = constant.Value;
                switch (named.Key)
                {
                    case "Layout" when value is null || value is string: layout = (string?)value; break;
                    case "Size" when value is int s: size = s; break;
                    case "Alpha" when value is double a: alpha = a; break;
                    case "Beta" when value is double b: beta = b; break;
                    case "K" when value is double kk: k = kk; break;
                    default: return;
                }
            }

            var reported = new HashSet<string>();
            foreach (LrnRules.Problem problem in LrnRules.Check(layout, size, alpha, beta, k))
            {
                DiagnosticDescriptor descriptor = problem.Layout != null ? DiagnosticDescriptors.For(problem.Layout.Kind) : For(problem.Kind);
                if (!reported.Add(problem.Argument + "\n" + descriptor.Id)) continue; // one per id and argument, as for [Normalize]
                context.ReportDiagnostic(Diagnostic.Create(descriptor, LocationOf(syntax, problem.Argument), problem.Detail));
            }
        }

        private static DiagnosticDescriptor For(LrnProblemKind kind) => kind switch
        {
            LrnProblemKind.LayoutWithoutChannel => DiagnosticDescriptors.LrnLayoutWithoutChannel,
            LrnProblemKind.SizeNotPositive => DiagnosticDescriptors.LrnSizeNotPositive,
            LrnProblemKind.NotFinite => DiagnosticDescriptors.LrnNotFinite,
            _ => DiagnosticDescriptors.LrnKNotPositive,
        };

        private static Location LocationOf(AttributeSyntax syntax, string argumentName)
        {
            if (syntax.ArgumentList != null)
            {
                foreach (AttributeArgumentSyntax argument in syntax.ArgumentList.Arguments)
                {
                    if (argument.NameEquals?.Name.Identifier.ValueText == argumentName)
                        return argument.Expression.GetLocation();
                }
            }
            return syntax.Name.GetLocation();
        }
    }
}
