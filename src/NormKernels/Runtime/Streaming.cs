using System;
using System.ComponentModel;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using System.Threading;

namespace NormKernels
{
    /// <summary>
    /// When the generated kernels write their output with non-temporal (streaming) stores, which go around the caches
    /// instead of reading each output line in first. They pay off where the output would not stay in cache anyway: a
    /// call whose input and output together exceed the last-level cache. Below that the buffers stay in the cache from
    /// call to call and a store around it is slower (AMD EPYC Zen 4, L3 32 MB, 2026-11-30/12-01: a streaming pass over
    /// the bench's S3 tensors, 8 MB in and 8 MB out, took 531 us against 304 us for a normal copy; over S1, 25.7 MB in
    /// and out, 1.24 ms against 1.87 ms). Results are the same bits either way.
    /// </summary>
    public static class Streaming
    {
        private static long s_thresholdBytes = DetectLastLevelCacheBytes();

        private static bool s_adaptive = Environment.GetEnvironmentVariable("NORMKERNELS_STREAMING_BYTES") is null;

        /// <summary>Set on the calling thread for the length of a call in the adaptive band that its layer's tuner sent down the
        /// streamed path (<see cref="Adaptive"/>).</summary>
        [ThreadStatic]
        private static bool t_bandStreams;

        /// <summary>Set on the calling thread for the length of a call past the threshold that its layer's order tuner sent down
        /// its second order (<see cref="Adaptive"/>, <see cref="SecondOrder"/>).</summary>
        [ThreadStatic]
        private static bool t_secondOrder;

        /// <summary>The last-level cache size used when the operating system does not report one: 32 MiB.</summary>
        public const long DefaultThresholdBytes = 32L << 20;

        /// <summary>Calls whose input and output bytes together exceed this write their output with streaming stores
        /// (default: the environment variable <c>NORMKERNELS_STREAMING_BYTES</c> when set, else the last-level cache size
        /// Linux reports for CPU 0, else <see cref="DefaultThresholdBytes"/>;
        /// <see cref="long.MaxValue"/> turns streaming stores off, 0 uses them for every call). The same bytes decide whether
        /// a forward's statistics passes read from memory and hint their lines ahead into L1, in place too (results are
        /// the same bits either way).</summary>
        public static long ThresholdBytes
        {
            get => s_thresholdBytes;
            set
            {
                if (value < 0)
                    throw new ArgumentOutOfRangeException(nameof(value), value, "ThresholdBytes must not be negative.");
                if (Interlocked.Exchange(ref s_thresholdBytes, value) != value) Interlocked.Increment(ref s_generation);
            }
        }

        /// <summary>
        /// Whether a layer chooses for itself, by timing its own calls, how to run calls in the band between three eighths of
        /// <see cref="ThresholdBytes"/> and the threshold (input and output bytes together, and more than
        /// <see cref="AdaptiveMinimumBytes"/>): the cached path (normal stores, statistics passes without hints) or the
        /// streamed one (streaming stores, hinted statistics passes, the pipelined orders), as calls past the threshold always
        /// run. Default true (false when <c>NORMKERNELS_STREAMING_BYTES</c> is set: a fixed rule asked for). Whether a call
        /// of that size keeps its data in the last-level cache from one call to the next depends on what else runs on the
        /// machine, not on the call: on a 2-vCPU guest of an AMD EPYC (Zen 3) sharing its 32 MB L3, InstanceNorm NCHW
        /// 2x256x64x64 ran in 0.47-0.53 of its cached time streamed, GroupNorm NCHW 0.49, BatchNorm training NCHW 0.62,
        /// while BatchNorm training NHWC took 1.14x and GroupNorm backward 32x512x7x7 1.37x (NCHW) and 1.64x (NHWC); on quiet hosts the
        /// cached path led at that size (bench/HISTORY.md). Each layer instance times its forward and its backward
        /// separately, per call size, thread count and mode (see <c>Runtime.StreamingTuner</c>): after one untimed call,
        /// calls each way alternating, two when one path's fastest is under 0.7 of the other's, else three, streamed only
        /// when its fastest call beats the cached one's by 5%; then the other way again for two calls after 16 calls, and
        /// after twice as many each time the choice holds (up to 1,024). Another instance of the same layer class that meets
        /// the same size, thread count and mode (under the same settings) starts on the path chosen last, without a trial.
        /// Past the threshold the same kind of tuner chooses, for a layer's training forward and its backward, the order of
        /// interleaved blocks (BatchNorm NCHW's channels): in memory order, or in groups of a few channels (see
        /// <see cref="LastCallMemoryOrder"/>; on the Zen 5 guest memory order was faster, on the Zen 3 guest the groups);
        /// and for the forward of a LayerNorm or RMSNorm over the last dim (training or not), its rows one after another or
        /// pipelined, each row's apply beside the next row's sums (see <see cref="LastCallPipelined"/>; on the Zen 5 guest
        /// row after row was faster, on the Zen 3 guest pipelined). The results are the same bits either way.
        /// </summary>
        public static bool Adaptive
        {
            get => s_adaptive;
            set
            {
                if (Interlocked.Exchange(ref s_adaptive, value) != value) Interlocked.Increment(ref s_generation);
            }
        }

