namespace NatPunch.Server.Turn;

/// <summary>The relay's state and counters at one moment (<see cref="TurnService.Statistics"/>); counters count since start.</summary>
public readonly record struct TurnStatistics(
    int Allocations,
    long AllocationsCreated,
    long Requests,
    long Errors,
    long AuthFailures,
    long Malformed,
    long DatagramsToPeers,
    long DatagramsToClients,
    long BytesToPeers,
    long BytesToClients,
    long Dropped,
    long BandwidthDrops,
    long QuotaRefusals,
    long PermissionRefusals,
    long TcpQueueDrops,
    long UdpSendDrops);
