using System;
using System.ComponentModel;
using System.Diagnostics;

namespace NormKernels.Runtime;

/// <summary>
/// One layer direction's choice between the cached and the streamed path for calls in the adaptive band
/// (<see cref="Streaming.Adaptive"/>), made from the times of its own calls. For a call key (bytes, worker count, mode):
/// <see cref="WarmCalls"/> call on the cached path untimed (the first call of each path also compiles it), then up to
/// <see cref="TrialCalls"/> calls each way alternating, timed, cached first; the streamed path is kept when its fastest call
/// took less than <see cref="Margin"/> of the cached path's fastest. When after <see cref="EarlyCalls"/> calls each way one
/// path's fastest took less than <see cref="EarlyMargin"/> of the other's, the trial stops there with that path: the
/// third pair only decides close calls, and on a clear one it was a call on the slow path among the first ten. From then
/// on the chosen path, its fastest call since the last probe remembered; after <see cref="FirstPeriod"/> calls,
/// <see cref="ProbeCalls"/> calls the other way: it takes over when its fastest beats that by the same margin (the period
/// back to <see cref="FirstPeriod"/>), else the period doubles, up to <see cref="LongestPeriod"/>.
/// <para>With a shared <see cref="StreamingChoice"/> (the layer class's, one per direction), every choice a trial or a
/// probe makes is published there, and a tuner that meets a new key takes up a published choice for the same key (bytes,
/// workers, mode, and the same <see cref="Streaming"/> settings) without a trial: from its first call on that path, the
/// first probe after <see cref="FirstPeriod"/> calls as after a trial. A network with several layers of one class and
/// shape pays one trial, not one per layer.</para>
/// Calls that share an instance (inference) may interleave their updates: every field is a plain value, so a race costs
/// at most a worse choice for a while, never a fault; the paths give the same bits.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public struct StreamingTuner
{
    /// <summary>Untimed calls on the cached path before the trial.</summary>
    public const int WarmCalls = 1;

    /// <summary>Timed calls each way in a full trial.</summary>
    public const int TrialCalls = 3;

    /// <summary>Timed calls each way after which a clear difference (<see cref="EarlyMargin"/>) ends the trial.</summary>
    public const int EarlyCalls = 2;

    /// <summary>Calls in a full trial, the untimed ones included.</summary>
    public const int FullTrial = WarmCalls + 2 * TrialCalls;

    /// <summary>Calls in a trial that ends early, the untimed ones included.</summary>
    public const int EarlyTrial = WarmCalls + 2 * EarlyCalls;

    /// <summary>Calls the other way in a probe.</summary>
    public const int ProbeCalls = 2;

    /// <summary>Calls on the chosen path before the first probe, and after a switch: soon, so that a trial misled by a
    /// disturbed call is corrected within a few dozen calls (probes that lose then come ever later).</summary>
    public const int FirstPeriod = 16;

    /// <summary>The longest period between probes.</summary>
    public const int LongestPeriod = 1024;

    /// <summary>The other path is taken when its fastest call took less than this fraction of the chosen path's.</summary>
    public const double Margin = 0.95;

    /// <summary>The trial ends after <see cref="EarlyCalls"/> each way when one path's fastest took less than this fraction
    /// of the other's.</summary>
    public const double EarlyMargin = 0.7;

    private const byte Untimed = 0, Trial = 1, Steady = 2, Probe = 3;

    private long _bytes;
    private int _workers;
    private int _mode;
    private long _calls;
    private bool _streams, _decided, _adopted;
    private long _fastestCached, _fastestStreamed, _recent, _probe;
    private long _nextProbe;
    private int _period;

    /// <summary>Whether the tuner has made a choice for its current key (at the first call after the trial), or took up a
    /// shared one.</summary>
    public readonly bool Decided => _decided;

    /// <summary>The path the trial, the last probe or the shared choice chose: true for the streamed one.</summary>
    public readonly bool Streams => _streams;

    /// <summary>Whether the current key's choice was taken up from a shared one (no trial).</summary>
    public readonly bool Adopted => _adopted;

    /// <summary>The path for the next call of <paramref name="bytes"/> on <paramref name="workers"/> workers in
    /// <paramref name="mode"/> (any value the caller distinguishes calls by, e.g. training or inference); a new key starts over.</summary>
    public Ticket Choose(long bytes, int workers, int mode)
    {
        StreamingChoice? none = null;
        return Choose(bytes, workers, mode, ref none);
    }

    /// <summary><see cref="Choose(long, int, int)"/>, taking up and publishing choices in <paramref name="shared"/> (see the
    /// type's remarks).</summary>
    public Ticket Choose(long bytes, int workers, int mode, ref StreamingChoice? shared)
    {
        if (bytes != _bytes || workers != _workers || mode != _mode)
        {
            _bytes = bytes;
            _workers = workers;
            _mode = mode;
            _calls = 0;
            _streams = _decided = _adopted = false;
            _fastestCached = _fastestStreamed = _recent = _probe = long.MaxValue;
            _period = FirstPeriod;
            _nextProbe = long.MaxValue / 2;
            StreamingChoice? known = shared;
            if (known is not null && known.Matches(bytes, workers, mode))
            {
                _decided = _adopted = true;
                _streams = known.Streams;
                _nextProbe = FirstPeriod;
            }
        }
        long n = _calls++;
        if (!_decided)
        {
            if (n < WarmCalls) return new Ticket(n, false, Untimed);
            // The choice is made here, at the first call after the trial, from what the calls before reported (a call that
            // threw reported nothing: its path is then judged by the others).
            long t = n - WarmCalls;
            if (t < 2 * TrialCalls && !(t == 2 * EarlyCalls && Clear())) return new Ticket(n, (t & 1) == 1, Trial);
            _decided = true;
            _streams = _fastestStreamed != long.MaxValue && _fastestCached != long.MaxValue && _fastestStreamed < Margin * _fastestCached;
            _recent = _probe = long.MaxValue;
            _period = FirstPeriod;
            _nextProbe = n + _period;
            shared = new StreamingChoice(bytes, workers, mode, _streams);
        }
        else if (n >= _nextProbe + ProbeCalls)
        {
            if (_probe != long.MaxValue && _recent != long.MaxValue && _probe < Margin * _recent)
            {
                _streams = !_streams;
                _period = FirstPeriod;
                shared = new StreamingChoice(bytes, workers, mode, _streams);
            }
            else _period = Math.Min(2 * _period, LongestPeriod);
            _recent = _probe = long.MaxValue;
            _nextProbe = n + _period;
        }
        if (n >= _nextProbe && n < _nextProbe + ProbeCalls) return new Ticket(n, !_streams, Probe);
        return new Ticket(n, _streams, Steady);
    }

    /// <summary>Whether both paths have a timed call and one's fastest took less than <see cref="EarlyMargin"/> of the other's.</summary>
    private readonly bool Clear()
    {
        if (_fastestCached == long.MaxValue || _fastestStreamed == long.MaxValue) return false;
        long fast = Math.Min(_fastestCached, _fastestStreamed), slow = Math.Max(_fastestCached, _fastestStreamed);
        return fast < EarlyMargin * slow;
    }

    /// <summary>Records how long the call <paramref name="ticket"/> chose took (<see cref="Stopwatch"/> ticks).</summary>
    public void Report(Ticket ticket, long ticks)
    {
        switch (ticket.Phase)
        {
            case Trial:
                if (ticket.Streams) _fastestStreamed = Math.Min(_fastestStreamed, ticks);
                else _fastestCached = Math.Min(_fastestCached, ticks);
                break;
            case Steady:
                if (ticket.Streams == _streams) _recent = Math.Min(_recent, ticks);
                break;
            case Probe:
                if (ticket.Streams != _streams) _probe = Math.Min(_probe, ticks);
                break;
        }
    }

    /// <summary>A call's path and what its time is for.</summary>
    public readonly struct Ticket
    {
        internal Ticket(long call, bool streams, byte phase)
        {
            Call = call;
            Streams = streams;
            Phase = phase;
        }

        /// <summary>The call's index for its key.</summary>
        public long Call { get; }

        /// <summary>Whether the call goes down the streamed path.</summary>
        public bool Streams { get; }

        internal byte Phase { get; }
    }
}

