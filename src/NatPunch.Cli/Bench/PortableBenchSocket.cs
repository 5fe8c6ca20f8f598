using System.Net;
using System.Net.Sockets;

namespace NatPunch.Cli.Bench;

/// <summary>One blocking system call per datagram; works everywhere .NET does.</summary>
internal sealed class PortableBenchSocket : BenchSocket
{
    private readonly byte[] _receive = GC.AllocateArray<byte>(2048, pinned: true);
    private readonly byte[] _send = GC.AllocateArray<byte>(64, pinned: true);
    private int _received;

    public PortableBenchSocket(IPEndPoint server, TimeSpan receiveTimeout, StunBenchCounts counts)
        : base(server, receiveTimeout, counts)
    {
    }

    public override int Receive()
    {
        try
        {
            _received = Socket.Receive(_receive, SocketFlags.None);
            return 1;
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

    public override ReadOnlySpan<byte> Received(int index) => _receive.AsSpan(0, _received);

    public override Span<byte> NextSend() => _send;

    public override void Commit(int length)
    {
        try
        {
            Socket.Send(_send.AsSpan(0, length), SocketFlags.None);
        }
        catch (SocketException)
        {
            // Stays outstanding: its timeout resends it (and counts it lost if it was counted).
            Counts.SendErrors++;
        }
    }

    public override void Flush()
    {
    }
}
