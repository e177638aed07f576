using Microsoft.CodeAnalysis;

namespace NormKernels.Generators.Diagnostics;

// Temporary: replaced by the full descriptor table from the diagnostics branch.
internal static class DiagnosticDescriptors
{
    public static readonly DiagnosticDescriptor InternalError = new DiagnosticDescriptor(
        "NK0900", "Internal generator error", "The NormKernels generator failed on '{0}': {1}: {2}. Please report this.",
        "NormKernels.Generator", DiagnosticSeverity.Error, isEnabledByDefault: true);
}