        private static int s_generation;

        /// <summary>Counts the changes of <see cref="ThresholdBytes"/> and <see cref="Adaptive"/> (a set to the same value is
        /// none): a choice one layer's tuner
        /// shared with the other instances of its class (<c>Runtime.StreamingChoice</c>) is taken up only under the settings it
        /// was made under.</summary>
        internal static int Generation => Volatile.Read(ref s_generation);

        /// <summary>Calls of at most this many bytes (input and output together) are never in the adaptive band
        /// (<see cref="Adaptive"/>): 4 MiB, so a threshold set low (tests, small caches) leaves small calls to the fixed rule.</summary>
        public const long AdaptiveMinimumBytes = 4L << 20;

        /// <summary>Whether a call of <paramref name="bytes"/> (input and output together) is in the adaptive band.</summary>
        internal static bool InBand(long bytes)
        {
            long threshold = s_thresholdBytes;
            return s_adaptive && bytes > AdaptiveMinimumBytes && bytes > BandFloor(threshold) && bytes <= threshold;
        }

        /// <summary>
        /// The adaptive band's lower end: three eighths of <paramref name="threshold"/> (12 MiB under a 32 MB last-level cache).
        /// Until the sixty-fourth session a quarter: that took in the backward of 32x512x7x7 (three tensors, 9.6 MB), whose
        /// streamed path took 1.28-1.64x the cached one's time in three of four kernels (GroupNorm(32) NCHW and NHWC,
        /// BatchNorm NHWC; BatchNorm NCHW 0.94) on the Zen 3 guest, so there the trial could only lose, and on a disturbed host
        /// it once kept the streamed path (the bench's 1-thread GroupNorm(32) backward NCHW S2 at 4.0x the limit, PyTorch
        /// ahead). The forwards of 2x256x64x64 (16.8 MB), which gain most from streaming there, stay in.
        /// </summary>
        private static long BandFloor(long threshold) => threshold / 8 * 3;

        /// <summary>Whether a call of <paramref name="bytes"/> (input and output together) is past the threshold with
        /// <see cref="Adaptive"/> on: its layer's order tuner chooses how it runs interleaved blocks.</summary>
        internal static bool PastBand(long bytes) => s_adaptive && bytes > s_thresholdBytes;

        /// <summary>Marks the calling thread's next call (until <see cref="EndTuned"/>) as sent by its layer's tuner down the
        /// second path: in the adaptive band (<paramref name="band"/>) the streamed one, past the threshold the second order
        /// (<see cref="SecondOrder"/>).</summary>
        internal static void BeginTuned(bool band, bool second)
        {
            t_bandStreams = band && second;
            t_secondOrder = !band && second;
        }

