namespace NatPunch;

/// <summary>What port probing cost a session so far: probes we sent (our NAT keeps its port) or extra sockets we opened (ours varies it).</summary>
public sealed record PortProbingSummary(int ProbesSent, int SocketsOpened);
