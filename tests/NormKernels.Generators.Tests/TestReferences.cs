using System.Collections.Immutable;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Testing;

namespace NormKernels.Generators.Tests;

/// <summary>
/// What every test compilation is built against: the .NET 10 reference assemblies (the Microsoft.NETCore.App.Ref package
/// restore downloads, see NetCoreAppRefVersion in the project file) resolved by the Roslyn testing framework, plus the runtime
/// library that defines [Normalize] and its System.Numerics.Tensors dependency (generated layers have TensorSpan overloads).
/// </summary>
internal static class TestReferences
{
    /// <summary>The C# the compiler the generator pins (Microsoft.CodeAnalysis 4.8) understands.</summary>
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.CSharp12);

    /// <summary>net10.0 from the Microsoft.NETCore.App.Ref package in the NuGet packages folder (the framework's own Net100
    /// names a version the package feed does not serve).</summary>
    public static ReferenceAssemblies Net100 { get; } = new(
        "net10.0",
        new PackageIdentity("Microsoft.NETCore.App.Ref", NetCoreAppRefVersion()),
        Path.Combine("ref", "net10.0"));

    /// <summary>NormKernels.dll and System.Numerics.Tensors.dll, as the test program loads them.</summary>
    public static ImmutableArray<MetadataReference> Libraries { get; } = ImmutableArray.Create<MetadataReference>(
        MetadataReference.CreateFromFile(typeof(NormalizeAttribute).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(System.Numerics.Tensors.TensorSpan<float>).Assembly.Location));

    // Resolved once, off any synchronization context (the framework caches the result in Net100 as well).
    private static readonly Lazy<ImmutableArray<MetadataReference>> All = new(() =>
        Task.Run(() => Net100.ResolveAsync(LanguageNames.CSharp, CancellationToken.None)).GetAwaiter().GetResult().AddRange(Libraries));

    /// <summary><see cref="Net100"/> and <see cref="Libraries"/>, for the tests that run CSharpGeneratorDriver themselves.</summary>
    public static ImmutableArray<MetadataReference> MetadataReferences => All.Value;

    private static string NetCoreAppRefVersion() =>
        typeof(TestReferences).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "NetCoreAppRefVersion").Value!;
}
