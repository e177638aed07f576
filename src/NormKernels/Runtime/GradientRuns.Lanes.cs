using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormKernels.Runtime;

public static partial class GradientRuns<TS, TV, T>
{
    /// <summary>
    /// Whether <see cref="LaneReduceRuns{TX}"/> takes runs of <paramref name="len"/> elements: float runs of at least a vector
    /// and fewer than <see cref="Runs{TS, TV, T}.LaneSumLimit"/> elements on the 512-bit or the 256-bit x86 path (the
    /// forward's <c>Runs.LaneRows</c> and <c>LaneSumRows</c> lengths).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool LaneReduces(nint len) =>
        typeof(T) == typeof(float) && len >= TS.Count && len <= Runs<TS, TV, T>.LaneSumLimit
        && ((typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported) || (typeof(TV) == typeof(Vector256<float>) && Avx2.IsSupported));

    /// <summary>
    /// <see cref="Reduce{TX, TH}"/>'s sums over <paramref name="runs"/> consecutive runs of <paramref name="len"/>
    /// elements, run i at i * len with its own dz and its sums at i of <paramref name="u"/>, <paramref name="v"/>,
    /// <paramref name="z"/> (stored, not added: run i's sums alone), every run with the same m (a block of one
    /// statistic: GroupNorm NCHW's channels of a group on 7x7 planes, a fold index each). One call for the block's runs
    /// instead of one each, and the horizontal sums of as many runs as a double vector has lanes folded together. A
    /// run's lanes sum dy - dz and (dy - dz) * (x + m) in float as <see cref="Reduce{TX, TH}"/>'s short runs do (one
    /// accumulator each, the overlapped last vector masked; runs one element past whole vectors read from element 1,
    /// see <see cref="Head{TX, TH}"/>); X = sum (x + m) sums t = x + m (the factor the product uses) in float lanes too,
    /// widened exactly once per run (<see cref="Widened"/>). A lane adds at most 16 of a run's values (runs up to 256
    /// floats; on AVX2 up to 32, for runs over 128 floats, and there the bound below halves to |mf| / 64), so X is
    /// exact while every |x - mf| of the run is below |mf| / 32: the t are then exact multiples of the smallest ulp
    /// among x and mf and their partial sums fit in 24 bits (offset data, 1e4 + N(0, 1) or -3e3 + 0.01 N(0, 1), where
    /// X's exactness matters); on data centred near mf they round as the other lanes do (GroupNorm(32) backward NCHW
    /// 32x512x7x7: 212 -> 199 us against x widened lane by lane, a conversion in two halves and two double additions a
    /// vector). Transpose-and-add trees turn a group's vectors into one vector of its runs' sums: those of dy - dz and
    /// (dy - dz) * (x + m) in float to the end (the forward row tree's folds, <see cref="Runs{TS, TV, T}.Fold"/>, then
    /// <see cref="FloatRuns"/> on AVX-512: a run's sixteen lanes in four float additions, as its lanes were summed,
    /// widened once for the group; GroupNorm(32) backward NCHW 32x512x7x7 183 -> 175 us against halving in float and
    /// folding in double; on AVX2 <see cref="FourFloatRuns"/>, eight lanes in three), X's in double
    /// (<see cref="FoldDoubles"/>, exact). A run's sums are the same operations in the same order whatever runs share
    /// its group. Runs past the last whole group go through <see cref="Reduce{TX, TH}"/>. Each run's shift, its first
    /// dy, is taken as the run is read and written to <paramref name="dz"/> for the coefficients and dx (in place of a
    /// pass of its own before the call: GroupNorm(32) backward NCHW 32x512x7x7 203 -> 190 us, AVX2 even). For
    /// <see cref="LaneReduces"/> lengths.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void LaneReduceRuns<TX>(ref T x, ref T dy, nint runs, nint len, T m, ref T dz, ref double u, ref double v, ref double z)
        where TX : struct, IOperand
    {
        // Runs one element past whole vectors (7x7 planes: 49 floats): whole vectors from element 1, and for X the group's
        // first elements' x + m in lane 0 of each run's X lanes (see Head), in place of an overlapped last vector a run.
        if (len % TS.Count == 1) LaneReduceGroups<TX, FromSecond>(ref x, ref dy, runs, len, m, ref dz, ref u, ref v, ref z);
        else LaneReduceGroups<TX, FromFirst>(ref x, ref dy, runs, len, m, ref dz, ref u, ref v, ref z);
    }

