using System.Numerics;

namespace NormKernels.Tests.Fused;

/// <summary>What a fused layer under test is: its declaration's values and the dims it runs on.</summary>
public sealed record FusedSpec(string Name, string Layout, string Axes, int Groups, bool Rms, string Activation, string Residual, int[] Dims)
{
    public int Channels => Layout.Contains('C') ? Dims[Layout.IndexOf('C')] : 0;
    public int Length => Dims.Aggregate(1, (a, b) => a * b);
    public bool BatchReduced => Axes.Contains('N');
    public bool After => Residual == "AddAfterNorm";
    public bool Before => Residual == "AddBeforeNorm";
    public override string ToString() => Name;
}

/// <summary>A fused layer's Forward: (layer, x, residual, output, sum, dims); Backward: (layer, x or sum, residual, dy, dx,
/// residualGrad or sumGrad, dims). Arrays convert to the spans the generated signatures take.</summary>
public delegate void FusedForward<T>(object layer, T[] x, T[] r, T[] y, T[] sum, int[] dims);
public delegate void FusedBackward<T>(object layer, T[] x, T[] r, T[] dy, T[] dx, T[] g, int[] dims);

public sealed record FusedEntry(FusedSpec Spec, Type Element, Func<int, object> Create, Delegate Forward, Delegate Backward);

public static partial class FusedCases
{
    public static readonly Dictionary<string, FusedEntry> All = new();

    private static void Add<T>(FusedSpec spec, Func<int, object> create, FusedForward<T> forward, FusedBackward<T> backward) =>
        All.Add(spec.Name, new FusedEntry(spec, typeof(T), create, forward, backward));

    public static TheoryData<string> Names(Func<FusedSpec, bool>? where = null)
    {
        var data = new TheoryData<string>();
        foreach (var entry in All.Values.Where(e => where?.Invoke(e.Spec) ?? true)) data.Add(entry.Spec.Name);
        return data;
    }
}

/// <summary>
/// The float64 reference of a fused layer, written from the formulas (PyTorch semantics), independent of the kernels:
/// statistics by direct two-pass sums over the elements that share the kept coordinates; <c>z = norm * gamma + beta</c>;
/// AddAfterNorm <c>y = act(z + r)</c>; AddBeforeNorm <c>s = x + r</c>, <c>y = act(norm(s))</c>. The gradient is the chain
/// rule written out (checked against central differences of <see cref="Forward"/> by the tests).
/// </summary>
public static class FusedReference
{
    public sealed record Result(double[] Y, double[] Mean, double[] Var, int[] StatOf, int[] ParamOf, double[] Count);

