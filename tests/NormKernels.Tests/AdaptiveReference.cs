namespace NormKernels.Tests;

/// <summary>
/// AdaIN (Huang and Belongie 2017) in float64, written from the formula and independent of the generator and of
/// NormReference: for every (n, c), <c>y = sigma_s * (x - mu_c) / sigma_c + mu_s</c>, mu the mean and sigma
/// <c>sqrt(biased variance + eps)</c> of the (n, c) plane of the content (c) and of the style (s). The planes are every
/// element with that n and c whatever the layout; the style may have other extents along the other axes.
/// </summary>
internal static class AdaptiveReference
{
    public sealed record Result(double[] Output, double[] ContentMean, double[] ContentSigma, double[] StyleMean, double[] StyleSigma, int Channels);

    public static Result Forward(string layout, int[] contentDims, float[] content, int[] styleDims, float[] style, double epsilon)
    {
        int channels = contentDims[layout.IndexOf('C')];
        int planes = contentDims[layout.IndexOf('N')] * channels;
        var (contentMean, contentSigma) = PlaneMoments(layout, contentDims, content, planes, channels, epsilon);
        var (styleMean, styleSigma) = PlaneMoments(layout, styleDims, style, planes, channels, epsilon);
        var output = new double[content.Length];
        for (int i = 0; i < content.Length; i++)
        {
            int p = Plane(layout, contentDims, i, channels);
            output[i] = styleSigma[p] * (content[i] - contentMean[p]) / contentSigma[p] + styleMean[p];
        }
        return new Result(output, contentMean, contentSigma, styleMean, styleSigma, channels);
    }

    /// <summary>The (n, c) plane of flat index <paramref name="flat"/>: n * C + c.</summary>
    public static int Plane(string layout, int[] dims, int flat, int channels)
    {
        int n = 0, c = 0, rest = flat;
        for (int a = dims.Length - 1; a >= 0; a--)
        {
            int index = rest % dims[a];
            rest /= dims[a];
            if (layout[a] == 'N') n = index;
            else if (layout[a] == 'C') c = index;
        }
        return n * channels + c;
    }

    private static (double[] Mean, double[] Sigma) PlaneMoments(string layout, int[] dims, float[] data, int planes, int channels, double epsilon)
    {
        var sum = new double[planes];
        var count = new double[planes];
        for (int i = 0; i < data.Length; i++)
        {
            int p = Plane(layout, dims, i, channels);
            sum[p] += data[i];
            count[p]++;
        }
        var mean = new double[planes];
        for (int p = 0; p < planes; p++) mean[p] = sum[p] / count[p];
        var squares = new double[planes];
        for (int i = 0; i < data.Length; i++)
        {
            int p = Plane(layout, dims, i, channels);
            squares[p] += (data[i] - mean[p]) * (data[i] - mean[p]);
        }
        var sigma = new double[planes];
        for (int p = 0; p < planes; p++) sigma[p] = Math.Sqrt(squares[p] / count[p] + epsilon);
        return (mean, sigma);
    }
}