    /// <summary>Where a run's vectors start (<see cref="LaneReduceGroups{TX, TH}"/>): from element 1 (<see cref="FromSecond"/>,
    /// runs one element past whole vectors, see <see cref="Head{TX, TH}"/>) or from 0. A type argument rather than a flag:
    /// as a flag, the start (0 or 1) was a value the JIT kept on the stack and loaded again before each group's loads,
    /// feeding their addresses, just after the previous group's stores of values made from loads still on their way from
    /// L3 (a model of such a loop lost its loads' overlap that way: the README's sixty-first section). As a type it is a
    /// constant in the code. GroupNorm(32) backward NCHW 32x512x7x7, AMD Zen 5, 1 thread, one process per build
    /// alternating: the start written as 1 (a first probe), seven pairs, 180-215 -> 173-184 us (medians 191 -> 179); this
    /// form, four pairs, 184-242 -> 178-184; AVX2 even (220-230 against 224-229). Twenty more pairs an hour later, on a
    /// noisier host (the same build 172-268 us from process to process): the pairs' new/old ratios 0.70-1.13, median
    /// 0.99-1.00. So a few percent at most, not resolved on this guest; kept because each instantiation compiles one run
    /// shape (the AVX2 listing 310 lines against 451) with the same bits.</summary>
    private interface IRunStart;

    /// <summary>Runs read from element 1.</summary>
    private readonly struct FromSecond : IRunStart;

    /// <summary>Runs read from element 0, an overlapped last vector masked.</summary>
    private readonly struct FromFirst : IRunStart;

    /// <summary><see cref="LaneReduceRuns{TX}"/>' groups of runs, with the runs' start as <typeparamref name="TH"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LaneReduceGroups<TX, TH>(ref T x, ref T dy, nint runs, nint len, T m, ref T dz, ref double u, ref double v, ref double z)
        where TX : struct, IOperand where TH : struct, IRunStart
    {
        int w = TS.Count;
        TV tailMask = TS.LastLanes(len % w == 0 ? w : len % w);
        // The runs' m, broadcast once.
        TV k = TS.Splat(m);
        nint r = 0;
        // The path as a type test, folded as the method is imported: a test on TS.Count left the dead path's inlines to spend
        // the JIT's inlining budget, and the 256-bit tree's folds stayed calls (GroupNorm backward NCHW 32x512x7x7: 662 us
        // against 388).
        if (typeof(TV) == typeof(Vector512<float>))
            for (; r + 8 <= runs; r += 8)
            {
                FourRuns<TX, TH>(ref x, ref dy, r, len, k, ref dz, tailMask, out TV s0, out TV q0, out TV x0);
                FourRuns<TX, TH>(ref x, ref dy, r + 4, len, k, ref dz, tailMask, out TV s1, out TV q1, out TV x1);
                TV s = FloatRuns(s0, s1), q = FloatRuns(q0, q1), xs = TX.Lanes ? Order(FoldDoubles(x0, x1, 2)) : default;
                StoreLanes(s, ref Unsafe.Add(ref u, r));
                StoreLanes(q, ref Unsafe.Add(ref v, r));
                if (TX.Lanes) StoreLanes(xs, ref Unsafe.Add(ref z, r));
            }
        else
            for (; r + 4 <= runs; r += 4)
            {
                FourRuns<TX, TH>(ref x, ref dy, r, len, k, ref dz, tailMask, out TV s4, out TV q4, out TV x4);
                TV xs = TX.Lanes ? Order(x4) : default;
                StoreLanes(s4, ref Unsafe.Add(ref u, r));
                StoreLanes(q4, ref Unsafe.Add(ref v, r));
                if (TX.Lanes) StoreLanes(xs, ref Unsafe.Add(ref z, r));
            }
        for (; r < runs; r++)
        {
            Unsafe.Add(ref u, r) = 0d;
            Unsafe.Add(ref v, r) = 0d;
            if (TX.Lanes) Unsafe.Add(ref z, r) = 0d;
            Unsafe.Add(ref dz, r) = Unsafe.Add(ref dy, r * len);
            Reduce<TX, Splat>(ref Unsafe.Add(ref x, r * len), ref Unsafe.Add(ref dy, r * len), len, m, Unsafe.Add(ref dz, r),
                ref Unsafe.Add(ref u, r), ref Unsafe.Add(ref v, r), ref Unsafe.Add(ref z, r));
        }
    }

