namespace NormKernels.Tests;

/// <summary>
/// Weight normalization in float64, written from the formulas (Salimans &amp; Kingma 2016; PyTorch's torch._weight_norm),
/// independently of the runtime: the element at flat index i (row-major in layout order) belongs to norm k, the row-major
/// index of its kept letters; <c>||v||_k = sqrt(sum_{i in k} v_i^2)</c>, <c>w_i = g_k * v_i / ||v||_k</c>; backward
/// <c>dg_k = sum_{i in k} dw_i * v_i / ||v||_k</c> and <c>dv_i = g_k / ||v||_k * (dw_i - v_i * sum_{j in k} dw_j * v_j / ||v||_k^2)</c>.
/// </summary>
internal sealed class WeightNormReference(string layout, string reduced)
{
    public string Layout { get; } = layout;

    /// <summary>The norm of every element (flat index, row-major in layout order) for <paramref name="dims"/>.</summary>
    public int[] NormOf(int[] dims)
    {
        int count = TestData.Product(dims);
        var norm = new int[count];
        var index = new int[dims.Length];
        for (int flat = 0; flat < count; flat++)
        {
            int rest = flat;
            for (int a = dims.Length - 1; a >= 0; a--)
            {
                index[a] = rest % dims[a];
                rest /= dims[a];
            }
            int k = 0;
            for (int a = 0; a < dims.Length; a++)
                if (reduced.IndexOf(Layout[a]) < 0) k = k * dims[a] + index[a];
            norm[flat] = k;
        }
        return norm;
    }

    /// <summary>The number of norms: the product of the kept dims.</summary>
    public int Count(int[] dims) => Enumerable.Range(0, dims.Length).Where(a => reduced.IndexOf(Layout[a]) < 0).Aggregate(1, (p, a) => p * dims[a]);

    /// <summary>||v|| per norm.</summary>
    public double[] Norms(int[] dims, IReadOnlyList<double> v)
    {
        int[] of = NormOf(dims);
        var sums = new double[Count(dims)];
        for (int i = 0; i < of.Length; i++) sums[of[i]] += v[i] * v[i];
        return sums.Select(Math.Sqrt).ToArray();
    }

    public double[] Forward(int[] dims, IReadOnlyList<double> v, IReadOnlyList<double> g)
    {
        int[] of = NormOf(dims);
        double[] norms = Norms(dims, v);
        return Enumerable.Range(0, of.Length).Select(i => g[of[i]] * v[i] / norms[of[i]]).ToArray();
    }

    /// <summary>(dv, dg), and per element the magnitudes a kernel that rounds each product dw * v once combines for dv:
    /// |a * dw| + |a * v| * (|dot| + sum |dw * v|) / ||v||^2, a = g / ||v|| (the sum of rounded products is exact to u of
    /// sum |dw * v|, which can far exceed |dot| when the products cancel).</summary>
    public (double[] Dv, double[] Dg, double[] DvScale) Backward(int[] dims, IReadOnlyList<double> v, IReadOnlyList<double> g, IReadOnlyList<double> dw)
    {
        int[] of = NormOf(dims);
        double[] norms = Norms(dims, v);
        var dots = new double[norms.Length];
        var magnitudes = new double[norms.Length];
        for (int i = 0; i < of.Length; i++)
        {
            dots[of[i]] += dw[i] * v[i];
            magnitudes[of[i]] += Math.Abs(dw[i] * v[i]);
        }
        double[] dg = dots.Select((d, k) => d / norms[k]).ToArray();
        var dv = new double[of.Length];
        var scale = new double[of.Length];
        for (int i = 0; i < of.Length; i++)
        {
            int k = of[i];
            double a = g[k] / norms[k], c = dots[k] / (norms[k] * norms[k]);
            dv[i] = a * (dw[i] - v[i] * c);
            scale[i] = Math.Abs(a * dw[i]) + Math.Abs(a * v[i]) * (Math.Abs(dots[k]) + magnitudes[k]) / (norms[k] * norms[k]);
        }
        return (dv, dg, scale);
    }
}
