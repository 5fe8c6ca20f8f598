using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Stun;

namespace NatPunch.Cli.Bench;

/// <summary>
/// One UDP socket on its own thread keeping <c>window</c> Binding requests outstanding: every valid
/// answer frees its slot and the slot's next request goes out at once (a closed loop, so the
/// generator runs at the server's pace). Unanswered slots are resent after the timeout, so lost
/// datagrams never stall the window.
/// </summary>
/// <remarks>
/// The transaction id says which request an answer belongs to without any lookup:
/// bytes 0–3 a per-client tag, 4–7 the slot, 8–11 the slot's generation (bumped at each send, so a
/// late answer to a timed-out request is recognised as stale). The socket is connected, which lets
/// the kernel skip a route lookup per send and drops datagrams from anyone but the server.
/// </remarks>
internal sealed class StunBenchClient : IDisposable
{
    private const int ReceiveBufferSize = 2048;

    private readonly Socket _socket;
    private readonly BenchPhaseSignal _phase;
    private readonly int _window;
    private readonly long _timeoutTicks;
    private readonly uint _tag;
    private readonly byte[] _request = new byte[StunConstants.HeaderLength];
    private readonly byte[] _response = GC.AllocateArray<byte>(ReceiveBufferSize, pinned: true);
    private readonly long[] _sentAt;
    private readonly uint[] _generation;
    private readonly bool[] _counted;
    private readonly bool[] _outstanding;
    private readonly byte[] _localAddress;
    private readonly int _localPort;
    private int _countedOutstanding;

    public StunBenchClient(IPEndPoint server, int window, TimeSpan timeout, uint tag, BenchPhaseSignal phase)
    {
        _window = window;
        _phase = phase;
        _tag = tag;
        _timeoutTicks = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        _sentAt = new long[window];
        _generation = new uint[window];
        _counted = new bool[window];
        _outstanding = new bool[window];
        _socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.ReceiveBufferSize = 1024 * 1024;
        _socket.SendBufferSize = 1024 * 1024;
        // Wake up regularly even if nothing arrives, to resend timed-out slots and see phase changes.
        _socket.ReceiveTimeout = Math.Max(1, (int)Math.Min(timeout.TotalMilliseconds / 4, 50));
        _socket.Connect(server);
        var local = (IPEndPoint)_socket.LocalEndPoint!;
        _localAddress = new byte[16];
        int length = StunAddressCodec.GetAddressBytes(local.Address, _localAddress);
        _localAddress = _localAddress[..length];
        _localPort = local.Port;

        // A plain Binding request, no attributes: the header is written once, only the id changes.
        _ = new StunMessageBuilder(_request, StunMessageType.BindingRequest, default);
        BinaryPrimitives.WriteUInt32BigEndian(_request.AsSpan(8), _tag);
    }

    public StunBenchCounts Counts { get; } = new();

    public LatencyHistogram Latency { get; } = new();

    /// <summary>The thread body: runs until the phase is <see cref="BenchPhase.Done"/> or, when draining, nothing counted is outstanding.</summary>
    public void Run()
    {
        BenchPhase phase = _phase.Current;
        for (int slot = 0; slot < _window; slot++)
        {
            Send(slot, Stopwatch.GetTimestamp(), phase);
        }
        long scanInterval = Math.Max(1, _timeoutTicks / 4);
        long nextScan = Stopwatch.GetTimestamp() + scanInterval;
        while (true)
        {
            phase = _phase.Current;
            if (phase == BenchPhase.Done || (phase == BenchPhase.Draining && _countedOutstanding == 0))
            {
                return;
            }
            int received = Receive();
            long now = Stopwatch.GetTimestamp();
            if (received > 0)
            {
                OnDatagram(_response.AsSpan(0, received), now, phase);
            }
            if (now >= nextScan)
            {
                ResendExpired(now, phase);
                nextScan = now + scanInterval;
            }
        }
    }

    private int Receive()
    {
        try
        {
            return _socket.Receive(_response, SocketFlags.None);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
        {
            return 0;
        }
        catch (SocketException)
        {
            // ICMP port unreachable (no server there yet) and the like: the timeouts resend.
            Counts.ReceiveErrors++;
            return 0;
        }
    }

    private void OnDatagram(ReadOnlySpan<byte> datagram, long now, BenchPhase phase)
    {
        if (!TryMatch(datagram, out int slot, out bool stale))
        {
            if (phase == BenchPhase.Measuring)
            {
                Counts.Invalid++;
            }
            return;
        }
        if (stale)
        {
            if (phase == BenchPhase.Measuring)
            {
                Counts.Late++;
            }
            return;
        }
        _outstanding[slot] = false;
        if (_counted[slot])
        {
            _counted[slot] = false;
            _countedOutstanding--;
            Counts.Responses++;
            Latency.Record((now - _sentAt[slot]) * 1_000_000_000 / Stopwatch.Frequency);
        }
        Send(slot, now, phase);
    }

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
        if (BinaryPrimitives.ReadUInt32BigEndian(id) != _tag)
        {
            return false;
        }
        uint slotNumber = BinaryPrimitives.ReadUInt32BigEndian(id[4..]);
        if (slotNumber >= (uint)_window)
        {
            return false;
        }
        slot = (int)slotNumber;
        if (!message.TryGetAttribute(StunAttributeType.XorMappedAddress, out ReadOnlySpan<byte> mapped)
            || !IsOurAddress(mapped, datagram.Slice(4, 16)))
        {
            return false;
        }
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

    private void Send(int slot, long now, BenchPhase phase)
    {
        if (phase >= BenchPhase.Draining)
        {
            return;
        }
        uint generation = ++_generation[slot];
        BinaryPrimitives.WriteUInt32BigEndian(_request.AsSpan(12), (uint)slot);
        BinaryPrimitives.WriteUInt32BigEndian(_request.AsSpan(16), generation);
        _sentAt[slot] = now;
        _outstanding[slot] = true;
        bool counted = phase == BenchPhase.Measuring;
        _counted[slot] = counted;
        if (counted)
        {
            _countedOutstanding++;
            Counts.Sent++;
        }
        try
        {
            _socket.Send(_request, SocketFlags.None);
        }
        catch (SocketException)
        {
            // Left outstanding: the timeout resends it, and it counts as lost if it was counted.
            Counts.SendErrors++;
        }
    }

    /// <summary>Slots unanswered past the timeout: count them lost and send their next request.</summary>
    private void ResendExpired(long now, BenchPhase phase)
    {
        for (int slot = 0; slot < _window; slot++)
        {
            if (!_outstanding[slot] || now - _sentAt[slot] < _timeoutTicks)
            {
                continue;
            }
            _outstanding[slot] = false;
            if (_counted[slot])
            {
                _counted[slot] = false;
                _countedOutstanding--;
                Counts.Lost++;
            }
            Send(slot, now, phase);
        }
    }

    public void Dispose() => _socket.Dispose();
}
