using System.Numerics.Tensors;

namespace NormKernels.Tests;

/// <summary>The TensorSpan overloads: dims come from the tensor, checked against the layout, and give exactly the span path's result.</summary>
public class TensorSpanTests
{
    private static float[] Sentinel(int length) => Enumerable.Repeat(float.NaN, length).ToArray();

    private static nint[] Lengths(params int[] dims) => dims.Select(d => (nint)d).ToArray();

    [Fact]
    public void InstanceForwardOnTensorsEqualsSpanForward()
    {
        int[] dims = [3, 5, 7, 36];                          // NHWC; C a multiple of Groups = 4
        float[] x = TestData.Normal(new Random(1), TestData.Product(dims), 2, 3);
        var bySpan = new GnNhwc(36);
        var byTensor = new GnNhwc(36);
        float[] expected = new float[x.Length], actual = new float[x.Length];

        bySpan.Forward(x, expected, dims[0], dims[1], dims[2], dims[3]);
        byTensor.Forward(new ReadOnlyTensorSpan<float>(x, Lengths(dims)), new TensorSpan<float>(actual, Lengths(dims)));

        Assert.Equal(expected, actual);                     // same kernel, same order: bitwise
        Assert.Equal(bySpan.LastPath, byTensor.LastPath);
    }

    [Fact]
    public void BackwardOnTensorsEqualsSpanBackward()
    {
        int[] dims = [3, 5, 7, 36];
        float[] x = TestData.Normal(new Random(2), TestData.Product(dims), 1, 2), dy = TestData.Normal(new Random(3), x.Length, 0, 1);
        var bySpan = new GnNhwc(36);
        var byTensor = new GnNhwc(36);
        bySpan.Forward(x, new float[x.Length], dims[0], dims[1], dims[2], dims[3]);
        byTensor.Forward(x, new float[x.Length], dims[0], dims[1], dims[2], dims[3]);
        float[] expected = new float[x.Length], actual = Sentinel(x.Length);

        bySpan.Backward(x, dy, expected, dims[0], dims[1], dims[2], dims[3]);
        Assert.Equal("inputGrad", Assert.Throws<ArgumentException>(() => byTensor.Backward(new ReadOnlyTensorSpan<float>(x, Lengths(dims)),
            new ReadOnlyTensorSpan<float>(dy, Lengths(dims)), new TensorSpan<float>(actual, Lengths(3, 5, 36, 7)))).ParamName);
        Assert.All(actual, v => Assert.True(float.IsNaN(v)));
        ((INormalizationLayer)byTensor).Backward(new ReadOnlyTensorSpan<float>(x, Lengths(dims)), new ReadOnlyTensorSpan<float>(dy, Lengths(dims)),
            new TensorSpan<float>(actual, Lengths(dims)));

        Assert.Equal(expected, actual);
        Assert.Equal(bySpan.WeightGrad, byTensor.WeightGrad);
        Assert.Equal(bySpan.BiasGrad, byTensor.BiasGrad);
    }

    [Fact]
    public void StaticKernelsOnTensorsEqualSpanKernels()
    {
        int[] dims = [4, 6, 9, 11];                          // NCHW
        float[] x = TestData.Normal(new Random(2), TestData.Product(dims), -1, 2);
        float[] w = TestData.Normal(new Random(3), 6, 1, 0.2), b = TestData.Normal(new Random(4), 6, 0, 1);
        float[] y1 = new float[x.Length], y2 = new float[x.Length];
        float[] m1 = new float[6], v1 = new float[6], m2 = new float[6], v2 = new float[6];

        BnNchw.ForwardTraining(x, y1, dims[0], dims[1], dims[2], dims[3], w, b, m1, v1, 1e-5f);
        BnNchw.ForwardTraining(new ReadOnlyTensorSpan<float>(x, Lengths(dims)), new TensorSpan<float>(y2, Lengths(dims)), w, b, m2, v2, 1e-5f);
        Assert.Equal(y1, y2);
        Assert.Equal(m1, m2);
        Assert.Equal(v1, v2);

        BnNchw.ForwardInference(x, y1, dims[0], dims[1], dims[2], dims[3], w, b, m1, v1, 1e-5f);
        BnNchw.ForwardInference(new ReadOnlyTensorSpan<float>(x, Lengths(dims)), new TensorSpan<float>(y2, Lengths(dims)), w, b, m1, v1, 1e-5f);
        Assert.Equal(y1, y2);

        double[] count1 = new double[6], mean1 = new double[6], sq1 = new double[6];
        double[] count2 = new double[6], mean2 = new double[6], sq2 = new double[6];
        BnNchw.ShardStatistics(x, dims[0], dims[1], dims[2], dims[3], count1, mean1, sq1);
        BnNchw.ShardStatistics(new ReadOnlyTensorSpan<float>(x, Lengths(dims)), count2, mean2, sq2);
        Assert.Equal(count1, count2);
        Assert.Equal(mean1, mean2);
        Assert.Equal(sq1, sq2);
    }