/// <summary>
/// A choice one <see cref="StreamingTuner"/> made for a call key, shared with the other tuners of its layer class and
/// direction (immutable; replaced whole, so a reader sees one choice or another, never a mix).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class StreamingChoice
{
    private readonly long _bytes;
    private readonly int _workers, _mode, _generation;

    internal StreamingChoice(long bytes, int workers, int mode, bool streams)
    {
        _bytes = bytes;
        _workers = workers;
        _mode = mode;
        _generation = Streaming.Generation;
        Streams = streams;
    }

    /// <summary>The chosen path: true for the streamed one.</summary>
    public bool Streams { get; }

    /// <summary>Whether the choice was made for this key under the current <see cref="Streaming"/> settings.</summary>
    internal bool Matches(long bytes, int workers, int mode) =>
        bytes == _bytes && workers == _workers && mode == _mode && _generation == Streaming.Generation;
}

/// <summary>
/// One of a layer direction's two tuners (<c>NormLayer.TunedForward</c>, <c>TunedBackward</c>): a <see cref="StreamingTuner"/>
/// for the adaptive band (cached or streamed), or for the order in which a call past the threshold
/// (<see cref="Streaming.ThresholdBytes"/>, with <see cref="Streaming.Adaptive"/> on) runs. The rows of a LayerNorm or RMSNorm
/// forward over the last dim (a call on batch statistics): row after row as its first path (each row's sums from memory,
/// then its apply from L1), or pipelined as its second (each row's apply beside the next row's sums, in one loop; sixty-sixth
/// session: on the Zen 3 guest 0.8-0.9 of the time at [8192, 768], about 0.8 at [1536, 4096]; on the Zen 5 guest such rows
/// had run at twice their time pipelined). Or the interleaved blocks
/// (BatchNorm NCHW's channels, training forward and backward): in memory order (each worker's share of the channels as one
/// group, each pass one sequential stream through the tensor, so the statistics pass and the apply each read it from
/// memory) as its first path, or in groups of a few channels (each group's runs, 800 KB apart at BatchNorm S1, read for
/// its sums and read again from cache for its apply) as its second. Which order is faster depends on the machine's memory
/// system, not on the call: on an AMD EPYC Zen 5 guest memory order took about 0.9 of the time of the groups as they ran
/// then (each group's apply pipelined beside the next one's sums; twenty-ninth session), on a Zen 3 guest (L2 512 KB) the
/// groups took 0.81-0.92 (forward) and 0.69-0.78 (backward) of memory order's (sixty-fifth). The same bits either way. A
/// call with no order to choose (another layout, in place, the scalar path: the kernel reports it,
/// <c>LastCall.OrderChoice</c>) reports no time, and its key is then passed by until the key changes; a band call always
/// has its choice.
/// </summary>
internal struct LayerTuner
{
    private StreamingTuner _tuner;
    private long _skipBytes;
    private int _skipWorkers, _skipMode;
    private bool _skip;

    /// <summary>Whether calls of this key have nothing to choose (the last call of the key reported no choice).</summary>
    public readonly bool Skips(long bytes, int workers, int mode) => _skip && bytes == _skipBytes && workers == _skipWorkers && mode == _skipMode;

    /// <summary>The path for the next call: <see cref="StreamingTuner.Ticket.Streams"/> true for the second one.</summary>
    public StreamingTuner.Ticket Choose(long bytes, int workers, int mode, ref StreamingChoice? shared)
    {
        _skip = false;
        return _tuner.Choose(bytes, workers, mode, ref shared);
    }

    /// <summary>Records the call's time where it had a choice (<paramref name="choice"/>), else passes its key by.</summary>
    public void Report(StreamingTuner.Ticket ticket, long ticks, bool choice, long bytes, int workers, int mode)
    {
        if (choice) _tuner.Report(ticket, ticks);
        else (_skipBytes, _skipWorkers, _skipMode, _skip) = (bytes, workers, mode, true);
    }
}
