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
