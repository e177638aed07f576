namespace NormKernels.Tests;

/// <summary>Central finite differences, for checking a float64 reference's analytic backward against its own forward.</summary>
internal static class FiniteDifferences
{
    /// <summary>d loss / d values[i] by central differences with step <paramref name="h"/>; values[i] is restored afterwards.</summary>
    public static double Central(double[] values, int i, Func<double> loss, double h = 1e-5)
    {
        double saved = values[i];
        values[i] = saved + h;
        double up = loss();
        values[i] = saved - h;
        double down = loss();
        values[i] = saved;
        return (up - down) / (2 * h);
    }
}