    /// <summary>Forward over <paramref name="x"/> (for AddBeforeNorm: the sum); statistics from the data, or the given ones.</summary>
    public static Result Forward(FusedSpec s, double[] x, double[]? r, double[] gamma, double[] beta, double eps,
        double[]? givenMean = null, double[]? givenVar = null, bool addResidual = true)
    {
        var (statOf, paramOf, stats) = Index(s);
        int n = x.Length;
        var count = new double[stats];
        var mean = new double[stats];
        var var = new double[stats];
        if (givenMean is null)
        {
            for (int i = 0; i < n; i++) { count[statOf[i]]++; mean[statOf[i]] += s.Rms ? 0 : x[i]; }
            for (int k = 0; k < stats; k++) mean[k] /= count[k];
            for (int i = 0; i < n; i++) { double d = x[i] - mean[statOf[i]]; var[statOf[i]] += d * d; }
            for (int k = 0; k < stats; k++) var[k] /= count[k];
        }
        else
        {
            for (int i = 0; i < n; i++) count[statOf[i]]++;
            Array.Copy(givenMean, mean, stats);
            Array.Copy(givenVar!, var, stats);
        }
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            int k = statOf[i];
            double xhat = (x[i] - mean[k]) / Math.Sqrt(var[k] + eps);
            double z = xhat * gamma[paramOf[i]] + beta[paramOf[i]];
            if (s.After && addResidual) z += r![i];
            y[i] = Act(s.Activation, z);
        }
        return new Result(y, mean, var, statOf, paramOf, count);
    }

    /// <summary>
    /// The gradients of L = sum(dy * y) given the forward's statistics (<paramref name="constantStatistics"/>: held constant,
    /// BatchNorm in inference): dx (of the input; for AddBeforeNorm, of the sum), dr (AddAfterNorm), dgamma, dbeta.
    /// </summary>
    public static (double[] Dx, double[] Dr, double[] DGamma, double[] DBeta) Backward(FusedSpec s, double[] x, double[]? r, double[] dy,
        double[] gamma, double[] beta, double eps, Result f, bool constantStatistics)
    {
        int n = x.Length, stats = f.Mean.Length;
        var g = new double[n];
        var xhat = new double[n];
        var dgamma = new double[gamma.Length];
        var dbeta = new double[gamma.Length];
        for (int i = 0; i < n; i++)
        {
            int k = f.StatOf[i];
            xhat[i] = (x[i] - f.Mean[k]) / Math.Sqrt(f.Var[k] + eps);
            double z = xhat[i] * gamma[f.ParamOf[i]] + beta[f.ParamOf[i]] + (s.After ? r![i] : 0);
            g[i] = dy[i] * ActDerivative(s.Activation, z);
            dgamma[f.ParamOf[i]] += g[i] * xhat[i];
            dbeta[f.ParamOf[i]] += g[i];
        }
        // dxhat = g * gamma; dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) (uncentered: no mean(dxhat) term).
        var m1 = new double[stats];
        var m2 = new double[stats];
        for (int i = 0; i < n; i++)
        {
            double dxhat = g[i] * gamma[f.ParamOf[i]];
            m1[f.StatOf[i]] += dxhat;
            m2[f.StatOf[i]] += dxhat * xhat[i];
        }
        var dx = new double[n];
        for (int i = 0; i < n; i++)
        {
            int k = f.StatOf[i];
            double rstd = 1 / Math.Sqrt(f.Var[k] + eps), dxhat = g[i] * gamma[f.ParamOf[i]];
            dx[i] = constantStatistics ? dxhat * rstd
                : rstd * (dxhat - (s.Rms ? 0 : m1[k] / f.Count[k]) - xhat[i] * m2[k] / f.Count[k]);
        }
        return (dx, s.After ? g : Array.Empty<double>(), dgamma, dbeta);
    }

    public static double Act(string activation, double z) => activation switch
    {
        "None" => z,
        "Relu" => Math.Max(z, 0),
        "Silu" => z / (1 + Math.Exp(-z)),
        "Gelu" => z * Phi(z),
        // 1 + tanh(u) = 2 / (1 + e^(-2u)): the same value without 1 + tanh's cancellation for u far below 0.
        "GeluTanh" => z / (1 + Math.Exp(-2 * Math.Sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z))),
        _ => throw new ArgumentException(activation),
    };

    public static double ActDerivative(string activation, double z)
    {
        switch (activation)
        {
            case "None": return 1;
            case "Relu": return z > 0 ? 1 : 0;
            case "Silu":
                double sg = 1 / (1 + Math.Exp(-z));
                return sg + z * sg * (1 - sg);
            case "Gelu":
                return Phi(z) + z * Math.Exp(-z * z / 2) / Math.Sqrt(2 * Math.PI);
            case "GeluTanh":
                // (1 + tanh u) / 2 = 1 / (1 + e^(-2u)) and 1 - tanh^2 u = 1 / cosh^2 u (no cancellation in either).
                double k = Math.Sqrt(2 / Math.PI), u = k * (z + 0.044715 * z * z * z), cosh = Math.Cosh(u);
                return 1 / (1 + Math.Exp(-2 * u)) + 0.5 * z / (cosh * cosh) * k * (1 + 3 * 0.044715 * z * z);
            default: throw new ArgumentException(activation);
        }
    }

    /// <summary>The standard normal CDF, (1 + erf(z / sqrt 2)) / 2, from erfc of |z| / sqrt 2 so the tails keep their
    /// relative precision: erfc / 2 for z &lt; 0, 1 - erfc / 2 above.</summary>
    public static double Phi(double z)
    {
        double c = Erfc(Math.Abs(z) / Math.Sqrt(2)) / 2;
        return z < 0 ? c : 1 - c;
    }

    /// <summary>erf from its alternating Maclaurin series below |x| = 2.5, else 1 - erfc (<see cref="Erfc"/>).</summary>
    public static double Erf(double x)
    {
        double a = Math.Abs(x);
        double result;
        if (a < 2.5)
        {
            double sum = 0, power = a, factorial = 1;
            for (int n = 0; n < 80; n++)
            {
                if (n > 0) { power *= a * a; factorial *= n; }
                sum += (n % 2 == 0 ? 1 : -1) * power / (factorial * (2 * n + 1));
            }
            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            result = 1 - Erfc(a);
        }
        return x < 0 ? -result : result;
    }

    /// <summary>erfc(a) for a &gt;= 0: 1 - erf below 2.5 (erfc(2.5) = 4e-4: about 1e-12 relative lost), from 2.5 on
    /// 2 / sqrt(pi) times the integral of e^(-t^2) from a, by Simpson's rule (4,000 steps over [a, a + 20 / a]: the rest
    /// is below e^-40 of it, and a step stays a small part of the integrand's scale 1 / 2a).</summary>
    public static double Erfc(double a)
    {
        if (a < 2.5) return 1 - Erf(a);
        const int Steps = 4000;
        double h = 20 / a / Steps, integral = 0;
        for (int i = 0; i <= Steps; i++)
        {
            double t = a + i * h, w = i == 0 || i == Steps ? 1 : i % 2 == 1 ? 4 : 2;
            integral += w * Math.Exp(-t * t);
        }
        return 2 / Math.Sqrt(Math.PI) * integral * h / 3;
    }

    /// <summary>Per element its statistic and parameter (per channel), and the statistic count.</summary>
    private static (int[] StatOf, int[] ParamOf, int Stats) Index(FusedSpec s)
    {
        int n = s.Length, rank = s.Layout.Length;
        var statOf = new int[n];
        var paramOf = new int[n];
        var keys = new Dictionary<string, int>();
        var coord = new int[rank];
        int channel = s.Layout.IndexOf('C');
        for (int i = 0; i < n; i++)
        {
            int rest = i;
            for (int a = rank - 1; a >= 0; a--) { coord[a] = rest % s.Dims[a]; rest /= s.Dims[a]; }
            var key = new List<int>();
            for (int a = 0; a < rank; a++)
            {
                bool reduced = s.Axes.Contains(s.Layout[a]);
                if (!reduced) key.Add(coord[a]);
                else if (a == channel && s.Groups > 0) key.Add(coord[a] / (s.Dims[a] / s.Groups));
                else key.Add(-1);
            }
            string k = string.Join(",", key);
            if (!keys.TryGetValue(k, out int stat)) keys[k] = stat = keys.Count;
            statOf[i] = stat;
            paramOf[i] = channel >= 0 ? coord[channel] : 0;
        }
        return (statOf, paramOf, keys.Count);
    }
}
