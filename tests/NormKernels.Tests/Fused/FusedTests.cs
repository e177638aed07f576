using System.Numerics;
using System.Reflection;

namespace NormKernels.Tests.Fused;

/// <summary>
/// Fused epilogues (issue 12): every activation x residual mode on BatchNorm (NCHW, NHWC), LayerNorm, GroupNorm, RMSNorm and
/// InstanceNorm against the float64 reference (<see cref="FusedReference"/>), forward and backward, training and inference;
/// in place, bad arguments, threads. The test run repeats on every instruction-set path (tests/run.sh's legs).
/// </summary>
[Collection(nameof(ThreadingTests))]   // one test changes the process-wide Parallelism.MaxDegree
public sealed class FusedTests
{
    public static TheoryData<string> All => FusedCases.Names();
    public static TheoryData<string> BatchReduced => FusedCases.Names(s => s.BatchReduced);
    public static TheoryData<string> WithResidual => FusedCases.Names(s => s.Residual != "None");

    private const double Eps = 1e-5;

    /// <summary>The data of a case, in the element type and in double.</summary>
    private sealed class Data<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Data(FusedSpec s, int seed)
        {
            var random = new Random(seed);
            int n = s.Length, c = Math.Max(1, s.Channels);
            X = Fill(n, () => 0.3 + 1.5 * Gaussian(random));
            R = Fill(n, () => Gaussian(random));
            Dy = Fill(n, () => Gaussian(random));
            Gamma = Fill(c, () => 0.5 + random.NextDouble());
            Beta = Fill(c, () => random.NextDouble() - 0.5);
        }

        public T[] X, R, Dy, Gamma, Beta;

