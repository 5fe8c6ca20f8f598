using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Stun;

namespace NatPunch.Cli.Bench;

/// <summary>
/// A UDP socket connected to the server under test, as the load generator uses it: receive what
/// has arrived, queue datagrams to send, flush. <see cref="Open"/> picks the batched Linux
/// implementation where it exists (two system calls per batch instead of two per request), so
/// that the generator spends less CPU than the server it measures.
/// </summary>
internal abstract class BenchSocket : IDisposable
{
    protected BenchSocket(IPEndPoint server, TimeSpan receiveTimeout, StunBenchCounts counts)
    {
        Counts = counts;
        Socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        Socket.ReceiveBufferSize = 1024 * 1024;
        Socket.SendBufferSize = 1024 * 1024;
        // Wake up regularly even if nothing arrives, to resend timed-out requests and see phase changes.
        Socket.ReceiveTimeout = Math.Max(1, (int)receiveTimeout.TotalMilliseconds);
        // Connected: the kernel skips a route lookup per send and drops datagrams from anyone else.
        Socket.Connect(server);
        var local = (IPEndPoint)Socket.LocalEndPoint!;
        var address = new byte[16];
        LocalAddress = address[..StunAddressCodec.GetAddressBytes(local.Address, address)];
        LocalPort = local.Port;
    }

    protected Socket Socket { get; }

    protected StunBenchCounts Counts { get; }

    public byte[] LocalAddress { get; }

    public int LocalPort { get; }

    public static BenchSocket Open(IPEndPoint server, TimeSpan receiveTimeout, int window, StunBenchCounts counts, bool batched) =>
        batched && NatPunch.Protocol.Net.LinuxDatagramBatch.IsSupported
            ? new LinuxBatchBenchSocket(server, receiveTimeout, window, counts)
            : new PortableBenchSocket(server, receiveTimeout, counts);

    /// <summary>Blocks until something arrives or the receive timeout passes; returns how many datagrams (0 on timeout).</summary>
    public abstract int Receive();

    /// <summary>Datagram <paramref name="index"/> of the last <see cref="Receive"/>.</summary>
    public abstract ReadOnlySpan<byte> Received(int index);

    /// <summary>Room for the next datagram to send; <see cref="Commit"/> queues it.</summary>
    public abstract Span<byte> NextSend();

    public abstract void Commit(int length);

    /// <summary>Sends whatever is queued.</summary>
    public abstract void Flush();

    public void Dispose()
    {
        Socket.Dispose();
        GC.SuppressFinalize(this);
    }
}
