// The annotated project's program: each of the 20 layers is constructed and runs one Forward, so every layer has
// a use site (as in a real model). It also checks that the layers run: it prints one checksum.
using BuildCostApp;
using NormKernels;

const int n = 2, c = 16, h = 4, w = 4, d = 2, t = 8;

float[] x4 = Fill(n * c * h * w), y4 = new float[x4.Length];
double[] x4d = FillD(n * c * h * w), y4d = new double[x4d.Length];
float[] x2 = Fill(n * c), y2 = new float[x2.Length];
float[] x5 = Fill(n * c * d * h * w), y5 = new float[x5.Length];
float[] x3 = Fill(n * t * c), y3 = new float[x3.Length];
double[] x3d = FillD(n * t * c), y3d = new double[x3d.Length];
double sum = 0;

new BnNchwF(c).Forward(x4, y4, n, c, h, w); sum += y4[1];
new BnNchwD(c).Forward(x4d, y4d, n, c, h, w); sum += y4d[1];
new BnNhwcF(c).Forward(x4, y4, n, h, w, c); sum += y4[1];
new BnNhwcD(c).Forward(x4d, y4d, n, h, w, c); sum += y4d[1];
new BnNcF(c).Forward(x2, y2, n, c); sum += y2[1];
new BnNcdhwF(c).Forward(x5, y5, n, c, d, h, w); sum += y5[1];

new LnNtcF(c).Forward(x3, y3, n, t, c); sum += y3[1];
new LnNtcD(c).Forward(x3d, y3d, n, t, c); sum += y3d[1];
new LnChwF(c * h * w).Forward(x4, y4, n, c, h, w); sum += y4[1];
new LnNhwcF(c).Forward(x4, y4, n, h, w, c); sum += y4[1];

new GnNhwcF(c).Forward(x4, y4, n, h, w, c); sum += y4[1];
new GnNchwF(c).Forward(x4, y4, n, c, h, w); sum += y4[1];
new GnNchwD(c).Forward(x4d, y4d, n, c, h, w); sum += y4d[1];

new InNchwF(c).Forward(x4, y4, n, c, h, w); sum += y4[1];
new InNhwcF(c).Forward(x4, y4, n, h, w, c); sum += y4[1];

new RmsNtcF(c).Forward(x3, y3, n, t, c); sum += y3[1];
new RmsNtcD(c).Forward(x3d, y3d, n, t, c); sum += y3d[1];

new LrnNchwF().Forward(x4, y4, n, c, h, w); sum += y4[1];
new LrnNhwcF().Forward(x4, y4, n, h, w, c); sum += y4[1];
new LrnNchwD().Forward(x4d, y4d, n, c, h, w); sum += y4d[1];

Console.WriteLine($"20 layers ran, checksum {sum:R}");

static float[] Fill(int length)
{
    var a = new float[length];
    for (int i = 0; i < a.Length; i++) a[i] = i % 7 - 3 + 0.25f * (i % 3);
    return a;
}

static double[] FillD(int length)
{
    var a = new double[length];
    for (int i = 0; i < a.Length; i++) a[i] = i % 7 - 3 + 0.25 * (i % 3);
    return a;
}
