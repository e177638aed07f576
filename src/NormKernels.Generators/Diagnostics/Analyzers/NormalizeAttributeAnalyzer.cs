using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;

namespace NormKernels.Generators.Diagnostics.Analyzers
{
    /// <summary>
    /// Reports every mistake in a <c>[Normalize]</c> declaration that can be seen from the declaration alone
    /// (<c>NK0001</c>...<c>NK0021</c>), each at the argument it is about, so the generator can skip invalid
    /// declarations quietly. A declaration the compiler already rejects (syntax errors, non-constant or
    /// mistyped arguments) is left to the compiler.
    /// </summary>
    [DiagnosticAnalyzer(LanguageNames.CSharp)]
    public sealed class NormalizeAttributeAnalyzer : DiagnosticAnalyzer
    {
        /// <summary>The metadata name of the attribute this analyzer checks.</summary>
        public const string AttributeMetadataName = "NormKernels.NormalizeAttribute";

        // Defaults of NormalizeAttribute's properties: the values an absent argument stands for.
        private const string DefaultLayout = "NCHW";
        private const string DefaultAxes = "";
        private const double DefaultEpsilon = 1e-5;
        private const double DefaultMomentum = 0.1;

        /// <inheritdoc/>
        public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
            DiagnosticDescriptors.TypeNotPartial,
            DiagnosticDescriptors.LayoutEmpty,
            DiagnosticDescriptors.LayoutInvalidLetter,
            DiagnosticDescriptors.LayoutDuplicateLetter,
            DiagnosticDescriptors.AxesEmpty,
            DiagnosticDescriptors.AxesInvalidToken,
            DiagnosticDescriptors.AxesLetterNotInLayout,
            DiagnosticDescriptors.AxesDuplicateLetter,
            DiagnosticDescriptors.GroupsNotPositive,
            DiagnosticDescriptors.GroupsWithoutChannelReduced,
            DiagnosticDescriptors.KindUndefined,
            DiagnosticDescriptors.AffineUndefined,
            DiagnosticDescriptors.PerChannelWithoutChannel,
            DiagnosticDescriptors.ElementwiseWithoutSampleAxes,
            DiagnosticDescriptors.EpsilonNotPositive,
            DiagnosticDescriptors.MomentumOutOfRange,
            DiagnosticDescriptors.RootMeanSquareWithBatchReduced,
            DiagnosticDescriptors.RunningStatisticsUnsized,
            DiagnosticDescriptors.UnsupportedType,
            DiagnosticDescriptors.ContainingTypeNotPartial,
            DiagnosticDescriptors.ElementTypeUnsupported,
            DiagnosticDescriptors.TypeNameReserved,
            DiagnosticDescriptors.KeywordCaptured,
            DiagnosticDescriptors.PrimaryConstructor,
            DiagnosticDescriptors.MemberConflict);

        /// <inheritdoc/>
        public override void Initialize(AnalysisContext context)
        {
            context.EnableConcurrentExecution();
            context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
            context.RegisterCompilationStartAction(start =>
            {
                INamedTypeSymbol? attributeType = start.Compilation.GetTypeByMetadataName(AttributeMetadataName);
                if (attributeType is null) return; // NormKernels is not referenced: nothing to check.
                start.RegisterSymbolAction(symbolContext => AnalyzeType(symbolContext, attributeType), SymbolKind.NamedType);
            });
        }

