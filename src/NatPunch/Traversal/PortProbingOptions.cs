namespace NatPunch.Traversal;

/// <summary>
/// Bounds of port probing ("birthday" punching), for a pair where one NAT gives each destination
/// another public port (symmetric) and the other keeps one (a cone, which may filter by port). The
/// varying side opens <see cref="Sockets"/> extra sockets that each send one harmless datagram to the
/// other side's public address, so its NAT holds that many mappings toward it at random ports; the
/// fixed side sends up to <see cref="Probes"/> authenticated checks to random ports of the varying
/// side's public address, <see cref="ProbesPerSecond"/> a second. One probe finds a mapping with
/// chance <c>Sockets / 64,512</c> (the ports Linux's <c>fully-random</c> picks from), so
/// 1 − e^(−Probes · Sockets / 64,512) of attempts find one: 99.7 % with the defaults, after 1 s on
/// average and 6 s at most.
/// </summary>
public sealed record PortProbingOptions
{
    public static readonly PortProbingOptions Default = new();

    /// <summary>Extra sockets the varying side opens (each one file descriptor, for <see cref="Window"/>).</summary>
    public int Sockets { get; init; } = 256;

    /// <summary>Probes the fixed side sends at most, one per port, each sent once.</summary>
    public int Probes { get; init; } = 1500;

    /// <summary>How fast probes go out (about 100 bytes each: 25 KB/s at the default).</summary>
    public int ProbesPerSecond { get; init; } = 250;

    /// <summary>How long after checks begin the first probe goes out, so that the other side's sockets are open by then.</summary>
    public TimeSpan StartDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long after the last probe an answer still counts, and the varying side's sockets stay open.</summary>
    public TimeSpan AnswerWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// When the peer's NAT showed a small step between its ports toward the server's two addresses
    /// (sequential allocation, or port preservation taking the next free port), this many ports
    /// past the second one are probed first, nearest first; random ports follow.
    /// </summary>
    public int PredictedPorts { get; init; } = 512;

    /// <summary>The lowest port probed: Linux NATs map ports of 1,024 and above to ports of 1,024 and above.</summary>
    public int LowestPort { get; init; } = 1024;

    /// <summary>From the start of checks until probing is over: what the varying side keeps its sockets for.</summary>
    public TimeSpan Window => StartDelay + TimeSpan.FromSeconds((double)Probes / Math.Max(1, ProbesPerSecond)) + AnswerWait;
}
