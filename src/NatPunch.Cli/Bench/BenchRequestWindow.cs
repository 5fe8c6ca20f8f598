using System.Buffers.Binary;
using System.Diagnostics;
using NatPunch.Protocol.Stun;

namespace NatPunch.Cli.Bench;

/// <summary>
/// The requests one client keeps outstanding, in <c>window</c> slots: writes each slot's next
/// request, matches answers to slots, finds slots whose request timed out, and counts all of it.
/// No I/O: <see cref="StunBenchClient"/> moves the bytes.
/// </summary>
/// <remarks>
/// The transaction id says which request an answer belongs to without any lookup:
/// bytes 0–3 a per-client tag, 4–7 the slot, 8–11 the slot's generation (bumped at each send, so a
/// late answer to a timed-out request is recognised as stale).
/// </remarks>
internal sealed class BenchRequestWindow
{
    /// <summary>A Binding request without attributes: just the header.</summary>
    public const int RequestLength = StunConstants.HeaderLength;

    private readonly int _window;
    private readonly long _timeoutTicks;
    private readonly uint _tag;
    private readonly byte[] _template = new byte[RequestLength];
    private readonly long[] _sentAt;
    private readonly uint[] _generation;
    private readonly bool[] _counted;
    private readonly bool[] _outstanding;
    private readonly byte[] _localAddress;
    private readonly int _localPort;

    public BenchRequestWindow(int window, TimeSpan timeout, uint tag, ReadOnlySpan<byte> localAddress, int localPort, StunBenchCounts counts)
    {
        _window = window;
        _timeoutTicks = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        _tag = tag;
        _sentAt = new long[window];
        _generation = new uint[window];
        _counted = new bool[window];
        _outstanding = new bool[window];
        _localAddress = localAddress.ToArray();
        _localPort = localPort;
        Counts = counts;
        _ = new StunMessageBuilder(_template, StunMessageType.BindingRequest, default);
        BinaryPrimitives.WriteUInt32BigEndian(_template.AsSpan(8), _tag);
    }

    public int Size => _window;

    /// <summary>Shared with the socket, which counts its own errors there.</summary>
    public StunBenchCounts Counts { get; }

    public LatencyHistogram Latency { get; } = new();

    /// <summary>Requests of the measured period still unanswered.</summary>
    public int CountedOutstanding { get; private set; }

    /// <summary>
    /// Writes the next request of <paramref name="slot"/> into <paramref name="destination"/> and
    /// records it as sent; false (nothing written) once the run is draining.
    /// </summary>
    public bool TryWriteRequest(int slot, long now, BenchPhase phase, Span<byte> destination)
    {
        if (phase >= BenchPhase.Draining)
        {
            return false;
        }
        _template.CopyTo(destination);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], (uint)slot);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], ++_generation[slot]);
        _sentAt[slot] = now;
        _outstanding[slot] = true;
        bool counted = phase == BenchPhase.Measuring;
        _counted[slot] = counted;
        if (counted)
        {
            CountedOutstanding++;
            Counts.Sent++;
        }
        return true;
    }

    /// <summary>Takes one received datagram; returns the slot it freed (to send again), or -1.</summary>
    public int OnDatagram(ReadOnlySpan<byte> datagram, long now, BenchPhase phase)
    {
        if (!TryMatch(datagram, out int slot, out bool stale))
        {
            if (phase == BenchPhase.Measuring)
            {
                Counts.Invalid++;
            }
            return -1;
        }
        if (stale)
        {
            if (phase == BenchPhase.Measuring)
            {
                Counts.Late++;
            }
            return -1;
        }
        _outstanding[slot] = false;
        if (_counted[slot])
        {
            _counted[slot] = false;
            CountedOutstanding--;
            Counts.Responses++;
            Latency.Record((now - _sentAt[slot]) * 1_000_000_000 / Stopwatch.Frequency);
        }
        return slot;
    }

    /// <summary>
    /// The next slot, from <paramref name="cursor"/> on, whose request is unanswered past the
    /// timeout: counted lost and freed to send again. -1 when there is none left.
    /// </summary>
    public int NextExpired(ref int cursor, long now)
    {
        for (; cursor < _window; cursor++)
        {
            int slot = cursor;
            if (!_outstanding[slot] || now - _sentAt[slot] < _timeoutTicks)
            {
                continue;
            }
            cursor++;
            _outstanding[slot] = false;
            if (_counted[slot])
            {
                _counted[slot] = false;
                CountedOutstanding--;
                Counts.Lost++;
            }
            return slot;
        }
        return -1;
    }

    /// <summary>How often to look for timed-out requests.</summary>
    public long ScanInterval => Math.Max(1, _timeoutTicks / 4);

    /// <summary>
    /// A valid answer is a Binding success response to one of our ids whose XOR-MAPPED-ADDRESS is
    /// this socket's address (parsed with the project's own codec, as any client would).
    /// </summary>
    private bool TryMatch(ReadOnlySpan<byte> datagram, out int slot, out bool stale)
    {
        slot = 0;
        stale = false;
        if (!StunMessage.TryParse(datagram, out StunMessage message, out _)
            || message.RawType != StunMessageType.BindingSuccess.Value
            || !message.HasMagicCookie)
        {
            return false;
        }
        ReadOnlySpan<byte> id = datagram.Slice(8, TransactionId.Length);
        uint slotNumber = BinaryPrimitives.ReadUInt32BigEndian(id[4..]);
        if (BinaryPrimitives.ReadUInt32BigEndian(id) != _tag || slotNumber >= (uint)_window)
        {
            return false;
        }
        if (!message.TryGetAttribute(StunAttributeType.XorMappedAddress, out ReadOnlySpan<byte> mapped)
            || !IsOurAddress(mapped, datagram.Slice(4, 16)))
        {
            return false;
        }
        slot = (int)slotNumber;
        stale = !_outstanding[slot] || BinaryPrimitives.ReadUInt32BigEndian(id[8..]) != _generation[slot];
        return true;
    }

    private bool IsOurAddress(ReadOnlySpan<byte> value, ReadOnlySpan<byte> cookieAndId)
    {
        if (value.Length != StunAddressCodec.ValueLength(_localAddress.Length))
        {
            return false;
        }
        int port = BinaryPrimitives.ReadUInt16BigEndian(value[2..]) ^ (int)(StunConstants.MagicCookie >> 16);
        if (port != _localPort)
        {
            return false;
        }
        for (int i = 0; i < _localAddress.Length; i++)
        {
            if ((value[4 + i] ^ cookieAndId[i]) != _localAddress[i])
            {
                return false;
            }
        }
        return true;
    }
}
