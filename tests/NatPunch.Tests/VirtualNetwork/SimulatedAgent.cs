using NatPunch.Protocol.Rendezvous;
using NatPunch.Traversal;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>An <see cref="IceAgent"/> on a host behind its own NAT in the simulation, driven by its socket.</summary>
internal sealed record SimulatedAgent(NatRouter Nat, VirtualSocket Socket, IceAgent Agent)
{
    /// <summary>
    /// A NAT of <paramref name="behavior"/> 20 ms (±5) from the internet, a host 1 ms behind it, an agent on
    /// its port 5000; without clash avoidance, since the virtual network has no TTL and no ICMP.
    /// </summary>
    public static SimulatedAgent Add(Simulator sim, NatBehavior behavior, string name, StunServerNode stun, IceRole role)
    {
        NatRouter nat = sim.AddNatRouter(behavior, $"nat-{name}", link: new LinkConditions
        {
            Latency = TimeSpan.FromMilliseconds(20),
            Jitter = TimeSpan.FromMilliseconds(5),
        });
        VirtualSocket socket = nat.AddHost(name, link: LinkConditions.WithLatency(1)).Bind(5000);
        var agent = new IceAgent(role, IceCredentials.NewRandom(), [socket.SourceEndPoint], [stun.Primary],
            IceAgentOptions.Default with { ClashAvoidance = null }, sim.Now, tieBreaker: (ulong)sim.Random.NextInt64());
        socket.Attach(agent);
        return new SimulatedAgent(nat, socket, agent);
    }
}
