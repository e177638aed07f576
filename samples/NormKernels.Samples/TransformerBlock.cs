using System.Globalization;

namespace NormKernels.Samples;

// The transformer block's two normalization layers over (batch, tokens, channels): each token's
// vector of C features is normalized on its own, so Axes = "C".

/// <summary>LayerNorm: subtract each token's mean over C, divide by its standard deviation, scale and shift per channel.</summary>
[Normalize(Layout = "NTC", Axes = "C")]
public sealed partial class TokenLayerNorm;

/// <summary>RMSNorm (as in LLaMA): divide each token by its root mean square over C, scale per channel; no mean subtracted.</summary>
[Normalize(Layout = "NTC", Axes = "C", Kind = NormKind.RootMeanSquare)]
public sealed partial class TokenRmsNorm;

/// <summary>
/// A pre-norm transformer block: <c>h = x + Attention(LayerNorm(x))</c>, <c>y = h + MLP(RMSNorm(h))</c>,
/// with single-head causal attention and a SiLU MLP written as plain loops. The input tokens have a
/// few large "outlier" features, as real residual streams do; the norms bring every token back to
/// unit scale before the attention and the MLP see it.
/// </summary>
internal static class TransformerBlock
{
    private const int Batch = 2, Tokens = 16, Model = 64, Hidden = 4 * Model;

    public static void Run()
    {
        Console.WriteLine($"== Transformer block, NTC {Batch}x{Tokens}x{Model}: x + Attention(LayerNorm(x)), then h + MLP(RMSNorm(h)) ==");
        var random = new Random(2024);
        int size = Batch * Tokens * Model;

        // Token embeddings: N(0, 1) features plus three outlier features that are large for every token.
        var x = new float[size];
        Tensors.FillNormal(random, x);
        for (int token = 0; token < Batch * Tokens; token++)
        {
            x[token * Model + 3] += 20f;
            x[token * Model + 17] -= 12f;
            x[token * Model + 40] += 8f;
        }

        var ln = new TokenLayerNorm(channels: Model);   // Weight (gamma) 1 and Bias (beta) 0 per channel
        var rms = new TokenRmsNorm(channels: Model);
        var attention = new CausalSelfAttention(Model, random);
        var mlp = new Mlp(Model, Hidden, random);

        // Attention sub-block on the LayerNorm'd tokens, added to the residual stream.
        var normalized = new float[size];
        ln.Forward(x, normalized, Batch, Tokens, Model);   // dims in layout order: n, t, c
        PrintTokens("LayerNorm output", normalized, rms: false);
        Console.WriteLine($"LayerNorm ran on {ln.LastPath}; token 0's mean and variance (BatchMean, BatchVariance): "
                          + string.Create(CultureInfo.InvariantCulture, $"{ln.BatchMean[0]:F3}, {ln.BatchVariance[0]:F3}"));
        var h = new float[size];
        attention.Forward(normalized, h, Batch, Tokens);
        for (int i = 0; i < size; i++) h[i] += x[i];

        // MLP sub-block on the RMSNorm'd tokens. In place: output may be the input.
        var scratch = h.ToArray();
        rms.Forward(scratch, scratch, Batch, Tokens, Model);
        PrintTokens("RMSNorm output", scratch, rms: true);
        Console.WriteLine($"RMSNorm ran on {rms.LastPath}; token 0's mean square before it (BatchMeanSquare): "
                          + string.Create(CultureInfo.InvariantCulture, $"{rms.BatchMeanSquare[0]:F3}"));
        var y = new float[size];
        mlp.Forward(scratch, y);
        for (int i = 0; i < size; i++) y[i] += h[i];

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"residual stream RMS: input {Rms(x):F3}, after attention {Rms(h):F3}, after the MLP {Rms(y):F3}"));
    }

    private static void PrintTokens(string title, ReadOnlySpan<float> values, bool rms)
    {
        Console.WriteLine(title + (rms ? ", per token (root mean square):" : ", per token (mean, std):"));
        var line = new System.Text.StringBuilder("  ");
        foreach (int token in new[] { 0, 1, Tokens - 1, Batch * Tokens - 1 })
        {
            int first = token * Model;
            var (mean, std) = Tensors.MeanStd(values, i => i >= first && i < first + Model);
            line.Append(rms
                ? $" t{token}: {Tensors.F3(Math.Sqrt(mean * mean + std * std))}"
                : $" t{token}: ({Tensors.F3(mean)}, {Tensors.F3(std)})");
        }
        Console.WriteLine(line);
    }

    private static double Rms(ReadOnlySpan<float> values)
    {
        double squares = 0;
        foreach (float v in values) squares += (double)v * v;
        return Math.Sqrt(squares / values.Length);
    }
}

