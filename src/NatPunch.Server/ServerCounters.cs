namespace NatPunch.Server;

/// <summary>
/// What the server has seen since it started. Updated with Interlocked from the socket loops;
/// read at any time for logs, tests and benchmarks.
/// </summary>
public sealed class ServerCounters
{
    private long _requests;
    private long _responses;
    private long _malformed;
    private long _badFingerprint;
    private long _notRequests;
    private long _changeNotPossible;
    private long _sendErrors;
    private long _tcpConnections;
    private long _tcpRejected;
    private long _tlsHandshakes;
    private long _tlsFailures;
    private long _tlsNotOffered;
    private readonly long[] _refusals = new long[Enum.GetValues<ServerRefusal>().Length];

    public long Requests => Interlocked.Read(ref _requests);
    public long Responses => Interlocked.Read(ref _responses);
    /// <summary>Datagrams or TCP messages that did not parse as STUN: dropped.</summary>
    public long Malformed => Interlocked.Read(ref _malformed);
    public long BadFingerprint => Interlocked.Read(ref _badFingerprint);
    /// <summary>Responses and indications sent to the server: nothing to answer.</summary>
    public long NotRequests => Interlocked.Read(ref _notRequests);
    /// <summary>RFC 3489 CHANGE-REQUESTs this server cannot honour, left unanswered on purpose.</summary>
    public long ChangeNotPossible => Interlocked.Read(ref _changeNotPossible);
    public long SendErrors => Interlocked.Read(ref _sendErrors);
    public long TcpConnections => Interlocked.Read(ref _tcpConnections);
    public long TcpRejected => Interlocked.Read(ref _tcpRejected);
    /// <summary>TLS handshakes completed (STUN, TURN or rendezvous over TLS).</summary>
    public long TlsHandshakes => Interlocked.Read(ref _tlsHandshakes);
    /// <summary>TLS handshakes that failed or timed out.</summary>
    public long TlsHandshakeFailures => Interlocked.Read(ref _tlsFailures);
    /// <summary>Clients that began a TLS handshake with a server that has no certificate (closed at once).</summary>
    public long TlsNotOffered => Interlocked.Read(ref _tlsNotOffered);

    /// <summary>How many times the server refused or cut off a client for <paramref name="kind"/>.</summary>
    public long Refusals(ServerRefusal kind) => Interlocked.Read(ref _refusals[(int)kind]);

    internal void CountRequest() => Interlocked.Increment(ref _requests);
    internal void CountResponse() => Interlocked.Increment(ref _responses);
    // Batched loops add once per batch: one contended cache line per batch instead of per datagram.
    internal void CountRequests(int count) => Interlocked.Add(ref _requests, count);
    internal void CountResponses(int count) => Interlocked.Add(ref _responses, count);
    internal void CountSendError() => Interlocked.Increment(ref _sendErrors);
    internal void CountTcpConnection() => Interlocked.Increment(ref _tcpConnections);
    internal void CountTcpRejected() => Interlocked.Increment(ref _tcpRejected);
    internal void CountTlsHandshake(bool succeeded) => Interlocked.Increment(ref succeeded ? ref _tlsHandshakes : ref _tlsFailures);
    internal void CountTlsNotOffered() => Interlocked.Increment(ref _tlsNotOffered);
    internal void CountRefusal(ServerRefusal kind) => Interlocked.Increment(ref _refusals[(int)kind]);

    internal void CountDrop(Stun.StunDropReason reason)
    {
        switch (reason)
        {
            case Stun.StunDropReason.Malformed: Interlocked.Increment(ref _malformed); break;
            case Stun.StunDropReason.BadFingerprint: Interlocked.Increment(ref _badFingerprint); break;
            case Stun.StunDropReason.NotARequest: Interlocked.Increment(ref _notRequests); break;
            case Stun.StunDropReason.ChangeNotPossible: Interlocked.Increment(ref _changeNotPossible); break;
        }
    }

    public override string ToString() =>
        $"requests={Requests} responses={Responses} malformed={Malformed} bad_fingerprint={BadFingerprint} " +
        $"not_requests={NotRequests} change_not_possible={ChangeNotPossible} send_errors={SendErrors} tcp_connections={TcpConnections} tcp_rejected={TcpRejected}" +
        $" tls_handshakes={TlsHandshakes} tls_failures={TlsHandshakeFailures} tls_not_offered={TlsNotOffered}" +
        string.Concat(Enum.GetValues<ServerRefusal>().Where(k => Refusals(k) > 0).Select(k => $" refused_{k}={Refusals(k)}"));
}
