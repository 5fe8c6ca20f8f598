using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// A TCP service for forwarding tests that needs half-close to work both ways: it reads a request to
/// its end (the client's FIN), answers with the request's SHA-256 and a body derived from it, and
/// closes. A client can check every byte of both directions.
/// </summary>
internal sealed class HashingTcpService : IAsyncDisposable
{
    public const int BodyLength = 200_000;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _served;

    public HashingTcpService()
    {
        _listener.Start(512);
        _accepting = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Requests read to their end and answered.</summary>
    public int Served => Volatile.Read(ref _served);

    /// <summary>The answer to a request with this hash: the hash, then <see cref="BodyLength"/> bytes seeded by it.</summary>
    public static byte[] Answer(byte[] requestHash)
    {
        byte[] answer = new byte[32 + BodyLength];
        requestHash.CopyTo(answer, 0);
        new Random(BitConverter.ToInt32(requestHash)).NextBytes(answer.AsSpan(32));
        return answer;
    }

    /// <summary>Sends <paramref name="request"/>, half-closes, reads the answer to its end and checks every byte.</summary>
    public static async Task<bool> AskAsync(int port, byte[] request, CancellationToken cancellationToken)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
        await client.SendAsync(request, SocketFlags.None, cancellationToken);
        client.Shutdown(SocketShutdown.Send);
        var answer = new MemoryStream();
        byte[] buffer = new byte[64 * 1024];
        int read;
        while ((read = await client.ReceiveAsync(buffer, SocketFlags.None, cancellationToken)) > 0)
        {
            answer.Write(buffer, 0, read);
        }
        return answer.ToArray().AsSpan().SequenceEqual(Answer(SHA256.HashData(request)));
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                Socket connection = await _listener.AcceptSocketAsync(_stop.Token);
                _ = Task.Run(() => ServeAsync(connection));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ServeAsync(Socket connection)
    {
        using (connection)
        {
            try
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                byte[] buffer = new byte[64 * 1024];
                int read;
                while ((read = await connection.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                }
                await connection.SendAsync(Answer(hash.GetHashAndReset()), SocketFlags.None, _stop.Token);
                connection.Shutdown(SocketShutdown.Send);
                Interlocked.Increment(ref _served);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
