namespace NatPunch.Server.Turn;

/// <summary>The bandwidth limits an allocation's relayed data counts against: its own, its user's and its source address's; null = no limit.</summary>
internal readonly record struct RelayBandwidth(ByteBucket? Own, ByteBucket? User, ByteBucket? Source);
