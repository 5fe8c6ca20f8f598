namespace NatPunch.Discovery.Internal;

/// <summary>How a <see cref="DiscoveryProbe"/> ended, in one word.</summary>
internal enum ProbeResult : byte
{
    /// <summary>A success or error response came back.</summary>
    Response,
    /// <summary>Nothing came back within the retransmission schedule.</summary>
    TimedOut,
    /// <summary>The probe could not be sent (no route, connection refused, …).</summary>
    Failed,
    /// <summary>Hairpinning: the request arrived on the receiving socket.</summary>
    Received,
}
