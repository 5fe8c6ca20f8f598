using System.Buffers.Binary;
using System.Net;
using NatPunch.Core;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// A minimal <see cref="IDatagramCore"/> for the simulator's own tests: sends a numbered ping to
/// <see cref="Peer"/> every <see cref="Interval"/> while <see cref="Running"/>, answers pings with
/// pongs, and records what it heard.
/// </summary>
internal sealed class PingCore : IDatagramCore
{
    private readonly Queue<OutgoingDatagram> _outgoing = new();
    private TimeSpan _nextPing;
    private uint _sequence;

    public PingCore(IPEndPoint? peer, TimeSpan interval)
    {
        Peer = peer;
        Interval = interval;
    }

    public IPEndPoint? Peer { get; set; }

    public TimeSpan Interval { get; }

    public bool Running { get; set; } = true;

    public List<(TimeSpan Time, IPEndPoint From, uint Sequence)> Pongs { get; } = [];

    public List<(TimeSpan Time, IPEndPoint From, uint Sequence)> Pings { get; } = [];

    public int TimeoutsHandled { get; private set; }

    public TimeSpan? NextWakeUp => Running && Peer is not null ? _nextPing : null;

    public void HandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from, TimeSpan now)
    {
        if (datagram.Length != 5)
        {
            return;
        }
        uint sequence = BinaryPrimitives.ReadUInt32BigEndian(datagram[1..]);
        if (datagram[0] == (byte)'P')
        {
            Pings.Add((now, from, sequence));
            _outgoing.Enqueue(new OutgoingDatagram(from, Message((byte)'p', sequence)));
        }
        else if (datagram[0] == (byte)'p')
        {
            Pongs.Add((now, from, sequence));
        }
    }

    public bool TryPollTransmit(TimeSpan now, out OutgoingDatagram datagram) => _outgoing.TryDequeue(out datagram);

    public void HandleTimeout(TimeSpan now)
    {
        TimeoutsHandled++;
        if (!Running || Peer is null || now < _nextPing)
        {
            return;
        }
        _outgoing.Enqueue(new OutgoingDatagram(Peer, Message((byte)'P', ++_sequence)));
        _nextPing = now + Interval;
    }

    /// <summary>Starts pinging now (the test then calls <see cref="VirtualSocket.Poll"/>).</summary>
    public void Start(TimeSpan now)
    {
        Running = true;
        _nextPing = now;
    }

    private static byte[] Message(byte kind, uint sequence)
    {
        var bytes = new byte[5];
        bytes[0] = kind;
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(1), sequence);
        return bytes;
    }
}

/// <summary>A core whose wake-up never moves past "now": the simulator must say so instead of hanging.</summary>
internal sealed class StuckCore : IDatagramCore
{
    public TimeSpan? NextWakeUp => TimeSpan.Zero;

    public void HandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from, TimeSpan now)
    {
    }

    public bool TryPollTransmit(TimeSpan now, out OutgoingDatagram datagram)
    {
        datagram = default;
        return false;
    }

    public void HandleTimeout(TimeSpan now)
    {
    }
}