    /// <summary>
    /// <see cref="ShortRuns"/> for a block of one statistic: every run's m and Q are the first run's, so the flat range
    /// (<see cref="FlatShortRuns{TM}"/> with <see cref="Splat"/>) switches only P, R and dz where a vector crosses into the
    /// next run, on the 256-bit path too (GroupNorm(32) backward NCHW 32x512x7x7 250-257 -> 234-244 us against
    /// <see cref="ShortRuns"/>, AVX2 281-287 -> 269-276). The same expression per element, so the same bits; dx may be x or dy.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void SharedShortRuns(ref T x, ref T dy, ref T dx, nint runs, nint len, ref T m, ref T p, ref T q, ref T r, ref T dz)
    {
        if (!FlatShortRuns<Splat>(ref x, ref dy, ref dx, runs, len, ref m, 0, ref p, ref q, ref r, ref dz, 1))
            ShortRuns(ref x, ref dy, ref dx, runs, len, ref m, 1, ref p, ref q, ref r, ref dz, 1);
    }

    // The tree's first levels, written out so that each fold gets its level as a constant: four runs from r (two pairs,
    // then the pairs folded). 256-bit: the sums of dy - dz and the products in float lanes to the end, then four doubles in
    // run order (FourFloatRuns); X's in double lanes, one lane a run, run order 0, 2, 1, 3. 512-bit (see
    // FourRunsTogether): the sums of dy - dz and the products in float lanes, four a run, a run a 128-bit block in run
    // order; X's in double lanes, two a run, in run order by 128-bit block.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FourRuns<TX, TH>(ref T x, ref T dy, nint r, nint len, TV k, ref T dz, TV tailMask, out TV s, out TV q, out TV xs)
        where TX : struct, IOperand where TH : struct, IRunStart
    {
        if (typeof(TV) == typeof(Vector512<float>))
        {
            FourRunsTogether<TX, TH>(ref x, ref dy, r, len, k, ref dz, tailMask, out s, out q, out xs);
            return;
        }
        RunFloats<TX, TH>(ref x, ref dy, r, len, k, ref dz, tailMask, out TV s0, out TV q0, out TV x0);
        RunFloats<TX, TH>(ref x, ref dy, r + 1, len, k, ref dz, tailMask, out TV s1, out TV q1, out TV x1);
        RunFloats<TX, TH>(ref x, ref dy, r + 2, len, k, ref dz, tailMask, out TV s2, out TV q2, out TV x2);
        RunFloats<TX, TH>(ref x, ref dy, r + 3, len, k, ref dz, tailMask, out TV s3, out TV q3, out TV x3);
        s = FourFloatRuns(s0, s1, s2, s3);
        q = FourFloatRuns(q0, q1, q2, q3);
        xs = TX.Lanes ? FoldDoubles(FoldDoubles(x0, x1, 0), FoldDoubles(x2, x3, 0), 1) : default;
    }

