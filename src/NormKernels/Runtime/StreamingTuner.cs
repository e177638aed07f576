using System;
using System.ComponentModel;
using System.Diagnostics;

namespace NormKernels.Runtime;

/// <summary>
/// One layer direction's choice between the cached and the streamed path for calls in the adaptive band
/// (<see cref="Streaming.Adaptive"/>), made from the times of its own calls. For a call key (bytes, worker count, mode):
/// <see cref="WarmCalls"/> calls on the cached path untimed (the first call of each path also compiles it), then
/// <see cref="TrialCalls"/> calls each way alternating, timed; the streamed path is kept when its fastest call took less
/// than <see cref="Margin"/> of the cached path's fastest. From then on the chosen path, its fastest call since the last
/// probe remembered; after <see cref="FirstPeriod"/> calls, <see cref="ProbeCalls"/> calls the other way: it takes over when
/// its fastest beats that by the same margin (the period back to <see cref="FirstPeriod"/>), else the period doubles, up to
/// <see cref="LongestPeriod"/>. Calls that share an instance (inference) may interleave their updates: every field is a
/// plain value, so a race costs at most a worse choice for a while, never a fault; the paths give the same bits.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public struct StreamingTuner
{
    /// <summary>Untimed calls on the cached path before the trial.</summary>
    public const int WarmCalls = 2;

    /// <summary>Timed calls each way in the trial.</summary>
    public const int TrialCalls = 3;

    /// <summary>Calls the other way in a probe.</summary>
    public const int ProbeCalls = 2;

    /// <summary>Calls on the chosen path before the first probe, and after a switch: soon, so that a trial misled by a
    /// disturbed call is corrected within a few dozen calls (probes that lose then come ever later).</summary>
    public const int FirstPeriod = 16;

    /// <summary>The longest period between probes.</summary>
    public const int LongestPeriod = 1024;

    /// <summary>The other path is taken when its fastest call took less than this fraction of the chosen path's.</summary>
    public const double Margin = 0.95;

    private const byte Untimed = 0, Trial = 1, Steady = 2, Probe = 3;

    private long _bytes;
    private int _workers;
    private int _mode;
    private long _calls;
    private bool _streams, _decided;
    private long _fastestCached, _fastestStreamed, _recent, _probe;
    private long _nextProbe;
    private int _period;

    /// <summary>Whether the tuner has made a choice for its current key (at the first call after the trial).</summary>
    public readonly bool Decided => _decided;

    /// <summary>The path the trial or the last probe chose: true for the streamed one.</summary>
    public readonly bool Streams => _streams;

    /// <summary>The path for the next call of <paramref name="bytes"/> on <paramref name="workers"/> workers in
    /// <paramref name="mode"/> (any value the caller distinguishes calls by, e.g. training or inference); a new key starts over.</summary>
    public Ticket Choose(long bytes, int workers, int mode)
    {
        if (bytes != _bytes || workers != _workers || mode != _mode)
        {
            _bytes = bytes;
            _workers = workers;
            _mode = mode;
            _calls = 0;
            _streams = false;
            _fastestCached = _fastestStreamed = _recent = _probe = long.MaxValue;
            _period = FirstPeriod;
            _nextProbe = long.MaxValue / 2;
            _decided = false;
        }
        long n = _calls++;
        const long trialEnd = WarmCalls + 2 * TrialCalls;
        if (n < WarmCalls) return new Ticket(n, false, Untimed);
        if (n < trialEnd) return new Ticket(n, ((n - WarmCalls) & 1) == 1, Trial);
        // The choices are made here, at the first call after a trial or a probe, from what the calls before reported (a call
        // that threw reported nothing: its path is then judged by the others).
        if (!_decided)
        {
            _decided = true;
            _streams = _fastestStreamed != long.MaxValue && _fastestCached != long.MaxValue && _fastestStreamed < Margin * _fastestCached;
            _recent = _probe = long.MaxValue;
            _period = FirstPeriod;
            _nextProbe = n + _period;
        }
        else if (n >= _nextProbe + ProbeCalls)
        {
            if (_probe != long.MaxValue && _recent != long.MaxValue && _probe < Margin * _recent)
            {
                _streams = !_streams;
                _period = FirstPeriod;
            }
            else _period = Math.Min(2 * _period, LongestPeriod);
            _recent = _probe = long.MaxValue;
            _nextProbe = n + _period;
        }
        if (n >= _nextProbe && n < _nextProbe + ProbeCalls) return new Ticket(n, !_streams, Probe);
        return new Ticket(n, _streams, Steady);
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
