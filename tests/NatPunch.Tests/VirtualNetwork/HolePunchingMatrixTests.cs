using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// The simulator as a whole against the well-known hole-punching table (RFC 5128 §3.3–3.4; Ford,
/// Srisuresh and Kegel 2005): two peers learn their mapped addresses from STUN, then both send to
/// the other's mapped address and answer whoever reaches them (ICE's triggered checks, reduced to the
/// bone). It works unless UDP is blocked, or one side is symmetric and the other filters by port.
/// Also a template for the ICE tests over every pair of NAT types.
/// </summary>
public class HolePunchingMatrixTests
{
    public static TheoryData<string, string> AllPairs()
    {
        var data = new TheoryData<string, string>();
        foreach (NatBehavior a in NatBehavior.Presets)
        {
            foreach (NatBehavior b in NatBehavior.Presets)
            {
                data.Add(a.Name, b.Name);
            }
        }
        return data;
    }

    private static bool ShouldConnect(NatBehavior a, NatBehavior b)
    {
        if (a.BlocksUdp || b.BlocksUdp)
        {
            return false;
        }
        static bool PortDependentFiltering(NatBehavior n) => n.Filtering == FilteringBehavior.AddressAndPortDependent;
        static bool Symmetric(NatBehavior n) => n.Mapping == MappingBehavior.AddressAndPortDependent;
        return !(Symmetric(a) && PortDependentFiltering(b)) && !(Symmetric(b) && PortDependentFiltering(a));
    }

    [Theory]
    [MemberData(nameof(AllPairs))]
    public void SimultaneousSendingConnectsExactlyThePairsTheRfcsSayItCan(string presetA, string presetB)
    {
        NatBehavior behaviorA = NatBehavior.Preset(presetA);
        NatBehavior behaviorB = NatBehavior.Preset(presetB);
        var sim = new Simulator(seed: 42, trace: true);
        StunServerNode stun = sim.AddStunServer(link: LinkConditions.WithLatency(5));
        var wan = new LinkConditions { Latency = TimeSpan.FromMilliseconds(20), Jitter = TimeSpan.FromMilliseconds(5) };
        VirtualSocket a = sim.AddNatRouter(behaviorA, "natA", link: wan).AddHost("a").Bind(5000);
        VirtualSocket b = sim.AddNatRouter(behaviorB, "natB", link: wan).AddHost("b").Bind(5000);

        // Without a server-reflexive address (UDP blocked) a peer still tries its host address.
        IPEndPoint reflexiveA = StunProbe.Query(a, stun.Primary)?.Mapped ?? a.SourceEndPoint;
        IPEndPoint reflexiveB = StunProbe.Query(b, stun.Primary)?.Mapped ?? b.SourceEndPoint;
        var peerA = new Puncher(a, reflexiveB);
        var peerB = new Puncher(b, reflexiveA);
        for (int i = 0; i < 50; i++)
        {
            sim.Schedule(TimeSpan.FromMilliseconds(100 * i), () => { peerA.Punch(); peerB.Punch(); });
        }

        bool connected = sim.RunUntil(() => peerA.Heard && peerB.Heard, TimeSpan.FromSeconds(6));

        connected.ShouldBe(ShouldConnect(behaviorA, behaviorB), sim.Trace!.Tail(40));
    }

    /// <summary>Sends to its target; whoever it hears from becomes the target (a peer-reflexive candidate) and gets an answer.</summary>
    private sealed class Puncher
    {
        private readonly VirtualSocket _socket;
        private IPEndPoint _target;

        public Puncher(VirtualSocket socket, IPEndPoint target)
        {
            _socket = socket;
            _target = target;
            socket.OnReceive(datagram =>
            {
                Heard = true;
                _target = datagram.From;
                if (datagram.Payload[0] == 0)
                {
                    socket.Send(_target, [1]); // answer a punch at once
                }
            });
        }

        public bool Heard { get; private set; }

        public void Punch() => _socket.Send(_target, [0]);
    }
}
