using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using NatPunch.Protocol.Net;
using NatPunch.Server.Internal;

namespace NatPunch.Cli.Bench;

/// <summary>recvmmsg/sendmmsg: every answer that has arrived in one call, every refill in one call.</summary>
internal sealed class LinuxBatchBenchSocket : BenchSocket
{
    private const int MaxBatch = 64;

    private readonly LinuxDatagramBatch _receive;
    private readonly LinuxDatagramBatch _send;
    private readonly SafeHandle _handle;
    private int _queued;

    public LinuxBatchBenchSocket(IPEndPoint server, TimeSpan receiveTimeout, int window, StunBenchCounts counts)
        : base(server, receiveTimeout, counts)
    {
        int batch = Math.Min(window, MaxBatch);
        _receive = new LinuxDatagramBatch(batch, 2048);
        _send = new LinuxDatagramBatch(batch, 64);
        _handle = Socket.SafeHandle;
    }

    public override int Receive()
    {
        int count = _receive.Receive(_handle, out SocketError error);
        if (count >= 0)
        {
            return count;
        }
        if (error is not (SocketError.WouldBlock or SocketError.Interrupted))
        {
            Counts.ReceiveErrors++;
        }
        return 0;
    }

    public override ReadOnlySpan<byte> Received(int index) => _receive.Buffer(index)[.._receive.Length(index)];

    public override Span<byte> NextSend() => _send.Buffer(_queued);

    public override void Commit(int length)
    {
        // No address: the socket is connected.
        _send.PrepareSend(_queued, length, addressLength: 0);
        if (++_queued == _send.Capacity)
        {
            Flush();
        }
    }

    public override void Flush()
    {
        int done = 0;
        while (done < _queued)
        {
            int sent = _send.Send(_handle, done, _queued - done, out _);
            if (sent <= 0)
            {
                // Stays outstanding: its timeout resends it.
                Counts.SendErrors++;
                done++;
                continue;
            }
            done += sent;
        }
        _queued = 0;
    }
}
