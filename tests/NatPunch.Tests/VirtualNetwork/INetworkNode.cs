namespace NatPunch.Tests.VirtualNetwork;

/// <summary>Something attached to a <see cref="NetworkSegment"/> by a <see cref="Link"/>: a host or a router.</summary>
public interface INetworkNode
{
    string Name { get; }

    /// <summary>A packet reached this node over <paramref name="link"/> (after that link's delay and loss).</summary>
    void Receive(Packet packet, Link link);
}
