namespace NatPunch.Discovery.Internal;

/// <summary>
/// The sockets a discovery run uses, by number; the driver opens each on first use. All of them
/// are UDP sockets on ephemeral ports of the same local address.
/// </summary>
internal static class DiscoverySockets
{
    /// <summary>The socket of the mapping, filtering and (receiving side of the) hairpinning tests.</summary>
    public const int Primary = 0;

    /// <summary>Sends the hairpinning probe to the primary socket's public address (RFC 5780 §4.5).</summary>
    public const int Hairpin = 1;

    /// <summary>Sends the RESPONSE-PORT checks of the lifetime search (RFC 5780 §4.6, "port Y").</summary>
    public const int LifetimeChecker = 2;

    /// <summary>The first of the fresh sockets, one per idle time, of the lifetime search ("port X").</summary>
    public const int FirstLifetimeProbe = 3;

    /// <summary>No socket (a TCP probe, or no second receiver).</summary>
    public const int None = -1;
}
