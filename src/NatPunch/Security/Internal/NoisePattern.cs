namespace NatPunch.Security.Internal;

/// <summary>
/// The two handshake patterns NatPunch uses (Noise §7.5): IK when the initiator already knows the
/// responder's static key (pinned, or remembered), XX when it does not. Both end with both sides
/// holding each other's static key, proven.
/// </summary>
internal enum NoisePattern
{
    XX,
    IK,
}

internal enum NoiseToken
{
    E,
    S,
    EE,
    ES,
    SE,
    SS,
}

internal static class NoisePatterns
{
    /// <summary>The message patterns; even indexes are the initiator's messages.</summary>
    public static NoiseToken[][] Messages(NoisePattern pattern) => pattern switch
    {
        // -> e / <- e, ee, s, es / -> s, se
        NoisePattern.XX => [[NoiseToken.E], [NoiseToken.E, NoiseToken.EE, NoiseToken.S, NoiseToken.ES], [NoiseToken.S, NoiseToken.SE]],
        // <- s ... -> e, es, s, ss / <- e, ee, se
        NoisePattern.IK => [[NoiseToken.E, NoiseToken.ES, NoiseToken.S, NoiseToken.SS], [NoiseToken.E, NoiseToken.EE, NoiseToken.SE]],
        _ => throw new ArgumentOutOfRangeException(nameof(pattern)),
    };

    public static string ProtocolName(NoisePattern pattern) => $"Noise_{pattern}_25519_ChaChaPoly_SHA256";
}
