namespace NatPunch.Net;

/// <summary>
/// One way to the server's TCP service: where, with TLS or not, through the proxy or not. With
/// <paramref name="Opportunistic"/>, TLS is used even when the certificate does not verify (RFC 7435:
/// encryption that an active attacker could defeat still beats clear text, which is the alternative).
/// </summary>
internal sealed record ServerRoute(HostAndPort Target, bool Tls, HttpProxy? Proxy, bool Opportunistic = false)
{
    /// <summary>For messages: "TLS to host:443 via http://proxy:3128".</summary>
    public override string ToString() => $"{(Tls ? "TLS" : "TCP")} to {Target}{(Proxy is null ? "" : $" via {Proxy}")}";
}
