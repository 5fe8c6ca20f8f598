namespace NatPunch.Net;

/// <summary>Why a TCP or TLS connection to the server could not be made; the message is for people.</summary>
public enum ServerConnectionFailure
{
    /// <summary>No connection (refused, timed out, unreachable), directly or to the proxy.</summary>
    Unreachable,

    /// <summary>The proxy answered CONNECT with something other than 2xx (403, 502, …).</summary>
    ProxyRefused,

    /// <summary>The proxy asked for credentials (407), or refused the ones given.</summary>
    ProxyAuthenticationRequired,

    /// <summary>The server's certificate does not verify (trust store or pin).</summary>
    CertificateRejected,

    /// <summary>The server closed or answered garbage during the TLS handshake: it speaks no TLS on that port.</summary>
    NoTls,
}

/// <summary>A connection to the server failed; <see cref="Failure"/> says how.</summary>
public sealed class ServerConnectionException(ServerConnectionFailure failure, string message, Exception? inner = null) : IOException(message, inner)
{
    public ServerConnectionFailure Failure { get; } = failure;
}
