using System.Net;
using NatPunch.Security;
using NatPunch.Streams;
using NatPunch.Traversal;

namespace NatPunch.Session;

// The link's TCP port (TcpPunch, docs/tcp-punching.md): its candidates go to the core, the agent's
// PunchTcp starts the simultaneous opens, each connection that opens is reported to the core and
// its frames are handled like datagrams on the socket: session data opened here on the reader's
// thread, STUN on the loop. A batch of stream segments goes out in one send.
internal sealed partial class PeerLink
{
    /// <summary>How long the punch of one TCP candidate goes on: the agent's check timeout.</summary>
    public static readonly TimeSpan TcpPunchTimeout = TimeSpan.FromSeconds(10);

    // Scratch for a batch of framed segments, per sending thread.
    [ThreadStatic] private static byte[]? t_tcpBatch;

    private TcpPunch? _tcp;

    /// <summary>How long the STUN server's answer over TCP is waited for (a lost SYN costs TCP a second, and more).</summary>
    public static readonly TimeSpan TcpGatherTimeout = TimeSpan.FromSeconds(8);

    /// <summary>
    /// Opens the TCP port: its host candidates go to the session at once, its public address, learnt
    /// from <paramref name="stunServer"/> over TCP, when it is known (trickled if the offer went
    /// without it). Completes then (at once where TCP punching is not supported).
    /// </summary>
    public async Task StartTcpAsync(IReadOnlyList<IPEndPoint> hosts, IPEndPoint? stunServer)
    {
        TcpPunch? tcp = TcpPunch.TryStart(_socket.AddressFamily, LocalEndPoint.Port, _time,
            connection => _loop.TryPost(() => _session.TcpConnectionOpened(connection.Remote, Now)),
            OnTcpFrame,
            (connection, reason) => _loop.TryPost(() => _session.TcpConnectionClosed(connection.Remote, $"the TCP connection ended: {reason}", Now)));
        if (tcp is null)
        {
            return;
        }
        if (Volatile.Read(ref _disposed) != 0)
        {
            await tcp.DisposeAsync().ConfigureAwait(false);
            return;
        }
        _tcp = tcp;
        IPEndPoint[] tcpHosts = hosts.Select(h => new IPEndPoint(h.Address, tcp.Port)).ToArray();
        await InvokeAsync((_, now) => _session.AddTcpCandidates(tcpHosts, null, now)).ConfigureAwait(false);
        if (stunServer is not null && await tcp.GatherAsync(stunServer, TcpGatherTimeout).ConfigureAwait(false) is { } reflexive)
        {
            await InvokeAsync((_, now) => _session.AddTcpCandidates(tcpHosts, reflexive, now)).ConfigureAwait(false);
        }
    }

    private void PunchTcp(IceEvent.PunchTcp punch)
    {
        TimeSpan delay = punch.At - Now;
        _tcp?.Punch(punch.Remotes, delay > TimeSpan.Zero ? delay : TimeSpan.Zero, TcpPunchTimeout);
    }

    private void SendOnTcp(SessionTransmit transmit) => _tcp?.Find(transmit.To)?.Send(transmit.Payload.Span);

    /// <summary>A frame on a TCP connection, on its reader's thread: as a datagram on the socket would be.</summary>
    private void OnTcpFrame(TcpPeerConnection connection, ReadOnlySpan<byte> frame)
    {
        if (PeerSession.IsSessionDatagram(frame))
        {
            OnSessionDatagram(frame, connection.Remote, null, tcp: true);
        }
        else if (IceAgent.IsStun(frame))
        {
            byte[] copy = frame.ToArray();
            IPEndPoint from = connection.Remote;
            _loop.TryPost(() => _session.HandleTcpStun(copy, from, Now));
        }
        else
        {
            Interlocked.Increment(ref _strayDatagrams);
        }
    }

    /// <summary>Data moved: TCP connections that do not carry it are closed once it goes on a direct UDP path or on another TCP connection.</summary>
    private void CloseUnusedTcpConnections(DataTarget target)
    {
        if (target.Relay is null)
        {
            _tcp?.CloseAllBut(target.Tcp);
        }
    }

    /// <summary>A stream's batch on a TCP path: sealed and framed into one buffer, one send.</summary>
    private static void SendBatchOnTcp(TcpPeerConnection connection, SegmentBatch batch, SessionCrypto crypto, TimeSpan now)
    {
        int needed = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            needed += TcpPeerConnection.FrameHeaderLength + batch[i].Length + SealedFrame.Overhead;
        }
        byte[] buffer = t_tcpBatch is { } cached && cached.Length >= needed ? cached : (t_tcpBatch = new byte[Math.Max(needed, 96 * 1024)]);
        int end = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            int length = crypto.Seal(SessionMessageType.Segment, batch[i], buffer.AsSpan(end + TcpPeerConnection.FrameHeaderLength), now);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(end), (ushort)length);
            end += TcpPeerConnection.FrameHeaderLength + length;
        }
        connection.SendRaw(buffer.AsSpan(0, end), waitForRoom: true); // on a stream's thread: TCP's back-pressure
    }
}