        /// <summary>Ends what <see cref="BeginTuned"/> started (in a finally block).</summary>
        internal static void EndTuned()
        {
            t_bandStreams = false;
            t_secondOrder = false;
        }

        /// <summary>Whether the calling thread's call was sent down its second order (<see cref="BeginTuned"/>): BatchNorm NCHW's
        /// interleaved channels in groups of a few instead of memory order; the rows of a LayerNorm or RMSNorm forward from
        /// memory pipelined (each row's apply beside the next row's sums) instead of row after row.</summary>
        internal static bool SecondOrder => t_secondOrder;

        /// <summary>Runs (contiguous output ranges: a row, or channels-last rows taken together) shorter than this many bytes
        /// are never streamed, in a call that streams: each run peels its start to a 64-byte boundary and
        /// stores its last partial line normally, and lines stored normally among streamed ones cost more than streaming
        /// saves (GroupNorm NHWC S1, runs of 64 floats: 4.7-9.4 ms streamed, depending on the array's alignment, against
        /// 3.7 ms with normal stores; LayerNorm rows of 768 floats: 1.35-1.6x the limit streamed, 1.65-1.8x not).</summary>
        public const int MinimumRunBytes = 2048;

        /// <summary>Whether the last kernel call on this thread (a forward, or a backward's dx) streamed its output: its bytes
        /// exceeded <see cref="ThresholdBytes"/>, on a vector path, with an output that does not overlap its input (in place,
        /// the output's lines are in the cache already, read as input). Its runs shorter than <see cref="MinimumRunBytes"/>
        /// still store normally. For tests and diagnostics.</summary>
        public static bool LastCallStreamed => Runtime.LastCall.Current.Streamed;

        /// <summary>Whether the last kernel call on this thread ran pipelined, each streamed apply side by side with the next
        /// statistics pass: rows without gamma along them (InstanceNorm NCHW's planes; the rows the calling thread ran), rows
        /// with gamma and beta along them where the layer's order tuner chose it (LayerNorm and RMSNorm over the last dim from
        /// memory, <see cref="Adaptive"/>), or
        /// blocks (InstanceNorm and GroupNorm NHWC, rows of whole vectors up to 1,024 elements: each sample's apply beside the
        /// next sample's column sums; on the 512-bit path, GroupNorm NCHW's groups and LayerNorm over C,H,W's samples, without
        /// a fused activation). For tests and diagnostics.</summary>
        public static bool LastCallPipelined => Runtime.LastCall.Current.Pipelined;

        /// <summary>Whether the last kernel call on this thread ran its interleaved blocks (BatchNorm NCHW's channels, forward
        /// and backward) in memory order, a call that streams: each worker's share of the channels as one group, the
        /// statistics pass and then the apply each one sequential stream through every row of the tensor. A layer's calls
        /// past the threshold (with <see cref="Adaptive"/> on) run so or in groups of a few channels, as its order tuner
        /// chose from the times of its own calls; static kernels always in memory order. For tests and diagnostics.</summary>
        public static bool LastCallMemoryOrder => Runtime.LastCall.Current.MemoryOrder;

        /// <summary>Whether the last kernel call on this thread applied rows two at a time, streamed: a backward (LayerNorm and
        /// RMSNorm over the last dim, rows a whole number of 64-byte lines and at least 8 KB long, on the 512-bit path), or a
        /// forward of such rows with gamma and beta along them, at least 16 KB long, on the calling thread. For tests and
        /// diagnostics.</summary>
        public static bool LastCallPairedRows => Runtime.LastCall.Current.Paired;

        /// <summary>Whether the last kernel call on this thread was a streamed backward that applied its rows four at a time
        /// (LayerNorm and RMSNorm over the last dim, rows a whole number of 64-byte lines and at least 12 KB long, on the
        /// 512-bit path; <see cref="LastCallPairedRows"/> is set too). For tests and diagnostics.</summary>
        public static bool LastCallQuadRows => Runtime.LastCall.Current.Quads;