/// <summary>Single-head causal self-attention: softmax(Q K^T / sqrt(d)) V with a mask on future tokens, then an output projection.</summary>
internal sealed class CausalSelfAttention
{
    private readonly int _model;
    private readonly float[] _wq, _wk, _wv, _wo, _zeros;

    public CausalSelfAttention(int model, Random random)
    {
        _model = model;
        float scale = 1f / MathF.Sqrt(model);
        _wq = Weights(random, model * model, scale);
        _wk = Weights(random, model * model, scale);
        _wv = Weights(random, model * model, scale);
        _wo = Weights(random, model * model, scale);
        _zeros = new float[model];
    }

    public void Forward(ReadOnlySpan<float> x, Span<float> output, int batch, int tokens)
    {
        int d = _model;
        var q = new float[x.Length];
        var k = new float[x.Length];
        var v = new float[x.Length];
        var mixed = new float[x.Length];
        Tensors.Linear(x, q, _wq, _zeros, d, d);
        Tensors.Linear(x, k, _wk, _zeros, d, d);
        Tensors.Linear(x, v, _wv, _zeros, d, d);

        var scores = new float[tokens];
        for (int n = 0; n < batch; n++)
        for (int t = 0; t < tokens; t++)
        {
            var query = q.AsSpan((n * tokens + t) * d, d);
            float max = float.NegativeInfinity;
            for (int s = 0; s <= t; s++)   // causal: token t attends to tokens 0..t
            {
                var key = k.AsSpan((n * tokens + s) * d, d);
                float dot = 0;
                for (int i = 0; i < d; i++) dot += query[i] * key[i];
                scores[s] = dot / MathF.Sqrt(d);
                max = MathF.Max(max, scores[s]);
            }
            float total = 0;
            for (int s = 0; s <= t; s++) total += scores[s] = MathF.Exp(scores[s] - max);
            var result = mixed.AsSpan((n * tokens + t) * d, d);
            for (int s = 0; s <= t; s++)
            {
                var value = v.AsSpan((n * tokens + s) * d, d);
                float weight = scores[s] / total;
                for (int i = 0; i < d; i++) result[i] += weight * value[i];
            }
        }
        Tensors.Linear(mixed, output, _wo, _zeros, d, d);
    }

    internal static float[] Weights(Random random, int count, float std)
    {
        var weights = new float[count];
        Tensors.FillNormal(random, weights, std: std);
        return weights;
    }
}

/// <summary>The feed-forward sub-block: Linear(C, 4C) -> SiLU -> Linear(4C, C).</summary>
internal sealed class Mlp(int model, int hidden, Random random)
{
    private readonly float[] _up = CausalSelfAttention.Weights(random, model * hidden, 1f / MathF.Sqrt(model));
    private readonly float[] _down = CausalSelfAttention.Weights(random, hidden * model, 1f / MathF.Sqrt(hidden));
    private readonly float[] _upBias = new float[hidden];
    private readonly float[] _downBias = new float[model];

    public void Forward(ReadOnlySpan<float> x, Span<float> output)
    {
        var activations = new float[x.Length / model * hidden];
        Tensors.Linear(x, activations, _up, _upBias, model, hidden);
        for (int i = 0; i < activations.Length; i++) activations[i] /= 1f + MathF.Exp(-activations[i]);   // SiLU: a * sigmoid(a)
        Tensors.Linear(activations, output, _down, _downBias, hidden, model);
    }
}
