// Data-parallel training of a small conv-BN block on several processes, with synchronized BatchNorm.
//
//   block:  x (NHWC) -> 1x1 conv (C -> K channels) -> BatchNorm (NHWC, synchronized) -> ReLU -> z
//   loss:   mean over the WHOLE batch of (z - target)^2;  plain SGD on the conv weights and BatchNorm's gamma, beta.
//
// Every rank builds the same batch of 10 samples (same seed) and trains on its own shard of it (10 over 3 ranks:
// 4/3/3). BatchNorm normalizes with the whole batch's statistics (SynchronizedBatchNorm: statistics all-gathered and
// merged in rank order) and differentiates through them; the conv gradient and BatchNorm's parameter gradients are
// added over the ranks. Rank 0 also trains the same block on the whole batch in this one process (plain Forward and
// Backward) and prints both losses: they agree to float rounding.
//
// Run (from the repository root, MPICH installed: apt-get install mpich libmpich-dev):
//   dotnet build -c Release samples/NormKernels.Samples.Mpi
//   mpiexec.mpich -n 3 dotnet samples/NormKernels.Samples.Mpi/bin/Release/net10.0/NormKernels.Samples.Mpi.dll

using NormKernels;
using NormKernels.Mpi;

if (!MpiSession.IsAvailable(out string reason))
{
    Console.Error.WriteLine(reason);
    return 1;
}
using MpiSession mpi = MpiSession.Start(ref args);
const int Batch = 10, H = 6, W = 6, C = 4, K = 8, Steps = 6;
const float LearningRate = 0.05f;

// The same data and initial weights on every rank.
var random = new Random(2026);
float[] input = Normal(random, Batch * H * W * C, 0.5, 1.5);
float[] target = Normal(random, Batch * H * W * K, 0.3, 0.8).Select(v => Math.Max(v, 0f)).ToArray();
float[] conv0 = Normal(random, C * K, 0, 0.5);

// This rank's shard of the batch along N.
int first = 0;
for (int r = 0; r < mpi.Rank; r++) first += Batch / mpi.Size + (r < Batch % mpi.Size ? 1 : 0);
int n = Batch / mpi.Size + (mpi.Rank < Batch % mpi.Size ? 1 : 0);
int pixels = H * W;

var shard = new Block(conv0, n);
var sync = new SynchronizedBatchNorm<float>(shard.Norm, mpi.World);
Block? whole = mpi.Rank == 0 ? new Block(conv0, Batch) : null;

if (mpi.Rank == 0)
    Console.WriteLine($"{mpi.Size} process(es), batch {Batch} split {string.Join("/", Enumerable.Range(0, mpi.Size).Select(r => Batch / mpi.Size + (r < Batch % mpi.Size ? 1 : 0)))}; {Isa.Describe()}");
mpi.World.Barrier();
for (int step = 0; step < Steps; step++)
{
    // Data-parallel step: this rank's shard, global loss and gradients.
    double localLoss = shard.Step(input.AsSpan(first * pixels * C, n * pixels * C), target.AsSpan(first * pixels * K, n * pixels * K), Batch,
        forward: (x, y, d) => sync.Forward(x, y, d), backward: (x, dy, dx, d) => sync.Backward(x, dy, dx, d),
        reduce: values => sync.SumOverRanks(values));
    double loss = sync.SumOverRanks([localLoss])[0];
    shard.Update(LearningRate);

    // Rank 0: the same block on the whole batch, one process, plain BatchNorm.
    double single = double.NaN;
    if (whole is not null)
    {
        single = whole.Step(input, target, Batch, (x, y, d) => ((INormalizationLayer)whole.Norm).Forward(x, y, d), (x, dy, dx, d) => ((INormalizationLayer)whole.Norm).Backward(x, dy, dx, d), values => values);
        whole.Update(LearningRate);
    }
    // Each rank prints its shard's share of the loss, in rank order.
    for (int r = 0; r < mpi.Size; r++)
    {
        if (r == mpi.Rank)
            Console.WriteLine($"step {step}  rank {mpi.Rank} (samples {first}..{first + n - 1})  shard loss {localLoss:F6}  data-parallel loss {loss:F6}" +
                              (whole is null ? "" : $"  1-process loss {single:F6}  difference {Math.Abs(loss - single):E1}"));
        Console.Out.Flush();
        mpi.World.Barrier();
    }
}
return 0;

static float[] Normal(Random random, int length, double mean, double std)
{
    var values = new float[length];
    for (int i = 0; i < length; i++)
        values[i] = (float)(mean + std * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
    return values;
}

/// <summary>BatchNorm over N, H, W of a channels-last tensor: K = 8 channels after the 1x1 conv.</summary>
[Normalize(Layout = "NHWC", Axes = "N,H,W")]
public sealed partial class ConvNorm;

/// <summary>1x1 conv (C -> K) -> BatchNorm -> ReLU, for <c>n</c> samples of 6 x 6 pixels, with its gradients.</summary>
internal sealed class Block(float[] conv, int n)
{
    private const int H = 6, W = 6, C = 4, K = 8;
    private readonly float[] _conv = (float[])conv.Clone();
    private double[] _convGrad = new double[C * K];
    private readonly float[] _y = new float[n * H * W * K], _z = new float[n * H * W * K], _dz = new float[n * H * W * K], _dy = new float[n * H * W * K];

    public ConvNorm Norm { get; } = new(K);

    /// <summary>Forward and backward of the block; returns this part's share of the loss (sum of squares / total elements).</summary>
    public double Step(ReadOnlySpan<float> x, ReadOnlySpan<float> target, int batch, Forward forward, Backward backward, Func<double[], double[]> reduce)
    {
        int pixels = n * H * W;
        int[] dims = [n, H, W, K];
        for (int p = 0; p < pixels; p++)
            for (int o = 0; o < K; o++)
            {
                float sum = 0;
                for (int i = 0; i < C; i++) sum += x[p * C + i] * _conv[i * K + o];
                _y[p * K + o] = sum;
            }
        forward(_y, _z, dims);
        double loss = 0, scale = 1.0 / (batch * H * W * K);
        for (int e = 0; e < _z.Length; e++)
        {
            float relu = Math.Max(_z[e], 0f), diff = relu - target[e];
            loss += diff * (double)diff * scale;
            _dz[e] = _z[e] > 0 ? (float)(2 * diff * scale) : 0f;
        }
        Norm.ZeroGrad();
        backward(_y, _dz, _dy, dims);
        var grad = new double[C * K];
        for (int p = 0; p < pixels; p++)
            for (int i = 0; i < C; i++)
                for (int o = 0; o < K; o++) grad[i * K + o] += x[p * C + i] * (double)_dy[p * K + o];
        _convGrad = reduce(grad);
        return loss;
    }

    public void Update(float learningRate)
    {
        for (int j = 0; j < _conv.Length; j++) _conv[j] -= learningRate * (float)_convGrad[j];
        for (int k = 0; k < K; k++)
        {
            Norm.Weight[k] -= learningRate * Norm.WeightGrad[k];
            Norm.Bias[k] -= learningRate * Norm.BiasGrad[k];
        }
    }

    public delegate void Forward(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<int> dims);

    public delegate void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, ReadOnlySpan<int> dims);
}