        /// <summary>Whether the last kernel call on this thread was a backward with a sum's gradient (the residual added before
        /// the norm) that added it to dx inside its apply, block by block, rather than in a pass of its own after it (LayerNorm
        /// and RMSNorm over the last dims with their weight). For tests and diagnostics.</summary>
        public static bool LastCallAddedInApply => Runtime.LastCall.Current.AddedInApply;

        /// <summary>Whether a call that reads <paramref name="inputBytes"/> and writes <paramref name="outputBytes"/> streams its
        /// output (only where <paramref name="possible"/>: a vector path, and an output that does not overlap the input); remembered as <see cref="LastCallStreamed"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static bool Use(long inputBytes, long outputBytes, bool possible)
        {
            return Runtime.LastCall.NotStreamed().Streamed = possible && Exceeds(inputBytes, outputBytes);
        }

        /// <summary>Whether a call's tensors together exceed <see cref="ThresholdBytes"/>: too large to stay in cache from one
        /// call to the next, so its statistics passes read from memory (they then hint their lines ahead, in place or not;
        /// see <c>Runtime.FromMemory</c>), and its output streams where it can (<see cref="Use"/>).</summary>
        internal static bool Exceeds(long inputBytes, long outputBytes)
        {
            long bytes = inputBytes + outputBytes, threshold = s_thresholdBytes;
            // In a call its tuner sent down the streamed path, the sizes of the band count as past the threshold.
            return bytes > threshold || (t_bandStreams && bytes > BandFloor(threshold));
        }

        /// <summary>Orders the streaming stores a thread made before everything it does next (x86 <c>sfence</c>); every
        /// worker of a parallel loop ends with this (once per worker, not per unit: a fence waits for the lines in flight).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Fence()
        {
            if (Sse.IsSupported) Sse.StoreFence();
        }

        /// <summary>The largest cache Linux reports for CPU 0 (<c>/sys/devices/system/cpu/cpu0/cache/index*/size</c>).</summary>
        private static long DetectLastLevelCacheBytes()
        {
            if (long.TryParse(Environment.GetEnvironmentVariable("NORMKERNELS_STREAMING_BYTES"), out long configured) && configured >= 0) return configured;
            try
            {
                const string root = "/sys/devices/system/cpu/cpu0/cache";
                if (!OperatingSystem.IsLinux() || !Directory.Exists(root)) return DefaultThresholdBytes;
                long largest = 0;
                foreach (string index in Directory.GetDirectories(root, "index*"))
                {
                    string file = Path.Combine(index, "size");
                    if (!File.Exists(file)) continue;
                    string text = File.ReadAllText(file).Trim();
                    long scale = 1;
                    if (text.EndsWith('K')) { scale = 1L << 10; text = text[..^1]; }
                    else if (text.EndsWith('M')) { scale = 1L << 20; text = text[..^1]; }
                    if (long.TryParse(text, out long size)) largest = Math.Max(largest, size * scale);
                }
                return largest > 0 ? largest : DefaultThresholdBytes;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return DefaultThresholdBytes;
            }
        }
    }
}

namespace NormKernels.Runtime
{
    /// <summary>How an apply run stores its output: through the caches or around them.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public interface IStores
    {
        /// <summary>True for streaming (non-temporal) stores after peeling the output to a 64-byte boundary.</summary>
        static abstract bool Streaming { get; }
    }

    /// <summary>Normal stores.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct CachedStores : IStores
    {
        /// <inheritdoc/>
        public static bool Streaming => false;
    }

    /// <summary>Streaming stores (see <see cref="NormKernels.Streaming"/>).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct StreamedStores : IStores
    {
        /// <inheritdoc/>
        public static bool Streaming => true;
    }

    /// <summary>Streaming stores in a pass whose inputs come from memory (a whole tensor past the last-level cache, read
    /// again after its reduction): runs that read their rows out of memory order hint the lines ahead
    /// (<see cref="GradientRuns{TS, TV, T}"/>' held tiles).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct StreamedFromMemoryStores : IStores
    {
        /// <inheritdoc/>
        public static bool Streaming => true;
    }
}