    /// <summary>The static kernels' tensor forms check the shapes (rank, the second tensor's lengths) before any write and name
    /// the tensor that is wrong.</summary>
    [Fact]
    public void StaticKernelsOnTensorsNameTheBadTensor()
    {
        int[] dims = [2, 3, 4, 5];                           // NCHW
        float[] x = TestData.Normal(new Random(6), TestData.Product(dims), 0, 1);
        float[] w = new float[3], b = new float[3], m = Sentinel(3), v = Sentinel(3), y = Sentinel(x.Length);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => BnNchw.ForwardTraining(new ReadOnlyTensorSpan<float>(x, Lengths(2, 3, 20)),
            new TensorSpan<float>(y, Lengths(dims)), w, b, m, v, 1e-5f)).ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => BnNchw.ForwardTraining(new ReadOnlyTensorSpan<float>(x, Lengths(dims)),
            new TensorSpan<float>(y, Lengths(2, 3, 5, 4)), w, b, m, v, 1e-5f)).ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => BnNchw.ForwardInference(new ReadOnlyTensorSpan<float>(x, Lengths(dims)),
            new TensorSpan<float>(y, Lengths(2, 3, 5, 4)), w, b, new float[3], new float[3], 1e-5f)).ParamName);
        double[] count = Enumerable.Repeat(double.NaN, 3).ToArray();
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => BnNchw.ShardStatistics(new ReadOnlyTensorSpan<float>(x, Lengths(6, 20)),
            count, new double[3], new double[3])).ParamName);
        Assert.All(y, e => Assert.True(float.IsNaN(e)));
        Assert.All(m, e => Assert.True(float.IsNaN(e)));
        Assert.All(count, e => Assert.True(double.IsNaN(e)));
    }

    [Fact]
    public void InterfaceForwardTakesTensors()
    {
        int[] dims = [2, 5, 33];                              // NTC
        float[] x = TestData.Normal(new Random(5), TestData.Product(dims), 0, 1);
        float[] expected = new float[x.Length], actual = new float[x.Length];
        new LnNtc(33).Forward(x, expected, dims[0], dims[1], dims[2]);
        INormalizationLayer layer = new LnNtc(33);
        layer.Forward(new ReadOnlyTensorSpan<float>(x, Lengths(dims)), new TensorSpan<float>(actual, Lengths(dims)));
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void WrongRankShapeOrStridesAreRejectedBeforeAnyWrite()
    {
        var layer = new BnNchw(4);
        float[] x = TestData.Normal(new Random(6), 2 * 4 * 3 * 5, 0, 1);

        float[] y = Sentinel(x.Length);
        var rank = Assert.Throws<ArgumentException>(() => layer.Forward(new ReadOnlyTensorSpan<float>(x, Lengths(8, 3, 5)), new TensorSpan<float>(y, Lengths(8, 3, 5))));
        Assert.Equal("input", rank.ParamName);
        Assert.Contains("expected 4", rank.Message);

        var shape = Assert.Throws<ArgumentException>(() => layer.Forward(new ReadOnlyTensorSpan<float>(x, Lengths(2, 4, 3, 5)), new TensorSpan<float>(y, Lengths(2, 4, 5, 3))));
        Assert.Equal("output", shape.ParamName);

        // A transposed view (H and W swapped through strides) is not dense row-major in layout order.
        var strided = Assert.Throws<ArgumentException>(() => layer.Forward(
            new ReadOnlyTensorSpan<float>(x, Lengths(2, 4, 5, 3), [60, 15, 1, 5]), new TensorSpan<float>(y, Lengths(2, 4, 5, 3))));
        Assert.Equal("input", strided.ParamName);
        Assert.Contains("row-major", strided.Message);

        var channels = Assert.Throws<ArgumentException>(() => layer.Forward(new ReadOnlyTensorSpan<float>(x, Lengths(2, 5, 3, 4)), new TensorSpan<float>(y, Lengths(2, 5, 3, 4))));
        Assert.Equal("c", channels.ParamName);

        Assert.All(y, v => Assert.True(float.IsNaN(v)));
        Assert.Equal(new float[4], layer.RunningMean);
    }
}
