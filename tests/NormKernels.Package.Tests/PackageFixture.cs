using System.Globalization;

namespace NormKernels.Package.Tests;

/// <summary>
/// Packs src/NormKernels once for every test of the "package" collection (<see cref="InitializeAsync"/>), into a feed
/// folder in a fresh temporary directory outside the repository, and deletes that directory afterwards.
/// </summary>
/// <remarks>
/// A stale package can never be used: the version is unique to this run (0.1.0-e2e&lt;UTC time&gt;&lt;pid&gt;),
/// so no package folder anywhere can hold it already, and the consumer projects restore into a
/// packages folder inside the temporary directory (<c>RestorePackagesPath</c>), so the user's global
/// package folder is neither read for NormKernels nor filled with test versions. The pack builds
/// both projects from the repository's sources into an artifacts folder inside the temporary
/// directory (<c>--artifacts-path</c>), so it neither reuses nor touches the repository's bin/ and obj/.
/// </remarks>
public sealed class PackageFixture : IAsyncLifetime
{
    public static readonly TimeSpan ChildTimeout = TimeSpan.FromMinutes(5);

    public PackageFixture()
    {
        RepoRoot = FindRepoRoot();
        string stamp = DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)
                       + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        Version = "0.1.0-e2e" + stamp;
        WorkRoot = Path.Combine(Path.GetTempPath(), "normkernels-e2e-" + stamp + "-" + Guid.NewGuid().ToString("N")[..8]);
        Feed = Path.Combine(WorkRoot, "feed");
        PackagePath = Path.Combine(Feed, $"NormKernels.{Version}.nupkg");
    }

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(Feed);
        Pack = await Dotnet.RunAsync(RepoRoot, ChildTimeout,
            "pack", Path.Combine("src", "NormKernels", "NormKernels.csproj"),
            "-c", "Release",
            "-o", Feed,
            "--artifacts-path", Path.Combine(WorkRoot, "artifacts"),
            "--property:PackageVersion=" + Version,
            "--disable-build-servers");

        // Consumers live beside the feed. Their nuget.config adds the feed to the machine's sources
        // (no <clear/>: anything else they need comes from wherever this machine gets packages), and
        // empty Directory.Build files stop MSBuild from importing whatever lies above the temp folder.
        File.WriteAllText(Path.Combine(WorkRoot, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="normkernels-e2e" value="{Feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(WorkRoot, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(WorkRoot, "Directory.Build.targets"), "<Project />\n");
    }

    public string RepoRoot { get; }
    public string WorkRoot { get; }
    public string Feed { get; }
    public string Version { get; }
    public string PackagePath { get; }
    public ChildResult Pack { get; private set; } = null!;

    /// <summary>Fails the calling test with the pack's output unless the package was made.</summary>
    public void RequirePackage()
    {
        Assert.True(Pack.ExitCode == 0, "dotnet pack failed:\n" + Pack);
        Assert.True(File.Exists(PackagePath), $"dotnet pack did not write {PackagePath}:\n{Pack}\nFeed has: "
            + string.Join(", ", Directory.GetFiles(Feed).Select(Path.GetFileName)));
    }

    /// <summary>A fresh console project <paramref name="name"/> under the work root referencing the package.</summary>
    public string CreateConsumer(string name, string program)
    {
        string dir = Path.Combine(WorkRoot, name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <RestorePackagesPath>{Path.Combine(WorkRoot, "packages")}</RestorePackagesPath>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="NormKernels" Version="{Version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Program.cs"), program);
        return dir;
    }

    public ValueTask DisposeAsync()
    {
        try { Directory.Delete(WorkRoot, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return ValueTask.CompletedTask;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NormKernels.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"NormKernels.sln not found above {AppContext.BaseDirectory}");
    }
}

[CollectionDefinition(Name)]
public sealed class PackageCollection : ICollectionFixture<PackageFixture>
{
    public const string Name = "package";
}