    /// <summary>
    /// <see cref="FourRuns{TX, TH}"/> on the 512-bit path with the four runs' vectors side by side: vector i of each run, then
    /// vector i + 1 (sixteen accumulators, m and the runs' shifts in registers), then the four overlapped last vectors
    /// (or where <typeparamref name="TH"/> <see cref="FromSecond"/> whole vectors from element 1, see <see cref="Head{TX, TH}"/>); one loop
    /// step for four runs' vectors instead of one each. The sums of dy - dz and of the products leave as float lanes, four a
    /// run (<see cref="Runs{TS, TV, T}.Fold"/> levels 0 and 1: the caller finishes them with <see cref="FloatRuns"/>),
    /// X's as doubles (two lanes a run, run order by 128-bit block).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FourRunsTogether<TX, TH>(ref T x, ref T dy, nint r, nint len, TV k, ref T dz, TV tailMask,
        out TV s, out TV q, out TV xs) where TX : struct, IOperand where TH : struct, IRunStart
    {
        bool heads = typeof(TH) == typeof(FromSecond);
        int w = TS.Count;
        nint o0 = r * len, o1 = o0 + len, o2 = o1 + len, o3 = o2 + len;
        // Each run's shift, its first dy, taken as the run is read and written out for the coefficients and dx.
        T z0 = Unsafe.Add(ref dy, o0), z1 = Unsafe.Add(ref dy, o1), z2 = Unsafe.Add(ref dy, o2), z3 = Unsafe.Add(ref dy, o3);
        Unsafe.Add(ref dz, r) = z0;
        Unsafe.Add(ref dz, r + 1) = z1;
        Unsafe.Add(ref dz, r + 2) = z2;
        Unsafe.Add(ref dz, r + 3) = z3;
        TV d0 = TS.Splat(z0), d1 = TS.Splat(z1), d2 = TS.Splat(z2), d3 = TS.Splat(z3);
        TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero, q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
        // Runs one element past whole vectors: the vectors from element 1 (see Head).
        TV a0 = Head<TX, TH>(ref x, o0, k), a1 = Head<TX, TH>(ref x, o1, k), a2 = Head<TX, TH>(ref x, o2, k), a3 = Head<TX, TH>(ref x, o3, k);
        nint i = heads ? 1 : 0;
        for (; i + w <= len; i += w)
        {
            LaneStep<TX>(ref x, ref dy, o0 + i, k, d0, ref s0, ref q0, ref a0);
            LaneStep<TX>(ref x, ref dy, o1 + i, k, d1, ref s1, ref q1, ref a1);
            LaneStep<TX>(ref x, ref dy, o2 + i, k, d2, ref s2, ref q2, ref a2);
            LaneStep<TX>(ref x, ref dy, o3 + i, k, d3, ref s3, ref q3, ref a3);
        }
        if (i < len && !heads)
        {
            nint t = len - w;
            LaneStepMasked<TX>(ref x, ref dy, o0 + t, k, d0, tailMask, ref s0, ref q0, ref a0);
            LaneStepMasked<TX>(ref x, ref dy, o1 + t, k, d1, tailMask, ref s1, ref q1, ref a1);
            LaneStepMasked<TX>(ref x, ref dy, o2 + t, k, d2, tailMask, ref s2, ref q2, ref a2);
            LaneStepMasked<TX>(ref x, ref dy, o3 + t, k, d3, tailMask, ref s3, ref q3, ref a3);
        }
        s = Runs<TS, TV, T>.Fold(Runs<TS, TV, T>.Fold(s0, s1, 0), Runs<TS, TV, T>.Fold(s2, s3, 0), 1);
        q = Runs<TS, TV, T>.Fold(Runs<TS, TV, T>.Fold(q0, q1, 0), Runs<TS, TV, T>.Fold(q2, q3, 0), 1);
        xs = TX.Lanes ? FoldDoubles(FoldDoubles(Widened(a0), Widened(a1), 0), FoldDoubles(Widened(a2), Widened(a3), 0), 1) : default;
    }

    /// <summary>The float tree's last levels (the forward row tree's <see cref="Runs{TS, TV, T}.Fold"/>, levels 2 and 3): two
    /// vectors of four runs' sums, four lanes a run and a run a 128-bit block (runs 0-3 and 4-7), as one double lane a run
    /// in run order: run r ends in lane 4 r and run r + 4 in lane 4 r + 1, gathered into the lower half and widened.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV FloatRuns(TV lo, TV hi)
    {
        TV pairs = Runs<TS, TV, T>.Fold(lo, hi, 2);
        var e = Unsafe.BitCast<TV, Vector512<float>>(Runs<TS, TV, T>.Fold(pairs, pairs, 3));
        Vector256<float> runs = Avx512F.PermuteVar16x32(e, Vector512.Create(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0)).GetLower();
        return Unsafe.BitCast<Vector512<double>, TV>(Avx512F.ConvertToVector512Double(runs));
    }

    /// <summary>One full vector of a run: dy - dz, (dy - dz) * (x + m) and x + m into float lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LaneStep<TX>(ref T x, ref T dy, nint at, TV k, TV kd, ref TV s, ref TV q, ref TV xa) where TX : struct, IOperand =>
        LaneValues<TX>(TS.Load(ref x, at), TS.Load(ref dy, at), k, kd, ref s, ref q, ref xa);

    /// <summary><see cref="LaneStep{TX}"/> on x and dy already loaded (GradientRuns' rows read from dy's boundary).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LaneValues<TX>(TV xv, TV dv, TV k, TV kd, ref TV s, ref TV q, ref TV xa) where TX : struct, IOperand
    {
        TV t = TS.Add(xv, k);
        TV g = TS.Subtract(dv, kd);
        s = TS.Add(s, g);
        q = TS.MultiplyAdd(g, t, q);
        if (TX.Lanes) xa = TS.Add(xa, t);
    }

    /// <summary>A run's overlapped last vector: <see cref="LaneStep{TX}"/> with the lanes before <paramref name="mask"/>'s masked to 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LaneStepMasked<TX>(ref T x, ref T dy, nint at, TV k, TV kd, TV mask, ref TV s, ref TV q, ref TV xa) where TX : struct, IOperand =>
        LaneValuesMasked<TX>(TS.Load(ref x, at), TS.Load(ref dy, at), k, kd, mask, ref s, ref q, ref xa);

    /// <summary><see cref="LaneStepMasked{TX}"/> on x and dy already loaded (the wrapped vector of GradientRuns.WrapStrip).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LaneValuesMasked<TX>(TV xv, TV dv, TV k, TV kd, TV mask, ref TV s, ref TV q, ref TV xa) where TX : struct, IOperand
    {
        TV t = TS.And(TS.Add(xv, k), mask);
        TV g = TS.And(TS.Subtract(dv, kd), mask);
        s = TS.Add(s, g);
        q = TS.MultiplyAdd(g, t, q);
        if (TX.Lanes) xa = TS.Add(xa, t);
    }

    /// <summary>
    /// The start of a run's X lanes: for a run one element past whole vectors (<typeparamref name="TH"/> <see cref="FromSecond"/>, whose vectors are
    /// read from element 1) its element 0's x + m in lane 0 (made in float as the lanes make theirs, then summed in that lane
    /// with the run's other t), else 0. A run's first dy is its shift dz, so dy - dz and (dy - dz) * (x + m) are 0 at
    /// element 0 and the other two sums need nothing from it. In place of the runs' last elements gathered, eight runs at a
    /// time (x, dy and the runs' dz: three gathers and the float steps of both products), which had taken the place of an
    /// overlapped last vector a run (GroupNorm(32) backward NCHW 32x512x7x7 231-243 -> 224-237 us, LayerNorm over C,H,W S2
    /// 210 -> 204). AMD Zen 5, 1 thread, one process per build alternating (ten pairs, 41 rounds each): GroupNorm(32)
    /// backward NCHW 32x512x7x7 medians 164 -> 157 us (AVX2 six pairs 202 -> 188-198), LayerNorm over C,H,W NCHW S2 165.5 -> 160.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Head<TX, TH>(ref T x, nint at, TV k) where TX : struct, IOperand where TH : struct, IRunStart
    {
        if (typeof(TH) != typeof(FromSecond) || !TX.Lanes) return TS.Zero;
        float xh = Unsafe.As<T, float>(ref Unsafe.Add(ref x, at));
        return typeof(TV) == typeof(Vector512<float>)
            ? Unsafe.BitCast<Vector512<float>, TV>(Vector512.CreateScalar(xh + Unsafe.BitCast<TV, Vector512<float>>(k).ToScalar()))
            : Unsafe.BitCast<Vector256<float>, TV>(Vector256.CreateScalar(xh + Unsafe.BitCast<TV, Vector256<float>>(k).ToScalar()));
    }

    /// <summary>
    /// The 256-bit path's sums of four runs' float lanes (<see cref="RunFloats{TX, TH}"/>) as four doubles in run order: the
    /// forward row tree's folds (<see cref="Runs{TS, TV, T}.Fold"/>, levels 0 to 2) in float, so each run's eight lanes go
    /// in three float additions, ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) whatever runs share the call, then
    /// widened once, as the 512-bit path's <see cref="FloatRuns"/>. It replaced each run's lanes halved in float, widened
    /// and folded in double (twice the conversions and double additions): GroupNorm(32) backward NCHW 32x512x7x7 on the
    /// AVX2 path, AMD Zen 5, 1 thread, one process per build alternating, 193-201 -> 179-193 us (the new build first:
    /// 192-207 -> 185-191); the sums alone over the call's 1,024 blocks 100 -> 94 us (83.5 from L1, against 91).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV FourFloatRuns(TV a, TV b, TV c, TV d)
    {
        TV t = Runs<TS, TV, T>.Fold(Runs<TS, TV, T>.Fold(a, b, 0), Runs<TS, TV, T>.Fold(c, d, 0), 1);
        var f = Unsafe.BitCast<TV, Vector256<float>>(Runs<TS, TV, T>.Fold(t, t, 2));
        Vector128<float> runs = Avx2.PermuteVar8x32(f, Vector256.Create(0, 4, 1, 5, 0, 4, 1, 5)).GetLower();
        return Unsafe.BitCast<Vector256<double>, TV>(Avx.ConvertToVector256Double(runs));
    }

    /// <summary>A vector of float lane sums as half as many doubles, exactly: both halves widened, then added in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Widened(TV v)
    {
        if (typeof(TV) == typeof(Vector512<float>))
        {
            var f = Unsafe.BitCast<TV, Vector512<float>>(v);
            return Unsafe.BitCast<Vector512<double>, TV>(Vector512.WidenLower(f) + Vector512.WidenUpper(f));
        }
        var g = Unsafe.BitCast<TV, Vector256<float>>(v);
        return Unsafe.BitCast<Vector256<double>, TV>(Vector256.WidenLower(g) + Vector256.WidenUpper(g));
    }

    /// <summary>Run <paramref name="r"/>'s sums: dy - dz and the products as float lanes, X's lanes <see cref="Widened"/> to
    /// doubles; from element 1 where <typeparamref name="TH"/> <see cref="FromSecond"/> (<see cref="Head{TX, TH}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RunFloats<TX, TH>(ref T x, ref T dy, nint r, nint len, TV k, ref T dz, TV tailMask, out TV s, out TV q, out TV xs)
        where TX : struct, IOperand where TH : struct, IRunStart
    {
        bool heads = typeof(TH) == typeof(FromSecond);
        int w = TS.Count;
        ref T xr = ref Unsafe.Add(ref x, r * len), dyr = ref Unsafe.Add(ref dy, r * len);
        T zr = dyr;
        Unsafe.Add(ref dz, r) = zr;
        TV kd = TS.Splat(zr);
        TV vs = TS.Zero, vq = TS.Zero, xa = Head<TX, TH>(ref xr, 0, k);
        nint i = heads ? 1 : 0;
        for (; i + w <= len; i += w)
            LaneStep<TX>(ref xr, ref dyr, i, k, kd, ref vs, ref vq, ref xa);
        if (i < len && !heads)
            LaneStepMasked<TX>(ref xr, ref dyr, len - w, k, kd, tailMask, ref vs, ref vq, ref xa);
        s = vs;
        q = vq;
        xs = TX.Lanes ? Widened(xa) : default;
    }

    /// <summary>
    /// One level of the tree over vectors of doubles: <paramref name="a"/> and <paramref name="b"/> each hold their runs'
    /// partial sums in blocks of 2 x (lanes of the level); the result holds both vectors' runs, each block the sum of its
    /// two halves. 8 lanes: 256-bit halves, then 128-bit quarters, then the two lanes of each 128-bit block; 4 lanes:
    /// 128-bit halves, then the two lanes of each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV FoldDoubles(TV a, TV b, int level)
    {
        if (typeof(TV) == typeof(Vector512<float>))
        {
            var c = Unsafe.BitCast<TV, Vector512<double>>(a);
            var d = Unsafe.BitCast<TV, Vector512<double>>(b);
            Vector512<double> e = level switch
            {
                0 => Avx512F.Shuffle4x128(c, d, 0x44) + Avx512F.Shuffle4x128(c, d, 0xEE),
                1 => Avx512F.Shuffle4x128(c, d, 0x88) + Avx512F.Shuffle4x128(c, d, 0xDD),
                _ => Avx512F.UnpackLow(c, d) + Avx512F.UnpackHigh(c, d),
            };
            return Unsafe.BitCast<Vector512<double>, TV>(e);
        }
        else
        {
            var c = Unsafe.BitCast<TV, Vector256<double>>(a);
            var d = Unsafe.BitCast<TV, Vector256<double>>(b);
            Vector256<double> e = level switch
            {
                0 => Avx.Permute2x128(c, d, 0x20) + Avx.Permute2x128(c, d, 0x31),
                _ => Avx.UnpackLow(c, d) + Avx.UnpackHigh(c, d),
            };
            return Unsafe.BitCast<Vector256<double>, TV>(e);
        }
    }

    /// <summary>The tree's last vector in run order: 8 lanes leave run r in lane 2 (r mod 4) + r / 4, 4 lanes in lane
    /// 2 (r mod 2) + r / 2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Order(TV v) =>
        typeof(TV) == typeof(Vector512<float>)
            ? Unsafe.BitCast<Vector512<double>, TV>(Avx512F.PermuteVar8x64(Unsafe.BitCast<TV, Vector512<double>>(v), Vector512.Create(0L, 2, 4, 6, 1, 3, 5, 7)))
            : Unsafe.BitCast<Vector256<double>, TV>(Avx2.Permute4x64(Unsafe.BitCast<TV, Vector256<double>>(v), 0b11_01_10_00));

    /// <summary>The run sums of <see cref="Order"/> stored at <paramref name="d"/>, one double a run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreLanes(TV v, ref double d)
    {
        if (typeof(TV) == typeof(Vector512<float>))
            Unsafe.BitCast<TV, Vector512<double>>(v).StoreUnsafe(ref d);
        else
            Unsafe.BitCast<TV, Vector256<double>>(v).StoreUnsafe(ref d);
    }
}
