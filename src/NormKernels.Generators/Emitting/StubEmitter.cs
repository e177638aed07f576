using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NormKernels.Generators.Emitting;

/// <summary>
/// The stub of a layer whose declaration has errors: the public surface the layer would have (constructors, properties,
/// Forward, Backward, the static kernels, the interfaces and their explicit implementations), every body throwing an
/// <see cref="System.InvalidOperationException"/> that names the errors, and nothing private. Use sites then compile, and
/// the NK error at the attribute stays the one error of the mistake. The surface is the emitter's own, for the nearest valid
/// declaration (<see cref="Parsing.StubSpecs"/>): this class takes the emitted layer and keeps its declarations only, so it
/// never lists a member and cannot drift from the emitter.
/// </summary>
internal static class StubEmitter
{
    /// <param name="layer">The emitted layer (Emitter or LrnEmitter output) of the nearest valid declaration.</param>
    /// <param name="typeName">The layer's name (as C#, with an '@' where it is a keyword).</param>
    /// <param name="depth">How many types contain the layer.</param>
    /// <param name="errors">The NK ids of the declaration's errors, as the exception message names them.</param>
    public static string Emit(string layer, string typeName, int depth, string errors)
    {
        var root = (CompilationUnitSyntax)CSharpSyntaxTree.ParseText(layer).GetRoot();
        ClassDeclarationSyntax layerClass = root.DescendantNodes().OfType<ClassDeclarationSyntax>()
            .First(c => c.Identifier.ValueText == typeName.TrimStart('@') && c.Ancestors().OfType<TypeDeclarationSyntax>().Count() == depth);

        string message = "NormKernels: this layer's declaration has errors (" + errors + "); see the build output.";
        ThrowExpressionSyntax thrown = SyntaxFactory.ThrowExpression(SyntaxFactory.ParseExpression(
            "new global::System.InvalidOperationException(" + SymbolDisplay.FormatLiteral(message, quote: true) + ")"));
        SyntaxTriviaList remarks = SyntaxFactory.ParseLeadingTrivia(
            "/// <remarks>Not generated: the declaration of this layer has errors (" + errors + "), reported at its attribute. " +
            "This is the surface the layer would have, so that code using it compiles; every member throws.</remarks>\n");

        // The class's own remarks (the plan) give way to the stub's; what precedes them (a namespace-less file's header and
        // #nullable directive) stays.
        TypeDeclarationSyntax stub = WithMembersStripped(layerClass, thrown).WithLeadingTrivia(layerClass.GetLeadingTrivia()
            .Where(t => !t.IsKind(SyntaxKind.SingleLineDocumentationCommentTrivia)).Concat(remarks));
        return root.ReplaceNode(layerClass, stub).NormalizeWhitespace(eol: "\n").ToFullString() + "\n";
    }

    private static TypeDeclarationSyntax WithMembersStripped(TypeDeclarationSyntax type, ThrowExpressionSyntax thrown) =>
        type.WithMembers(SyntaxFactory.List(type.Members.Select(m => Strip(m, thrown)).OfType<MemberDeclarationSyntax>()));

    /// <summary>The member as it appears in the stub (bodies throwing), or null when the stub leaves it out.</summary>
    private static MemberDeclarationSyntax? Strip(MemberDeclarationSyntax member, ThrowExpressionSyntax thrown)
    {
        switch (member)
        {
            case TypeDeclarationSyntax type when IsVisible(type.Modifiers):
                return WithMembersStripped(type, thrown);
            case ConstructorDeclarationSyntax constructor when IsVisible(constructor.Modifiers) && !constructor.Modifiers.Any(SyntaxKind.StaticKeyword):
                return constructor.WithInitializer(null).WithBody(null).WithExpressionBody(Arrow(thrown)).WithSemicolonToken(Semicolon);
            case MethodDeclarationSyntax method when IsVisible(method.Modifiers) || method.ExplicitInterfaceSpecifier != null:
                return method.WithBody(null).WithExpressionBody(Arrow(thrown)).WithSemicolonToken(Semicolon);
            case OperatorDeclarationSyntax op when IsVisible(op.Modifiers):
                return op.WithBody(null).WithExpressionBody(Arrow(thrown)).WithSemicolonToken(Semicolon);
            case ConversionOperatorDeclarationSyntax conversion when IsVisible(conversion.Modifiers):
                return conversion.WithBody(null).WithExpressionBody(Arrow(thrown)).WithSemicolonToken(Semicolon);
            case PropertyDeclarationSyntax property when IsVisible(property.Modifiers) || property.ExplicitInterfaceSpecifier != null:
                return property.ExpressionBody != null
                    ? property.WithExpressionBody(Arrow(thrown))
                    : property.WithAccessorList(Throwing(property.AccessorList!, thrown)).WithInitializer(null).WithSemicolonToken(default);
            case IndexerDeclarationSyntax indexer when IsVisible(indexer.Modifiers) || indexer.ExplicitInterfaceSpecifier != null:
                return indexer.ExpressionBody != null
                    ? indexer.WithExpressionBody(Arrow(thrown))
                    : indexer.WithAccessorList(Throwing(indexer.AccessorList!, thrown));
            case EventDeclarationSyntax e when IsVisible(e.Modifiers) || e.ExplicitInterfaceSpecifier != null:
                return e.WithAccessorList(Throwing(e.AccessorList!, thrown));
            case EventFieldDeclarationSyntax e when IsVisible(e.Modifiers):
                return e;
            case BaseTypeDeclarationSyntax or DelegateDeclarationSyntax when IsVisible(member.Modifiers):
                return member; // enums and delegates have no bodies
            default:
                return null;   // fields, constants, private helpers and types, finalizers
        }
    }

    private static AccessorListSyntax Throwing(AccessorListSyntax accessors, ThrowExpressionSyntax thrown) =>
        accessors.WithAccessors(SyntaxFactory.List(accessors.Accessors.Select(a =>
            a.WithBody(null).WithExpressionBody(Arrow(thrown)).WithSemicolonToken(Semicolon))));

    /// <summary>Public or protected: part of what code outside the layer sees.</summary>
    private static bool IsVisible(SyntaxTokenList modifiers) =>
        modifiers.Any(SyntaxKind.PublicKeyword) || (modifiers.Any(SyntaxKind.ProtectedKeyword) && !modifiers.Any(SyntaxKind.PrivateKeyword));

    private static ArrowExpressionClauseSyntax Arrow(ThrowExpressionSyntax thrown) =>
        SyntaxFactory.ArrowExpressionClause(thrown);

    private static SyntaxToken Semicolon => SyntaxFactory.Token(SyntaxKind.SemicolonToken);
}
