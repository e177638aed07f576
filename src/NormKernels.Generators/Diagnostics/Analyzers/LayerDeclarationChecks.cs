using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using NormKernels.Generators.Parsing;

namespace NormKernels.Generators.Diagnostics.Analyzers
{
    /// <summary>
    /// NK0026-NK0029: what in the user's own declaration would collide with the generated half of a layer (its name, a
    /// primary constructor, a member of a generated name, a type that captures a keyword the generated code writes). Shared
    /// by both attributes' analyzers; the names are listed once, in <see cref="GeneratedNames"/>.
    /// </summary>
    internal static class LayerDeclarationChecks
    {
        /// <summary>
        /// Reports the collisions of <paramref name="type"/>. <paramref name="constructor"/> is the generated constructor's
        /// parameter types, or null when unknown (the attribute has other errors).
        /// </summary>
        public static void Analyze(SymbolAnalysisContext context, INamedTypeSymbol type, MemberDeclarationSyntax declaration, ITypeSymbol[]? constructor)
        {
            foreach (Diagnostic diagnostic in Find(type, declaration, constructor, context.CancellationToken))
                context.ReportDiagnostic(diagnostic);
        }

        /// <summary>The collisions of <paramref name="type"/>, as diagnostics; the parsers skip a type with any.</summary>
        public static List<Diagnostic> Find(INamedTypeSymbol type, SyntaxNode declaration, ITypeSymbol[]? constructor, System.Threading.CancellationToken cancellationToken)
        {
            var found = new List<Diagnostic>();
            // Not a class: the compiler's CS0592 is the one error (the attribute is for classes).
            if (declaration is not TypeDeclarationSyntax typeDeclaration || type.TypeKind != TypeKind.Class) return found;

            // NK0026: a member cannot have its type's name (CS0542 in generated code).
            if (GeneratedNames.IsReserved(type.Name))
                found.Add(Diagnostic.Create(DiagnosticDescriptors.TypeNameReserved, typeDeclaration.Identifier.GetLocation(), type.Name));

            // NK0028: a constructor of a type with a primary constructor must call it (CS8862), and the generated one cannot.
            foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax(cancellationToken) is TypeDeclarationSyntax { ParameterList: { } parameters } && !IsGenerated(reference.SyntaxTree))
                    found.Add(Diagnostic.Create(DiagnosticDescriptors.PrimaryConstructor, parameters.GetLocation(), type.Name));
            }

            // NK0029: the user's members that the generated code declares too.
            foreach (ISymbol member in type.GetMembers())
            {
                if (member.IsImplicitlyDeclared || member.Locations.Length == 0) continue;
                Location? location = member.Locations.FirstOrDefault(l => l.IsInSource && !IsGenerated(l.SourceTree!));
                if (location == null) continue;
                if (member is IMethodSymbol { MethodKind: MethodKind.Constructor } ctor)
                {
                    // A primary constructor is NK0028's, whatever its parameters.
                    if (ctor.DeclaringSyntaxReferences.Any(r => r.GetSyntax(cancellationToken) is TypeDeclarationSyntax)) continue;
                    if (constructor != null && ctor.Parameters.Select(p => p.Type).SequenceEqual(constructor, SymbolEqualityComparer.Default))
                        found.Add(Diagnostic.Create(DiagnosticDescriptors.MemberConflict, location,
                            "a constructor (" + string.Join(", ", constructor.Select(t => t.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat))) + ")", type.Name));
                    continue;
                }
                if (member is IMethodSymbol { MethodKind: not MethodKind.Ordinary }) continue; // accessors, operators, finalizer
                if (GeneratedNames.IsReserved(member.Name))
                    found.Add(Diagnostic.Create(DiagnosticDescriptors.MemberConflict, location, "'" + member.Name + "'", type.Name));
            }

            // NK0027: a type named 'nint', 'var', ... anywhere the generated code's name lookup passes through.
            foreach (string keyword in GeneratedNames.CapturedKeywords)
            {
                if (CapturingType(type, keyword) is { } capturing)
                    found.Add(Diagnostic.Create(DiagnosticDescriptors.KeywordCaptured, typeDeclaration.Identifier.GetLocation(),
                        keyword, capturing.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat)));
            }
            return found;
        }

        /// <summary>
        /// A type or type parameter named <paramref name="name"/> that name lookup inside <paramref name="type"/> finds before
        /// the keyword: the type itself, its nested types, each containing type (and its nested types and type parameters), and
        /// the types of each enclosing namespace. Types imported by using directives are not searched.
        /// </summary>
        private static ISymbol? CapturingType(INamedTypeSymbol type, string name)
        {
            for (INamedTypeSymbol? current = type; current != null; current = current.ContainingType)
            {
                if (current.Name == name) return current;
                if (current.GetTypeMembers(name).FirstOrDefault() is { } nested) return nested;
                if (current.TypeParameters.FirstOrDefault(p => p.Name == name) is { } parameter) return parameter;
            }
            for (INamespaceSymbol? ns = type.ContainingNamespace; ns != null; ns = ns.ContainingNamespace)
            {
                if (ns.GetTypeMembers(name).FirstOrDefault() is { } found) return found;
            }
            return null;
        }

        /// <summary>The generated <c>[Normalize]</c> constructor's parameter types: (int channels | int normalizedSize)?, T epsilon,
        /// and T momentum when Axes reduce N (see the emitter's surface).</summary>
        public static ITypeSymbol[] NormalizeConstructor(Compilation compilation, ITypeSymbol element, string layout, string axes, int affine)
        {
            var parameters = new List<ITypeSymbol>();
            if (affine == 1 || layout.IndexOf(LayoutGrammar.Channel) >= 0)
                parameters.Add(compilation.GetSpecialType(SpecialType.System_Int32));
            parameters.Add(element);
            if (LayoutGrammar.SplitAxes(axes).Contains(LayoutGrammar.Batch.ToString())) parameters.Add(element);
            return parameters.ToArray();
        }

        /// <summary>A file the NormKernels generators wrote.</summary>
        private static bool IsGenerated(SyntaxTree tree) =>
            tree.FilePath.EndsWith(".Normalize.g.cs", System.StringComparison.Ordinal) ||
            tree.FilePath.EndsWith(".LocalResponseNormalize.g.cs", System.StringComparison.Ordinal);

        /// <summary>Both attributes on one type (NK0030): true when <paramref name="type"/> also has <paramref name="other"/>.</summary>
        public static bool HasAttribute(INamedTypeSymbol type, INamedTypeSymbol? other) =>
            other != null && type.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, other));
    }
}
