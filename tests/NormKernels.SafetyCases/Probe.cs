namespace NormKernels.SafetyCases;

/// <summary>The buffers of one refused call: inputs hold data, outputs a NaN sentinel; every watched array and value is
/// snapshotted so <see cref="Changed"/> can tell whether the call wrote anything.</summary>
internal sealed class Probe(int length)
{
    private readonly List<(string Name, Array Array, byte[] Bits)> _arrays = [];
    private readonly List<(Func<object> Read, object Value)> _values = [];

    /// <summary>The value the last call returned, when it returns one (StatisticCount).</summary>
    public long? Returned(int value) => LastReturned = value;

    public long? LastReturned { get; private set; }

    public T[] Input<T>(int count = -1) where T : struct
    {
        var array = new T[count < 0 ? length : count];
        for (int i = 0; i < array.Length; i++) array[i] = (T)Convert.ChangeType(0.5 + (i % 7) * 0.25, typeof(T));
        Watch(array);
        return array;
    }

    public T[] Output<T>(int count = -1) where T : struct
    {
        var array = new T[count < 0 ? length : count];
        object sentinel = typeof(T) == typeof(float) ? (object)BitConverter.Int32BitsToSingle(0x7FC0BEEF) : BitConverter.Int64BitsToDouble(0x7FF8_0000_DEAD_BEEF);
        Array.Fill(array, (T)sentinel);
        Watch(array);
        return array;
    }

    public void Watch(Array? array, string name = "")
    {
        if (array is null) return;
        var bits = new byte[Buffer.ByteLength(array)];
        Buffer.BlockCopy(array, 0, bits, 0, bits.Length);
        _arrays.Add((name.Length > 0 ? name : "array " + _arrays.Count, array, bits));
    }

    public void Watch(Func<object> read) => _values.Add((read, read()));

    /// <summary>What changed since the buffers were made, or null.</summary>
    public string? Changed()
    {
        foreach (var (name, array, bits) in _arrays)
        {
            var now = new byte[Buffer.ByteLength(array)];
            Buffer.BlockCopy(array, 0, now, 0, now.Length);
            if (!now.AsSpan().SequenceEqual(bits)) return name + " (" + array.GetType().Name + "[" + array.Length + "]) was written";
        }
        foreach (var (read, value) in _values)
            if (!Equals(read(), value)) return "a watched property changed from " + value + " to " + read();
        return null;
    }
}
