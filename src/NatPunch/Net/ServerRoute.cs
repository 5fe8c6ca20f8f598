namespace NatPunch.Net;

/// <summary>One way to the server's TCP service: where, with TLS or not, through the proxy or not.</summary>
internal sealed record ServerRoute(HostAndPort Target, bool Tls, HttpProxy? Proxy)
{
    /// <summary>For messages: "TLS to host:443 via http://proxy:3128".</summary>
    public override string ToString() => $"{(Tls ? "TLS" : "TCP")} to {Target}{(Proxy is null ? "" : $" via {Proxy}")}";
}
