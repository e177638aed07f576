namespace NormKernels.Generators.Tests;
