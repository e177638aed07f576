namespace NormKernels.Tests;
