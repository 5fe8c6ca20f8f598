namespace NatPunch.Discovery.Internal;

/// <summary>
/// The sockets a discovery run uses, by number; the driver opens each on first use. All of them
/// are UDP sockets on ephemeral ports of the same local address.
/// </summary>
internal static class DiscoverySockets
{
    /// <summary>The socket of test I, the mapping tests and the receiving side of the hairpinning test.</summary>
    public const int Primary = 0;

    /// <summary>
    /// A fresh socket for the filtering tests (RFC 5780 §4.4), which has sent to nothing but the
    /// server's primary address: on the primary socket, mapping test II would already have opened
    /// an address-dependent filter to the alternate IP and made it look endpoint-independent.
    /// </summary>
    public const int Filtering = 1;

    /// <summary>The other end of the hairpinning test (RFC 5780 §4.5), with the primary socket.</summary>
    public const int Hairpin = 2;

    /// <summary>Sends the RESPONSE-PORT checks of the lifetime search (RFC 5780 §4.6, "port Y").</summary>
    public const int LifetimeChecker = 3;

    /// <summary>The first of the fresh sockets, one per idle time, of the lifetime search ("port X").</summary>
    public const int FirstLifetimeProbe = 4;

    /// <summary>No socket (a TCP probe, or no second receiver).</summary>
    public const int None = -1;
}
