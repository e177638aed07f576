using System;
using System.IO;
using Microsoft.Win32.SafeHandles;

namespace NormKernels.Bench.Suite;

/// <summary>
/// How long the calling thread has waited on the run queue (Linux <c>/proc/thread-self/schedstat</c>, second
/// field, in ns): the research notes' filter for a shared machine. A timed sample during which this thread
/// waited for a CPU for more than a few percent of the sample is measuring the other jobs, not the kernel.
/// </summary>
public sealed class RunQueue : IDisposable
{
    private readonly SafeFileHandle? _handle;
    private readonly byte[] _buffer = new byte[128];

    /// <summary>Opens the calling thread's schedstat; use it from that thread only.</summary>
    public RunQueue()
    {
        try
        {
            _handle = File.OpenHandle("/proc/thread-self/schedstat");
            if (WaitNs() < 0) { _handle.Dispose(); _handle = null; }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            _handle = null;
        }
    }

    /// <summary>False where schedstat cannot be read (not Linux): then every sample is kept.</summary>
    public bool Available => _handle is not null;

    /// <summary>Total run-queue wait of this thread in ns, or -1.</summary>
    public long WaitNs()
    {
        if (_handle is null) return -1;
        int read = RandomAccess.Read(_handle, _buffer, 0);
        // "<on-cpu ns> <run-queue wait ns> <timeslices>\n"
        int first = Array.IndexOf(_buffer, (byte)' ', 0, read);
        if (first < 0) return -1;
        long value = 0;
        for (int i = first + 1; i < read && _buffer[i] is >= (byte)'0' and <= (byte)'9'; i++)
            value = value * 10 + (_buffer[i] - '0');
        return value;
    }

    public void Dispose() => _handle?.Dispose();
}