        private static T[] Fill(int n, Func<double> next) => Enumerable.Range(0, n).Select(_ => T.CreateTruncating(next())).ToArray();
        private static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
    }

    private static double[] D<T>(T[] a) where T : unmanaged, IFloatingPointIeee754<T> => a.Select(v => double.CreateTruncating(v)).ToArray();

    private static object Layer<T>(FusedEntry e, Data<T> data) where T : unmanaged, IFloatingPointIeee754<T>
    {
        object layer = e.Create(e.Spec.Channels);
        data.Gamma.CopyTo(Prop<T[]>(layer, "Weight"), 0);
        data.Beta.CopyTo(Prop<T[]>(layer, "Bias"), 0);
        return layer;
    }

    private static TP Prop<TP>(object layer, string name) => (TP)layer.GetType().GetProperty(name)!.GetValue(layer)!;

    private static void SetTraining(object layer, bool training) => layer.GetType().GetProperty("Training")!.SetValue(layer, training);

    private static double Tolerance<T>() => typeof(T) == typeof(float) ? 2e-5 : 1e-10;

    private static void Close<T>(double[] expected, T[] actual, double scale, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Assert.Equal(expected.Length, actual.Length);
        double tol = Tolerance<T>() * (typeof(T) == typeof(float) ? 1 : 1);
        for (int i = 0; i < expected.Length; i++)
        {
            double a = double.CreateTruncating(actual[i]), bound = tol * scale * (1 + Math.Abs(expected[i]));
            Assert.True(Math.Abs(a - expected[i]) <= bound, $"{what}[{i}]: {a:R}, expected {expected[i]:R} (bound {bound:E2})");
        }
    }

    private static double MaxAbs(double[] v) => v.Length == 0 ? 0 : v.Max(Math.Abs);

    // ---------------------------------------------------------------- forward

    [Theory]
    [MemberData(nameof(All))]
    public void Forward_Training_MatchesFloat64Reference(string name)
    {
        var e = FusedCases.All[name];
        if (e.Element == typeof(float)) ForwardTraining<float>(e);
        else ForwardTraining<double>(e);
    }

    private static void ForwardTraining<T>(FusedEntry e) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = e.Spec;
        var data = new Data<T>(s, 11);
        object layer = Layer(e, data);
        var y = new T[s.Length];
        var sum = new T[s.Length];
        ((FusedForward<T>)e.Forward)(layer, data.X, data.R, y, sum, s.Dims);

        double[] x = D(data.X), r = D(data.R);
        double[] input = x;
        if (s.Before)
        {
            // The sum is written in the element type: exactly x + r rounded once.
            for (int i = 0; i < s.Length; i++)
                Assert.Equal(T.CreateTruncating(x[i] + r[i]), sum[i]);
            input = D(sum);
        }
        var f = FusedReference.Forward(s, input, r, D(data.Gamma), D(data.Beta), Eps);
        Close(f.Y, y, 1, "y");
        if (s.BatchReduced)
        {
            // Running statistics: momentum 0.1 from (0, 1), the unbiased batch variance (PyTorch).
            var runningMean = Prop<T[]>(layer, "RunningMean");
            var runningVar = Prop<T[]>(layer, "RunningVar");
            Close(f.Mean.Select(m => 0.1 * m).ToArray(), runningMean, 1, "runningMean");
            Close(f.Var.Select((v, k) => 0.9 + 0.1 * v * f.Count[k] / (f.Count[k] - 1)).ToArray(), runningVar, 1, "runningVar");
        }
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Forward_Inference_MatchesFloat64Reference(string name)
    {
        var e = FusedCases.All[name];
        if (e.Element == typeof(float)) ForwardInference<float>(e);
        else ForwardInference<double>(e);
    }

    private static void ForwardInference<T>(FusedEntry e) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = e.Spec;
        var data = new Data<T>(s, 12);
        object layer = Layer(e, data);
        SetTraining(layer, false);
        double[]? mean = null, var = null;
        if (s.BatchReduced)
        {
            var random = new Random(5);
            var runningMean = Prop<T[]>(layer, "RunningMean");
            var runningVar = Prop<T[]>(layer, "RunningVar");
            for (int k = 0; k < runningMean.Length; k++)
            {
                runningMean[k] = T.CreateTruncating(random.NextDouble() - 0.5);
                runningVar[k] = T.CreateTruncating(0.5 + random.NextDouble());
            }
            mean = D(runningMean);
            var = D(runningVar);
        }
        var y = new T[s.Length];
        var sum = new T[s.Length];
        ((FusedForward<T>)e.Forward)(layer, data.X, data.R, y, sum, s.Dims);
        double[] x = D(data.X), r = D(data.R);
        var f = FusedReference.Forward(s, s.Before ? D(sum) : x, r, D(data.Gamma), D(data.Beta), Eps, mean, var);
        Close(f.Y, y, 1, "y");
    }

    // ---------------------------------------------------------------- backward

    [Theory]
    [MemberData(nameof(All))]
    public void Backward_Training_MatchesFloat64Reference(string name)
    {
        var e = FusedCases.All[name];
        if (e.Element == typeof(float)) Backward<float>(e, training: true);
        else Backward<double>(e, training: true);
    }

    [Theory]
    [MemberData(nameof(BatchReduced))]
    public void Backward_Inference_MatchesFloat64Reference(string name)
    {
        var e = FusedCases.All[name];
        if (e.Element == typeof(float)) Backward<float>(e, training: false);
        else Backward<double>(e, training: false);
    }

    private static void Backward<T>(FusedEntry e, bool training) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = e.Spec;
        var data = new Data<T>(s, 13);
        object layer = Layer(e, data);
        double[]? mean = null, var = null;
        if (!training)
        {
            SetTraining(layer, false);
            var runningVar = Prop<T[]>(layer, "RunningVar");
            for (int k = 0; k < runningVar.Length; k++) runningVar[k] = T.CreateTruncating(0.7 + 0.1 * k);
            mean = D(Prop<T[]>(layer, "RunningMean"));
            var = D(runningVar);
        }
        var y = new T[s.Length];
        var sum = new T[s.Length];
        ((FusedForward<T>)e.Forward)(layer, data.X, data.R, y, sum, s.Dims);
        T[] input = s.Before ? sum : data.X;
        // AddBeforeNorm: a gradient arriving on the residual stream too.
        T[] sumGrad = s.Before ? data.R.Select(v => v * T.CreateTruncating(0.5)).ToArray() : Array.Empty<T>();
        var dx = new T[s.Length];
        var dr = s.After ? new T[s.Length] : sumGrad;
        ((FusedBackward<T>)e.Backward)(layer, input, data.R, data.Dy, dx, dr, s.Dims);

        double[] xd = D(input), r = D(data.R), dy = D(data.Dy), gamma = D(data.Gamma), beta = D(data.Beta);
        var f = FusedReference.Forward(s, xd, r, gamma, beta, Eps, mean, var);
        var (rdx, rdr, rdg, rdb) = FusedReference.Backward(s, xd, r, dy, gamma, beta, Eps, f, constantStatistics: !training);
        if (s.Before)
            for (int i = 0; i < rdx.Length; i++) rdx[i] += double.CreateTruncating(sumGrad[i]);
        double scale = typeof(T) == typeof(float) ? 10 : 10;
        Close(rdx, dx, scale * Math.Max(1, MaxAbs(rdx)), "dx");
        if (s.After) Close(rdr, dr, scale * Math.Max(1, MaxAbs(rdr)), "residualGrad");
        Close(rdg, Prop<T[]>(layer, "WeightGrad"), scale * Math.Max(1, MaxAbs(rdg)) * Math.Sqrt(s.Length), "weightGrad");
        Close(rdb, Prop<T[]>(layer, "BiasGrad"), scale * Math.Max(1, MaxAbs(rdb)) * Math.Sqrt(s.Length), "biasGrad");
    }

    /// <summary>The reference's gradient is the derivative of the reference's forward: central differences at a dozen elements
    /// (first, last, and random ones) of the input, the residual and gamma.</summary>
    [Theory]
    [MemberData(nameof(All))]
    public void ReferenceGradient_MatchesCentralDifferences(string name)
    {
        var s = FusedCases.All[name].Spec;
        var data = new Data<double>(s, 14);
        double[] x = data.X, r = data.R, dy = data.Dy, gamma = data.Gamma, beta = data.Beta;
        foreach (bool training in s.BatchReduced ? new[] { true, false } : new[] { true })
        {
            double[]? mean = training ? null : Enumerable.Range(0, s.Channels).Select(k => 0.1 * k).ToArray();
            double[]? var = training ? null : Enumerable.Range(0, s.Channels).Select(k => 0.8 + 0.05 * k).ToArray();
            var f = FusedReference.Forward(s, x, r, gamma, beta, Eps, mean, var);
            var (dx, dr, dg, _) = FusedReference.Backward(s, x, r, dy, gamma, beta, Eps, f, constantStatistics: !training);
            double Loss(double[] xx, double[] rr, double[] gg) =>
                FusedReference.Forward(s, xx, rr, gg, beta, Eps, mean, var).Y.Select((v, i) => v * dy[i]).Sum();
            var random = new Random(3);
            var picks = new[] { 0, s.Length - 1 }.Concat(Enumerable.Range(0, 10).Select(_ => random.Next(s.Length))).ToArray();
            const double h = 1e-5;
            foreach (int i in picks)
            {
                Check(dx[i], Perturbed(x, i, h, xx => Loss(xx, r, gamma)), $"dx[{i}]");
                if (s.After) Check(dr[i], Perturbed(r, i, h, rr => Loss(x, rr, gamma)), $"dr[{i}]");
            }
            for (int k = 0; k < Math.Min(3, gamma.Length); k++)
                Check(dg[k], Perturbed(gamma, k, h, gg => Loss(x, r, gg)), $"dgamma[{k}]");
        }

        static double Perturbed(double[] v, int i, double h, Func<double[], double> loss)
        {
            var plus = (double[])v.Clone();
            var minus = (double[])v.Clone();
            plus[i] += h;
            minus[i] -= h;
            return (loss(plus) - loss(minus)) / (2 * h);
        }

        static void Check(double analytic, double numeric, string what) =>
            Assert.True(Math.Abs(analytic - numeric) <= 1e-5 * (1 + Math.Abs(numeric)), $"{what}: analytic {analytic:R}, central difference {numeric:R}");
    }

    // ---------------------------------------------------------------- in place, arguments, threads

    [Theory]
    [MemberData(nameof(All))]
    public void InPlace_GivesTheSameBitsAsSeparateBuffers(string name)
    {
        var e = FusedCases.All[name];
        if (e.Element == typeof(float)) InPlace<float>(e);
        else InPlace<double>(e);
    }

    private static void InPlace<T>(FusedEntry e) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = e.Spec;
        var data = new Data<T>(s, 15);
        var forward = (FusedForward<T>)e.Forward;
        var y = new T[s.Length];
        var sum = new T[s.Length];
        forward(Layer(e, data), data.X, data.R, y, sum, s.Dims);
        if (s.Before)
        {
            // sum over the input, output over the sum.
            var x = (T[])data.X.Clone();
            forward(Layer(e, data), x, data.R, x, x, s.Dims);
            Assert.Equal(y, x);
            var r = (T[])data.R.Clone();
            var y2 = new T[s.Length];
            forward(Layer(e, data), data.X, r, y2, r, s.Dims);
            Assert.Equal(sum, r);
            Assert.Equal(y, y2);
        }
        else
        {
            var x = (T[])data.X.Clone();
            forward(Layer(e, data), x, data.R, x, sum, s.Dims);
            Assert.Equal(y, x);
            if (s.After)
            {
                var r = (T[])data.R.Clone();
                forward(Layer(e, data), data.X, r, r, sum, s.Dims);
                Assert.Equal(y, r);
            }
        }
    }

    /// <summary>The backward with its outputs over its inputs, as the argument checks allow (exactly, never partly): dx over x,
    /// dx over dy; with the residual after the norm its gradient over x, over dy, and over x with dx over dy at once (where
    /// dy must outlive the backward's reads of it and of x: without an activation it is copied out first). The same bits
    /// as separate buffers.</summary>
    [Theory]
    [MemberData(nameof(All))]
    public void BackwardInPlace_GivesTheSameBitsAsSeparateBuffers(string name)
    {
        var e = FusedCases.All[name];
        if (e.Element == typeof(float)) BackwardInPlace<float>(e);
        else BackwardInPlace<double>(e);
    }

    private static void BackwardInPlace<T>(FusedEntry e) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = e.Spec;
        var data = new Data<T>(s, 19);
        var forward = (FusedForward<T>)e.Forward;
        var backward = (FusedBackward<T>)e.Backward;
        T[] sum = new T[s.Length];
        forward(Layer(e, data), data.X, data.R, new T[s.Length], sum, s.Dims);
        T[] input = s.Before ? sum : data.X;
        T[] g = s.Before ? data.R.Select(v => v * T.CreateTruncating(0.25)).ToArray() : new T[s.Length];
        // (x, dy, dx, g) in place of (input, dy, a fresh dx, the residual gradient or the sum gradient): the layer's forward on
        // the input's values first, then its backward on the arrays given. Returns the layer.
        object Run(T[] x, T[] dy, T[] dx, T[] grad)
        {
            object layer = Layer(e, data);
            forward(layer, s.Before ? data.X : x, data.R, new T[s.Length], s.Before ? (T[])sum.Clone() : new T[s.Length], s.Dims);
            backward(layer, x, data.R, dy, dx, grad, s.Dims);
            return layer;
        }
        T[] dxRef = new T[s.Length];
        object reference = Run((T[])input.Clone(), (T[])data.Dy.Clone(), dxRef, g);
        T[] weightGrad = Prop<T[]>(reference, "WeightGrad");
        void Same(T[] expected, T[] actual, object layer, string what)
        {
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{e.Spec.Name}: {what} differs from separate buffers");
            Assert.True(weightGrad.AsSpan().SequenceEqual(Prop<T[]>(layer, "WeightGrad")), $"{e.Spec.Name}: weightGrad differs ({what})");
        }
        // dx over x, and dx over dy.
        T[] x1 = (T[])input.Clone();
        Same(dxRef, x1, Run(x1, (T[])data.Dy.Clone(), x1, s.Before ? g : new T[s.Length]), "dx over x");
        T[] dy1 = (T[])data.Dy.Clone();
        Same(dxRef, dy1, Run((T[])input.Clone(), dy1, dy1, s.Before ? g : new T[s.Length]), "dx over dy");
        if (!s.After) return;
        // The residual's gradient over x, over dy, and over x with dx over dy.
        T[] x2 = (T[])input.Clone(), dx2 = new T[s.Length];
        object l2 = Run(x2, (T[])data.Dy.Clone(), dx2, x2);
        Same(dxRef, dx2, l2, "residualGrad over x (dx)");
        Same(g, x2, l2, "residualGrad over x");
        T[] dy3 = (T[])data.Dy.Clone(), dx3 = new T[s.Length];
        object l3 = Run((T[])input.Clone(), dy3, dx3, dy3);
        Same(dxRef, dx3, l3, "residualGrad over dy (dx)");
        Same(g, dy3, l3, "residualGrad over dy");
        T[] x4 = (T[])input.Clone(), dy4 = (T[])data.Dy.Clone();
        object l4 = Run(x4, dy4, dy4, x4);
        Same(dxRef, dy4, l4, "dx over dy, residualGrad over x (dx)");
        Same(g, x4, l4, "dx over dy, residualGrad over x");
    }

    /// <summary>
    /// The sum's gradient added inside the backward's apply (LayerNorm and RMSNorm over the last dim, the residual added before
    /// the norm): dx is the plain layer's backward of the same sum plus one float addition an element, and the parameter
    /// gradients are the plain layer's, bit for bit; rows of one piece of the apply's buffer (768), of three with the last
    /// partial (4,100) and short ones (40); dx streamed (threshold 0) and not; 1 and 2 workers; dx in a fresh array, over
    /// the sum and over dy. Against the float64 reference the same layers pass Backward_Training_MatchesFloat64Reference.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SumGradInTheApply_IsThePlainBackwardPlusOneAddition(bool rms)
    {
        int saved = NormKernels.Parallelism.MaxDegree;
        long threshold = Streaming.ThresholdBytes;
        try
        {
            foreach (var (rows, c) in new[] { (256, 768), (20, 4100), (50, 40) })
            {
                var random = new Random(rows + c);
                int n = 2 * rows * c;
                float[] x = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 4 - 1)).ToArray();
                float[] r = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
                float[] dy = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
                float[] sumGrad = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
                float[] gamma = Enumerable.Range(0, c).Select(_ => (float)(random.NextDouble() + 0.5)).ToArray();
                float[] sum = x.Zip(r, (a, b) => a + b).ToArray();
                foreach (int degree in new[] { 1, 2 })
                    foreach (long bytes in new[] { 0L, long.MaxValue })
                    {
                        NormKernels.Parallelism.MaxDegree = degree;
                        Streaming.ThresholdBytes = bytes;
                        // The plain layer's backward of the same sum, then one addition an element.
                        INormalizationLayer<float> plain = rms ? new RmsNtc(c) : new LnNtc(c);
                        gamma.CopyTo(plain.Weight, 0);
                        plain.Forward(sum, new float[n], [2, rows, c]);
                        var plainDx = new float[n];
                        plain.Backward(sum, dy, plainDx, [2, rows, c]);
                        float[] expected = plainDx.Zip(sumGrad, (a, b) => a + b).ToArray();
                        foreach (string where in new[] { "fresh", "over the sum", "over dy" })
                        {
                            float[] sumOut = new float[n], dyIn = (float[])dy.Clone();
                            FusedEntry e = FusedCases.All[rms ? "FRmsNtcNoneBefore" : "FLnNtcNoneBefore"];
                            object layer = e.Create(c);
                            gamma.CopyTo(Prop<float[]>(layer, "Weight"), 0);
                            int[] dims = [2, rows, c];
                            ((FusedForward<float>)e.Forward)(layer, x, r, new float[n], sumOut, dims);
                            float[] dx = where == "over the sum" ? sumOut : where == "over dy" ? dyIn : new float[n];
                            ((FusedBackward<float>)e.Backward)(layer, sumOut, r, dyIn, dx, sumGrad, dims);
                            float[] weightGrad = Prop<float[]>(layer, "WeightGrad"), biasGrad = Prop<float[]>(layer, "BiasGrad");
                            string what = $"{(rms ? "RMSNorm" : "LayerNorm")} [2, {rows}, {c}], {degree} worker(s), threshold {bytes}, dx {where}";
                            Assert.True(Streaming.LastCallAddedInApply, $"{what}: the sum's gradient was not added inside the apply");
                            Assert.Equal(degree == 2 && n >= 1 << 17 ? 2 : 1, Runtime.ParallelUnits.LastWorkers);
                            Assert.True(expected.AsSpan().SequenceEqual(dx), $"{what}: dx is not the plain backward plus the sum's gradient");
                            Assert.True(plain.WeightGrad.AsSpan().SequenceEqual(weightGrad), $"{what}: weightGrad differs from the plain layer's");
                            Assert.True(plain.BiasGrad.AsSpan().SequenceEqual(biasGrad), $"{what}: biasGrad differs from the plain layer's");
                        }
                    }
            }
        }
        finally
        {
            NormKernels.Parallelism.MaxDegree = saved;
            Streaming.ThresholdBytes = threshold;
        }
    }

    [Theory]
    [MemberData(nameof(WithResidual))]
    public void ResidualOfTheWrongLength_ThrowsBeforeAnyWrite(string name)
    {
        var e = FusedCases.All[name];
        if (e.Element != typeof(float)) return;
        var s = e.Spec;
        var data = new Data<float>(s, 16);
        object layer = Layer(e, data);
        var y = Enumerable.Repeat(7f, s.Length).ToArray();
        var sum = Enumerable.Repeat(7f, s.Length).ToArray();
        var shortResidual = data.R.AsSpan(1).ToArray();
        var ex = Assert.Throws<ArgumentException>(() => ((FusedForward<float>)e.Forward)(layer, data.X, shortResidual, y, sum, s.Dims));
        Assert.Equal("residual", ex.ParamName);
        Assert.All(y, v => Assert.Equal(7f, v));
        Assert.All(sum, v => Assert.Equal(7f, v));
        if (s.Before)
        {
            var shortSum = new float[s.Length - 1];
            Assert.Equal("sum", Assert.Throws<ArgumentException>(() => ((FusedForward<float>)e.Forward)(layer, data.X, data.R, y, shortSum, s.Dims)).ParamName);
            Assert.All(y, v => Assert.Equal(7f, v));
        }
        // Backward: a residual gradient (or sum gradient) of the wrong length, before anything is written.
        ((FusedForward<float>)e.Forward)(layer, data.X, data.R, new float[s.Length], sum, s.Dims);
        var dx = Enumerable.Repeat(7f, s.Length).ToArray();
        var wrong = new float[s.Length + 1];
        var grad = Assert.Throws<ArgumentException>(() => ((FusedBackward<float>)e.Backward)(layer, s.Before ? sum : data.X, data.R, data.Dy, dx, wrong, s.Dims));
        Assert.Equal(s.Before ? "sumGrad" : "residualGrad", grad.ParamName);
        Assert.All(dx, v => Assert.Equal(7f, v));
        Assert.All(Prop<float[]>(layer, "WeightGrad"), v => Assert.Equal(0f, v));
    }

    /// <summary>Pre-activations far into the tails (gamma 40: |z| up to about 90), where exp over- or underflows and erf and
    /// tanh saturate: every activation still matches the reference (and gives no NaN or infinity).</summary>
    [Theory]
    [InlineData("FLnNtcRelu")]
    [InlineData("FLnNtcSilu")]
    [InlineData("FLnNtcGelu")]
    [InlineData("FLnNtcGeluTanh")]
    [InlineData("FGnNhwcSiluD")]
    public void ExtremePreActivations_MatchTheReference(string name)
    {
        var e = FusedCases.All[name];
        if (e.Element == typeof(float)) Extreme<float>(e);
        else Extreme<double>(e);
    }

    private static void Extreme<T>(FusedEntry e) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = e.Spec;
        var data = new Data<T>(s, 18);
        Array.Fill(data.Gamma, T.CreateTruncating(40));
        object layer = Layer(e, data);
        var y = new T[s.Length];
        ((FusedForward<T>)e.Forward)(layer, data.X, data.R, y, new T[s.Length], s.Dims);
        var f = FusedReference.Forward(s, D(data.X), D(data.R), D(data.Gamma), D(data.Beta), Eps);
        Assert.All(y, v => Assert.True(T.IsFinite(v)));
        Close(f.Y, y, 1, "y");
        var dx = new T[s.Length];
        ((FusedBackward<T>)e.Backward)(layer, data.X, data.R, data.Dy, dx, Array.Empty<T>(), s.Dims);
        Assert.All(dx, v => Assert.True(T.IsFinite(v)));
    }

    [Fact]
    public void Threads_GiveTheSameBits()
    {
        int saved = NormKernels.Parallelism.MaxDegree;
        try
        {
            int[] dims = [8, 16, 24, 24];
            int n = dims.Aggregate(1, (a, b) => a * b);
            var random = new Random(9);
            var x = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() * 4 - 1).ToArray();
            var r = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
            var dy = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
            (float[] Y, float[] Dx, float[] Dr, float[] Dg) Run(int degree)
            {
                NormKernels.Parallelism.MaxDegree = degree;
                var layer = new FBnNchwGeluAfter(16);
                var y = new float[n];
                layer.Forward(x, r, y, 8, 16, 24, 24);
                var dx = new float[n];
                var dr = new float[n];
                layer.Backward(x, r, dy, dx, dr, 8, 16, 24, 24);
                return (y, dx, dr, layer.WeightGrad.ToArray());
            }
            var one = Run(1);
            var two = Run(2);
            Assert.Equal(one.Y, two.Y);
            Assert.Equal(one.Dx, two.Dx);
            Assert.Equal(one.Dr, two.Dr);
            Assert.Equal(one.Dg, two.Dg);
        }
        finally
        {
            NormKernels.Parallelism.MaxDegree = saved;
        }
    }

    [Fact]
    public void ResidualLayers_StaticKernels_MatchTheFloat64Reference()
    {
        // AddAfterNorm (BatchNorm NHWC + ReLU): training forward, inference forward, training backward on caller-owned buffers.
        var s = FusedCases.All["FBnNhwcReluAfter"].Spec;
        var data = new Data<float>(s, 19);
        int n = s.Length, c = s.Channels;
        var y = new float[n];
        var mean = new float[c];
        var variance = new float[c];
        Assert.Equal(KernelPath.Vector512 >= Isa.Select(c) ? Isa.Select(c) : KernelPath.Vector512,
            FBnNhwcReluAfter.ForwardTraining(data.X, data.R, y, 2, 3, 5, 20, data.Gamma, data.Beta, mean, variance, 1e-5f));
        double[] x = D(data.X), r = D(data.R), gamma = D(data.Gamma), beta = D(data.Beta);
        var f = FusedReference.Forward(s, x, r, gamma, beta, Eps);
        Close(f.Y, y, 1, "y");
        Close(f.Mean, mean, 1, "mean");
        Close(f.Var, variance, 1, "variance");
        var yi = new float[n];
        FBnNhwcReluAfter.ForwardInference(data.X, data.R, yi, 2, 3, 5, 20, data.Gamma, data.Beta, mean, variance, 1e-5f);
        Close(FusedReference.Forward(s, x, r, gamma, beta, Eps, D(mean), D(variance)).Y, yi, 1, "y (inference)");
        var dx = new float[n];
        var dr = new float[n];
        var wg = new float[c];
        var bg = new float[c];
        FBnNhwcReluAfter.BackwardTraining(data.X, data.R, data.Dy, dx, dr, 2, 3, 5, 20, data.Gamma, data.Beta, mean, variance, 1e-5f, wg, bg);
        var (rdx, rdr, rdg, rdb) = FusedReference.Backward(s, x, r, D(data.Dy), gamma, beta, Eps, f, constantStatistics: false);
        Close(rdx, dx, 10 * Math.Max(1, MaxAbs(rdx)), "dx");
        Close(rdr, dr, 10 * Math.Max(1, MaxAbs(rdr)), "residualGrad");
        Close(rdg, wg, 10 * Math.Max(1, MaxAbs(rdg)) * Math.Sqrt(n), "weightGrad");
        Close(rdb, bg, 10 * Math.Max(1, MaxAbs(rdb)) * Math.Sqrt(n), "biasGrad");

        // AddBeforeNorm (LayerNorm + GELU): the sum written, then its backward with a sum gradient.
        var ls = FusedCases.All["FLnNtcGeluBefore"].Spec;
        var ld = new Data<float>(ls, 20);
        int ln = ls.Length, lc = ls.Channels;
        var ly = new float[ln];
        var sum = new float[ln];
        var lmean = new float[6];
        var lvar = new float[6];
        FLnNtcGeluBefore.ForwardTraining(ld.X, ld.R, ly, sum, 2, 3, 40, ld.Gamma, ld.Beta, lmean, lvar, 1e-5f);
        for (int i = 0; i < ln; i++) Assert.Equal(ld.X[i] + ld.R[i], sum[i]);
        var lf = FusedReference.Forward(ls, D(sum), null, D(ld.Gamma), D(ld.Beta), Eps);
        Close(lf.Y, ly, 1, "y");
        var ldx = new float[ln];
        var lwg = new float[lc];
        var lbg = new float[lc];
        var sumGrad = ld.R.Select(v => v * 0.25f).ToArray();
        FLnNtcGeluBefore.BackwardTraining(sum, ld.Dy, sumGrad, ldx, 2, 3, 40, ld.Gamma, ld.Beta, lmean, lvar, 1e-5f, lwg, lbg);
        var (ldxRef, _, ldgRef, _) = FusedReference.Backward(ls, D(sum), null, D(ld.Dy), D(ld.Gamma), D(ld.Beta), Eps, lf, constantStatistics: false);
        for (int i = 0; i < ln; i++) ldxRef[i] += sumGrad[i];
        Close(ldxRef, ldx, 10 * Math.Max(1, MaxAbs(ldxRef)), "dx");
        Close(ldgRef, lwg, 10 * Math.Max(1, MaxAbs(ldgRef)) * Math.Sqrt(ln), "weightGrad");
        // A residual of the wrong length: refused before the sum or the output is written.
        var untouched = Enumerable.Repeat(3f, ln).ToArray();
        var ex = Assert.Throws<ArgumentException>(() =>
            FLnNtcGeluBefore.ForwardTraining(ld.X, ld.R.AsSpan(1), untouched, untouched.AsSpan().ToArray(), 2, 3, 40, ld.Gamma, ld.Beta, lmean, lvar, 1e-5f));
        Assert.Equal("residual", ex.ParamName);
        Assert.All(untouched, v => Assert.Equal(3f, v));
    }

    [Fact]
    public void ActivationLayers_KeepTheStaticKernels_WithTheBiasInTheirBackward()
    {
        // The static kernels of an activation layer: ForwardTraining, then BackwardTraining (which takes the bias) against the instance.
        var s = FusedCases.All["FLnNtcSilu"].Spec;
        var data = new Data<float>(s, 17);
        int n = s.Length, c = s.Channels;
        var y = new float[n];
        var mean = new float[6];
        var variance = new float[6];
        FLnNtcSilu.ForwardTraining(data.X, y, 2, 3, 40, data.Gamma, data.Beta, mean, variance, 1e-5f);
        var layer = (FLnNtcSilu)Layer(FusedCases.All["FLnNtcSilu"], data);
        var y2 = new float[n];
        layer.Forward(data.X, y2, 2, 3, 40);
        Assert.Equal(y2, y);
        var dx = new float[n];
        var wg = new float[c];
        var bg = new float[c];
        FLnNtcSilu.BackwardTraining(data.X, data.Dy, dx, 2, 3, 40, data.Gamma, data.Beta, mean, variance, 1e-5f, wg, bg);
        var dx2 = new float[n];
        layer.Backward(data.X, data.Dy, dx2, 2, 3, 40);
        // The instance keeps the mean in double for Backward; the static kernel has the float mean it wrote: the last bits may differ.
        Close(dx2.Select(v => (double)v).ToArray(), dx, 10, "dx");
        Close(layer.WeightGrad.Select(v => (double)v).ToArray(), wg, 10, "weightGrad");
        Close(layer.BiasGrad.Select(v => (double)v).ToArray(), bg, 10, "biasGrad");
        Assert.NotEqual(new float[n], dx);
    }
}
