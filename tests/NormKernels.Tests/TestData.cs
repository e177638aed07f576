namespace NormKernels.Tests;

/// <summary>Random tensors and layout permutations for the tests. Written independently of NormReference.</summary>
internal static class TestData
{
    /// <summary>Gaussian samples (Box-Muller) rounded to float.</summary>
    public static float[] Normal(Random random, int length, double mean, double std)
    {
        var data = new float[length];
        for (int i = 0; i < length; i++)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            data[i] = (float)(mean + std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
        return data;
    }

    /// <summary>Uniform samples in [low, high) rounded to float.</summary>
    public static float[] Uniform(Random random, int length, double low, double high)
    {
        var data = new float[length];
        for (int i = 0; i < length; i++)
            data[i] = (float)(low + (high - low) * random.NextDouble());
        return data;
    }

    /// <summary>The product of the extents.</summary>
    public static int Product(ReadOnlySpan<int> dims)
    {
        int product = 1;
        foreach (int d in dims) product = checked(product * d);
        return product;
    }

    /// <summary>The extents of <paramref name="toLayout"/>, read by letter from <paramref name="fromDims"/>.</summary>
    public static int[] PermuteDims(string fromLayout, ReadOnlySpan<int> fromDims, string toLayout)
    {
        var dims = new int[toLayout.Length];
        for (int a = 0; a < toLayout.Length; a++)
            dims[a] = fromDims[fromLayout.IndexOf(toLayout[a])];
        return dims;
    }

    /// <summary>Copies a tensor stored in <paramref name="fromLayout"/> into the memory order of <paramref name="toLayout"/>
    /// (same letters, another order).</summary>
    public static T[] Transpose<T>(ReadOnlySpan<T> data, string fromLayout, ReadOnlySpan<int> fromDims, string toLayout)
    {
        int[] toDims = PermuteDims(fromLayout, fromDims, toLayout);
        var result = new T[data.Length];
        var index = new int[fromLayout.Length];
        for (int flat = 0; flat < data.Length; flat++)
        {
            int rest = flat;
            for (int a = fromLayout.Length - 1; a >= 0; a--)
            {
                index[a] = rest % fromDims[a];
                rest /= fromDims[a];
            }
            int target = 0;
            for (int b = 0; b < toLayout.Length; b++)
                target = target * toDims[b] + index[fromLayout.IndexOf(toLayout[b])];
            result[target] = data[flat];
        }
        return result;
    }
}
