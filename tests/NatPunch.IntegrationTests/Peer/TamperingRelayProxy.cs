using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// A hostile relay stand-in: a UDP proxy in front of a real TURN server that, in the ChannelData
/// carrying sealed session datagrams (first payload byte 0xE1), flips a bit in some, truncates
/// some and replays some (at once and again later), in both directions. Everything else passes.
/// </summary>
internal sealed class TamperingRelayProxy : IAsyncDisposable
{
    private readonly Socket _front = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly IPEndPoint _server;
    private readonly ConcurrentDictionary<IPEndPoint, Socket> _upstream = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly Random _random = new(7);
    private readonly Lock _randomLock = new();
    private readonly ConcurrentQueue<(byte[] Datagram, Action<byte[]> Send)> _replays = new();

    public TamperingRelayProxy(IPEndPoint server)
    {
        _server = server;
        _front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _loops.Add(Task.Run(FrontLoopAsync));
        _loops.Add(Task.Run(ReplayLoopAsync));
    }

    public IPEndPoint EndPoint => (IPEndPoint)_front.LocalEndPoint!;

    public int Flipped;
    public int Truncated;
    public int Replayed;

    private async Task FrontLoopAsync()
    {
        byte[] buffer = new byte[65536];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _front.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }
                continue;
            }
            var client = (IPEndPoint)received.RemoteEndPoint;
            Socket upstream = _upstream.GetOrAdd(client, c =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                _loops.Add(Task.Run(() => BackLoopAsync(socket, c)));
                return socket;
            });
            Forward(buffer.AsSpan(0, received.ReceivedBytes).ToArray(), d => upstream.SendTo(d, _server));
        }
    }

    private async Task BackLoopAsync(Socket upstream, IPEndPoint client)
    {
        byte[] buffer = new byte[65536];
        while (!_stop.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await upstream.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }
                continue;
            }
            Forward(buffer.AsSpan(0, length).ToArray(), d => _front.SendTo(d, client));
        }
    }

    private void Forward(byte[] datagram, Action<byte[]> send)
    {
        bool sealedData = datagram.Length > 4 + 27 && datagram[0] is >= 0x40 and <= 0x7F && datagram[4] == 0xE1;
        int roll;
        lock (_randomLock)
        {
            roll = _random.Next(100);
        }
        try
        {
            if (sealedData && roll < 4)
            {
                byte[] flipped = datagram.ToArray();
                flipped[4 + 1 + (roll * 7919 % (flipped.Length - 5))] ^= 0x20; // anywhere after the marker
                Interlocked.Increment(ref Flipped);
                send(flipped);
                return; // the real one is lost: the stream must retransmit
            }
            if (sealedData && roll < 8)
            {
                byte[] cut = datagram[..(datagram.Length - 1 - roll)];
                // The ChannelData length still claims the whole: shorten it too, as a truncating relay would.
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(cut.AsSpan(2), (ushort)(cut.Length - 4));
                Interlocked.Increment(ref Truncated);
                send(cut);
                return;
            }
            send(datagram);
            if (sealedData && roll < 14)
            {
                Interlocked.Increment(ref Replayed);
                send(datagram);
                _replays.Enqueue((datagram, send));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Replays each recorded datagram once more, a little later (after the original was accepted).</summary>
    private async Task ReplayLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(50, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            while (_replays.TryDequeue(out var replay))
            {
                try
                {
                    replay.Send(replay.Datagram);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _front.Dispose();
        foreach (Socket socket in _upstream.Values)
        {
            socket.Dispose();
        }
        try
        {
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException or SocketException or ObjectDisposedException)
        {
        }
    }
}