        private static void AnalyzeType(SymbolAnalysisContext context, INamedTypeSymbol attributeType)
        {
            var type = (INamedTypeSymbol)context.Symbol;
            foreach (AttributeData attribute in type.GetAttributes())
            {
                if (!SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, attributeType)) continue;
                if (attribute.ApplicationSyntaxReference?.GetSyntax(context.CancellationToken) is not AttributeSyntax syntax) continue;
                if (syntax.Parent?.Parent is not MemberDeclarationSyntax declaration) continue;

                AnalyzeTypeShape(context, type, declaration);
                ITypeSymbol[]? constructor = AnalyzeArguments(context, attribute, syntax);
                LayerDeclarationChecks.Analyze(context, type, declaration, constructor);
            }
        }

        /// <summary>NK0001, NK0019, NK0020: the generator adds members to a non-generic, non-static partial class.</summary>
        internal static void AnalyzeTypeShape(SymbolAnalysisContext context, INamedTypeSymbol type, MemberDeclarationSyntax declaration)
        {
            // A struct, interface, enum or delegate: AttributeUsage(Class) makes it CS0592, which is the one error.
            if (type.TypeKind != TypeKind.Class) return;
            SyntaxToken identifier = IdentifierOf(declaration);
            Location location = identifier.GetLocation();

            string unsupported = DescribeUnsupported(type);
            if (unsupported.Length > 0)
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.UnsupportedType, location, type.Name, unsupported));

            if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.TypeNotPartial, location, type.Name));

            for (SyntaxNode? parent = declaration.Parent; parent is TypeDeclarationSyntax container; parent = container.Parent)
            {
                if (container.Modifiers.Any(SyntaxKind.PartialKeyword)) continue;
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ContainingTypeNotPartial,
                    container.Identifier.GetLocation(), container.Identifier.ValueText, type.Name));
            }
        }

        /// <summary>Why the generator cannot extend <paramref name="type"/> ("generic and abstract"), or "" when it can.</summary>
        private static string DescribeUnsupported(INamedTypeSymbol type)
        {
            var reasons = new List<string>();
            switch (type.TypeKind)
            {
                case TypeKind.Class:
                    if (type.IsRecord) reasons.Add("a record");
                    if (type.IsStatic) reasons.Add("static");
                    else if (type.IsAbstract) reasons.Add("abstract");
                    break;
                default:
                    // A struct, interface, enum or delegate: AttributeUsage(Class) makes it CS0592 already, one error is enough.
                    return "";
            }
            if (type.TypeParameters.Length > 0) reasons.Insert(0, "generic");
            if (type.IsFileLocal) reasons.Add("file-local");

            if (reasons.Count <= 1) return reasons.Count == 0 ? "" : reasons[0];
            return string.Join(", ", reasons.GetRange(0, reasons.Count - 1)) + " and " + reasons[reasons.Count - 1];
        }

        private static SyntaxToken IdentifierOf(MemberDeclarationSyntax declaration) => declaration switch
        {
            BaseTypeDeclarationSyntax typeDeclaration => typeDeclaration.Identifier,
            DelegateDeclarationSyntax delegateDeclaration => delegateDeclaration.Identifier,
            _ => declaration.GetFirstToken(),
        };

        /// <summary>
        /// NK0002...NK0018: every rule of <see cref="LayoutGrammar.Check"/>, each at its argument. Returns the generated
        /// constructor's parameter types when the declaration is valid, else null.
        /// </summary>
        private static ITypeSymbol[]? AnalyzeArguments(SymbolAnalysisContext context, AttributeData attribute, AttributeSyntax syntax)
        {
            if (!TryRead(attribute, syntax, out Declaration declaration)) return null;

            List<LayoutProblem> problems = LayoutGrammar.Check(declaration.Layout, declaration.Axes, declaration.Groups,
                declaration.GroupsGiven, declaration.Kind, declaration.Affine, declaration.Epsilon, declaration.Momentum);

            // NK0021: the generator emits float and double kernels only.
            if (declaration.ElementType is ITypeSymbol element &&
                element.SpecialType != SpecialType.System_Single && element.SpecialType != SpecialType.System_Double)
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ElementTypeUnsupported, LocationOf(syntax, "ElementType"),
                    element.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)));
            }

            // One diagnostic per id and argument: "N,C,H,W" is one mistake, reported at its first ','.
            var reported = new HashSet<string>();
            foreach (LayoutProblem problem in problems)
            {
                if (!reported.Add(problem.Argument + "\n" + DiagnosticDescriptors.For(problem.Kind).Id)) continue;
                context.ReportDiagnostic(DiagnosticDescriptors.Create(problem, LocationOf(syntax, problem.Argument)));
            }
            if (problems.Count > 0 || declaration.Layout is null || declaration.Axes is null) return null;

            // The generated constructor: (int channels | int normalizedSize)?, T epsilon, (T momentum when N is reduced)?
            ITypeSymbol elementType = declaration.ElementType ?? context.Compilation.GetSpecialType(SpecialType.System_Single);
            if (elementType.SpecialType != SpecialType.System_Single && elementType.SpecialType != SpecialType.System_Double) return null;
            return LayerDeclarationChecks.NormalizeConstructor(context.Compilation, elementType, declaration.Layout, declaration.Axes, declaration.Affine);
        }

        /// <summary>The expression of the named argument, or the attribute name when the argument is absent.</summary>
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

        /// <summary>The attribute's values as the compiler bound them; false when the attribute is malformed.</summary>
        private static bool TryRead(AttributeData attribute, AttributeSyntax syntax, out Declaration declaration)
        {
            declaration = new Declaration();
            if (syntax.ContainsDiagnostics || attribute.ConstructorArguments.Length != 0) return false;

            // Every written argument must be a named one, written once, and bound by the compiler.
            var written = new HashSet<string>();
            if (syntax.ArgumentList != null)
            {
                foreach (AttributeArgumentSyntax argument in syntax.ArgumentList.Arguments)
                {
                    if (argument.NameEquals == null || !written.Add(argument.NameEquals.Name.Identifier.ValueText)) return false;
                }
            }
            if (attribute.NamedArguments.Length != written.Count) return false;

            foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
            {
                TypedConstant constant = named.Value;
                if (named.Key == "ElementType")
                {
                    if (constant.Kind != TypedConstantKind.Type || constant.Value is not ITypeSymbol element) return false;
                    declaration.ElementType = element;
                    continue;
                }
                if (constant.Kind != TypedConstantKind.Primitive && constant.Kind != TypedConstantKind.Enum) return false;
                object? value = constant.Value;
                switch (named.Key)
                {
                    case "Layout" when value is null || value is string:
                        declaration.Layout = (string?)value;
                        break;
                    case "Axes" when value is null || value is string:
                        declaration.Axes = (string?)value;
                        break;
                    case "Groups" when value is int groups:
                        declaration.Groups = groups;
                        declaration.GroupsGiven = true;
                        break;
                    case "Kind" when value is int kind:
                        declaration.Kind = kind;
                        break;
                    case "Affine" when value is int affine:
                        declaration.Affine = affine;
                        break;
                    case "Epsilon" when value is double epsilon:
                        declaration.Epsilon = epsilon;
                        break;
                    case "Momentum" when value is double momentum:
                        declaration.Momentum = momentum;
                        break;
                    default:
                        return false;
                }
            }
            return true;
        }

        /// <summary>The values of one <c>[Normalize]</c>, defaults filled in.</summary>
        private sealed class Declaration
        {
            public string? Layout = DefaultLayout;
            public string? Axes = DefaultAxes;
            public int Groups;
            public bool GroupsGiven;
            public int Kind;
            public int Affine;
            public double Epsilon = DefaultEpsilon;
            public double Momentum = DefaultMomentum;
            public ITypeSymbol? ElementType;
        }
    }
}
