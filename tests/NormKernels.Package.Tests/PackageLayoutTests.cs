using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;

namespace NormKernels.Package.Tests;

/// <summary>What is inside the nupkg: one package with the runtime, its docs and the generator where NuGet and the compiler look.</summary>
[Collection(PackageCollection.Name)]
public sealed class PackageLayoutTests(PackageFixture package)
{
    [Fact]
    public void Runtime_docs_and_generator_are_where_NuGet_and_the_compiler_look_for_them()
    {
        package.RequirePackage();
        using var zip = ZipFile.OpenRead(package.PackagePath);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        string listing = string.Join('\n', entries.Order(StringComparer.Ordinal));

        foreach (string required in new[]
                 {
                     "NormKernels.nuspec",
                     "PACKAGE.md",
                     "lib/net10.0/NormKernels.dll",
                     "lib/net10.0/NormKernels.xml",
                     "analyzers/dotnet/cs/NormKernels.Generators.dll",
                 })
        {
            Assert.True(entries.Contains(required), $"{required} is missing from the package:\n{listing}");
        }

        // The generator in lib/ would be referenced by the user's program; anything else under
        // analyzers/ would be loaded into the compiler.
        var dlls = entries.Where(e => e.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal);
        Assert.Equal(new[] { "analyzers/dotnet/cs/NormKernels.Generators.dll", "lib/net10.0/NormKernels.dll" }, dlls);

        // The docs are the runtime's, not an empty file.
        using var docs = zip.GetEntry("lib/net10.0/NormKernels.xml")!.Open();
        var members = XDocument.Load(docs).Descendants("member").Select(m => (string?)m.Attribute("name")).ToList();
        Assert.Contains("T:NormKernels.NormalizeAttribute", members);
    }

    [Fact]
    public void Nuspec_names_the_package_its_license_and_readme_and_depends_only_on_System_Numerics_Tensors()
    {
        package.RequirePackage();
        using var zip = ZipFile.OpenRead(package.PackagePath);
        using var stream = zip.GetEntry("NormKernels.nuspec")!.Open();
        var nuspec = XDocument.Load(stream);
        XNamespace ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        string Value(string name) => (string?)metadata.Element(ns + name) ?? "";

        Assert.Equal("NormKernels", Value("id"));
        Assert.Equal(package.Version, Value("version"));
        Assert.Equal("MIT", Value("license"));
        Assert.Equal("expression", (string?)metadata.Element(ns + "license")!.Attribute("type"));
        Assert.Equal("PACKAGE.md", Value("readme"));
        Assert.False(string.IsNullOrWhiteSpace(Value("description")));
        Assert.False(string.IsNullOrWhiteSpace(Value("authors")));
        var tags = Value("tags").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (string tag in new[] { "normalization", "batchnorm", "layernorm", "simd", "avx512", "source-generator" })
            Assert.Contains(tag, tags);

        // The generator project is built with the runtime but must not become a package dependency; the only
        // dependency is System.Numerics.Tensors, for the generated TensorSpan overloads.
        var dependencies = metadata.Descendants(ns + "dependency").Select(d => (string?)d.Attribute("id")).ToList();
        Assert.True(dependencies.SequenceEqual(new[] { "System.Numerics.Tensors" }),
            "unexpected dependencies: " + string.Join(", ", dependencies) + "\n" + nuspec);
    }

    /// <summary>
    /// The compiler loads the generator with its own Microsoft.CodeAnalysis, System.Collections.Immutable
    /// and System.Reflection.Metadata; any other reference would be a FileNotFoundException inside the
    /// compiler (CS8784) because the package ships no other dll. A Microsoft.CodeAnalysis newer than
    /// 4.8 would not load in the .NET 8 SDK's compiler (CS9057).
    /// </summary>
    [Fact]
    public void Generator_needs_nothing_at_generation_time_but_what_the_compiler_provides()
    {
        package.RequirePackage();
        using var zip = ZipFile.OpenRead(package.PackagePath);
        using var copy = new MemoryStream();
        using (var dll = zip.GetEntry("analyzers/dotnet/cs/NormKernels.Generators.dll")!.Open()) dll.CopyTo(copy);
        copy.Position = 0;
        using var pe = new PEReader(copy);
        var reader = pe.GetMetadataReader();

        var provided = new HashSet<string>(StringComparer.Ordinal)
        {
            "netstandard", "Microsoft.CodeAnalysis", "Microsoft.CodeAnalysis.CSharp",
            "System.Collections.Immutable", "System.Reflection.Metadata",
        };
        var references = reader.AssemblyReferences.Select(h => reader.GetAssemblyReference(h)).ToList();
        string listing = string.Join(", ", references.Select(r => $"{reader.GetString(r.Name)} {r.Version}"));
        foreach (var reference in references)
        {
            string name = reader.GetString(reference.Name);
            Assert.True(provided.Contains(name), $"the generator references {name}, which the compiler does not provide ({listing})");
            if (name.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal))
                Assert.True(reference.Version <= new Version(4, 8, 0, 0), $"{name} {reference.Version} is newer than 4.8 ({listing})");
        }
        Assert.Contains(references, r => reader.GetString(r.Name) == "netstandard");   // netstandard2.0: loads on every compiler host
    }
}
