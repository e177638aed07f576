using System.Numerics.Tensors;

namespace NormKernels.Tests;

/// <summary>
/// The interface members with default bodies (issue 10: a generated layer declares <c>INormalizationLayer&lt;T&gt;.Core</c>
/// instead of one member per forwarded one). Generated layers answer through the runtime layer (KernelTests'
/// SurfaceMatchesDeclaration and SynchronizedBackwardTests' InterfaceRunsTheTypedMembers check the values); an
/// implementation of its own that provides neither Core nor the member gets a clear NotSupportedException, not a crash.
/// </summary>
public sealed class InterfaceDefaultsTests
{
    [Fact]
    public void GeneratedLayersAnswerThroughTheRuntimeLayer()
    {
        INormalizationLayer<double> ln = new LnNtcDouble(8);
        Assert.Equal(("NTC", "C", 0, NormKind.Standardize, AffineMode.PerChannel), (ln.Layout, ln.Axes, ln.Groups, ln.Kind, ln.Affine));
        Assert.Null(ln.RunningMean);
        Assert.Null(ln.RunningVar);

        var bn = new BnNchw(3);
        INormalizationLayer layer = bn;
        Assert.Same(bn.RunningMean, layer.RunningMean);
        Assert.Same(bn.RunningVar, layer.RunningVar);
        var sync = (ISynchronizedNormalizationLayer<float>)bn;
        Assert.Equal(3, sync.StatisticCount([2, 3, 4, 5]));

        // The dims forms run the layer: same bits as the typed Forward and Backward, and the same refusal of bad dims.
        int[] dims = [2, 3, 4, 5];
        float[] x = TestData.Normal(new Random(1), 120, 1, 2), dy = TestData.Normal(new Random(2), 120, 0, 1);
        float[] typed = new float[120], viaInterface = new float[120];
        var other = new BnNchw(3);
        other.Forward(x, typed, 2, 3, 4, 5);
        layer.Forward(x, viaInterface, dims);
        Assert.Equal(KernelCheck.Bits(typed), KernelCheck.Bits(viaInterface));
        other.Backward(x, dy, typed, 2, 3, 4, 5);
        layer.Backward(x, dy, viaInterface, dims);
        Assert.Equal(KernelCheck.Bits(typed), KernelCheck.Bits(viaInterface));
        Assert.Equal("dims", Assert.Throws<ArgumentException>(() => layer.Forward(x, viaInterface, [2, 3, 20])).ParamName);
    }

    [Fact]
    public void AnImplementationWithoutCoreGetsNotSupported()
    {
        INormalizationLayer<float> own = new OwnLayer();
        var e = Assert.Throws<NotSupportedException>(() => own.Layout);
        Assert.Contains(nameof(OwnLayer), e.Message);
        Assert.Throws<NotSupportedException>(() => own.Forward(new float[4], new float[4], [4]));
        ISynchronizedNormalizationLayer<float> ownSync = new OwnLayer();
        Assert.Throws<NotSupportedException>(() => ownSync.StatisticCount([4]));
        Assert.Equal(1e-3f, own.Epsilon); // its own members still answer
    }

    /// <summary>A Core that returns the layer itself would make every default body call itself without end (a stack overflow
    /// ends the process): refused with NotSupportedException instead.</summary>
    [Fact]
    public void ACoreThatIsTheLayerItselfIsRefused()
    {
        INormalizationLayer<float> self = new SelfLayer();
        Assert.Contains("returns the layer itself", Assert.Throws<NotSupportedException>(() => self.Kind).Message);
        Assert.Throws<NotSupportedException>(() => self.Backward(new float[4], new float[4], new float[4], [4]));
        Assert.Throws<NotSupportedException>(() => ((ISynchronizedNormalizationLayer<float>)self).ShardStatistics(new float[4], [4], new double[1], new double[1], new double[1]));
    }

    private sealed class SelfLayer : OwnLayerBase, ISynchronizedNormalizationLayer<float>
    {
        INormalizationLayer<float> INormalizationLayer<float>.Core => this;
    }

    private sealed class OwnLayer : OwnLayerBase;

    /// <summary>A layer written by hand: only the members without a default body.</summary>
    private abstract class OwnLayerBase : ISynchronizedNormalizationLayer<float>
    {
        public bool Training { get; set; }
        public float Epsilon { get; set; } = 1e-3f;
        public float[] Weight { get; } = [];
        public float[] Bias { get; } = [];
        public float[] WeightGrad { get; } = [];
        public float[] BiasGrad { get; } = [];
        public KernelPath LastPath => KernelPath.None;
        public void ZeroGrad() { }
        public IReadOnlyList<LayerParameter<float>> Parameters() => [];
        public IReadOnlyDictionary<string, double[]> StateDict() => new Dictionary<string, double[]>();
        public void LoadStateDict(IReadOnlyDictionary<string, double[]> state) { }
        public void Forward(ReadOnlyTensorSpan<float> input, TensorSpan<float> output) { }
        public void Backward(ReadOnlyTensorSpan<float> input, ReadOnlyTensorSpan<float> outputGrad, TensorSpan<float> inputGrad) { }
    }
}
