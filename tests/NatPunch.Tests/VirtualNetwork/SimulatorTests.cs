using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>The event loop, the clock, how cores are driven, the trace, and determinism.</summary>
public class SimulatorTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void EventsRunInTimeOrderAndEqualTimesInSchedulingOrder()
    {
        var sim = new Simulator();
        var log = new List<string>();
        sim.Schedule(20 * Ms, () => log.Add("c"));
        sim.Schedule(10 * Ms, () => log.Add("a"));
        sim.Schedule(10 * Ms, () => log.Add("b"));
        sim.Schedule(10 * Ms, () => sim.Schedule(TimeSpan.Zero, () => log.Add("b2"))); // same instant, queued last

        sim.RunFor(TimeSpan.FromSeconds(1));

        log.ShouldBe(["a", "b", "b2", "c"]);
        sim.Now.ShouldBe(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void RunUntilStopsAtTheConditionOrAtTheLimit()
    {
        var sim = new Simulator();
        int ticks = 0;
        for (int i = 1; i <= 10; i++)
        {
            sim.Schedule(i * 100 * Ms, () => ticks++);
        }

        sim.RunUntil(() => ticks == 3, TimeSpan.FromSeconds(10)).ShouldBeTrue();
        sim.Now.ShouldBe(300 * Ms);

        sim.RunUntil(() => ticks == 100, TimeSpan.FromSeconds(2)).ShouldBeFalse();
        sim.Now.ShouldBe(2300 * Ms);
        ticks.ShouldBe(10);
        sim.RunUntilIdle(TimeSpan.FromSeconds(1)).ShouldBeTrue();
    }

    [Fact]
    public void ACoreIsPolledWhenAttachedAndDrivenByDatagramsAndWakeUps()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.PortRestrictedCone);
        VirtualSocket server = sim.AddHost("server", link: LinkConditions.WithLatency(5)).Bind(7000);
        var echo = new PingCore(peer: null, TimeSpan.Zero);
        server.Attach(echo);
        var client = new PingCore(server.SourceEndPoint, 100 * Ms);
        VirtualSocket socket = nat.AddHost("client").Bind(5000);

        socket.Attach(client);
        sim.RunFor(TimeSpan.FromMilliseconds(950));

        client.Pongs.Count.ShouldBe(10); // pings at 0, 100, …, 900 ms; each pong 10 ms later
        client.Pongs[0].Time.ShouldBe(10 * Ms);
        client.Pongs.ShouldAllBe(p => p.From.Equals(server.SourceEndPoint));
        echo.Pings.ShouldAllBe(p => p.From.Equals(new IPEndPoint(nat.PublicAddress, 5000)));
        socket.SentCount.ShouldBe(10);
        socket.ReceivedCount.ShouldBe(10);
    }

    [Fact]
    public void PollPicksUpAChangeMadeFromOutsideAndStaleWakeUpsAreIgnored()
    {
        var sim = new Simulator();
        VirtualSocket server = sim.AddHost().Bind(7000);
        server.Attach(new PingCore(null, TimeSpan.Zero));
        var client = new PingCore(server.SourceEndPoint, 100 * Ms) { Running = false };
        VirtualSocket socket = sim.AddHost().Bind(5000);
        socket.Attach(client);

        sim.RunFor(TimeSpan.FromSeconds(1));
        client.Pongs.ShouldBeEmpty();

        client.Start(sim.Now);
        socket.Poll();
        sim.RunFor(TimeSpan.FromMilliseconds(250));
        client.Pongs.Count.ShouldBe(3);

        client.Running = false;
        socket.Poll(); // NextWakeUp is now null: the pending wake-up must not fire
        int timeouts = client.TimeoutsHandled;
        sim.RunFor(TimeSpan.FromSeconds(1));
        client.TimeoutsHandled.ShouldBe(timeouts);
        sim.PendingEvents.ShouldBe(0);
    }

    [Fact]
    public void ACoreThatNeverLetsTimeAdvanceIsReportedNotHung()
    {
        var sim = new Simulator();
        VirtualSocket socket = sim.AddHost().Bind(5000);
        socket.Attach(new StuckCore());

        Should.Throw<InvalidOperationException>(() => sim.RunFor(TimeSpan.FromSeconds(1)))
            .Message.ShouldContain("StuckCore on host1 198.18.0.1:5000: NextWakeUp");
    }

    [Fact]
    public void AClosedSocketStopsItsCoreAndItsPort()
    {
        var sim = new Simulator();
        VirtualSocket server = sim.AddHost().Bind(7000);
        var client = new PingCore(server.SourceEndPoint, 100 * Ms);
        VirtualSocket socket = sim.AddHost().Bind(5000);
        socket.Attach(client);
        sim.RunFor(TimeSpan.FromMilliseconds(150));
        server.Inbox.Count.ShouldBe(2);

        socket.Close();
        sim.RunFor(TimeSpan.FromSeconds(1));

        server.Inbox.Count.ShouldBe(2);
        Should.Throw<ObjectDisposedException>(() => socket.Send(server.SourceEndPoint, [1]));
        socket.Host.Bind(5000).ShouldNotBeNull(); // the port is free again
    }

    [Fact]
    public void BindingATakenPortThrowsAndPortZeroPicksAnEphemeralPort()
    {
        var sim = new Simulator();
        VirtualHost host = sim.AddHost();
        host.Bind(5000);
        Should.Throw<InvalidOperationException>(() => host.Bind(5000));
        host.Bind().LocalEndPoint.Port.ShouldBe(VirtualHost.FirstEphemeralPort);
        host.Bind().LocalEndPoint.Port.ShouldBe(VirtualHost.FirstEphemeralPort + 1);
    }

    [Fact]
    public void TheTraceFollowsOneDatagramAcrossEveryHop()
    {
        var sim = new Simulator(trace: true);
        NatRouter nat = sim.AddNatRouter(NatBehavior.FullCone, "nat");
        VirtualSocket inside = nat.AddHost("alice").Bind(5000);
        VirtualSocket outside = sim.AddHost("bob").Bind(6000);

        inside.Send(outside.SourceEndPoint, [1, 2, 3]);
        sim.RunFor(TimeSpan.FromSeconds(1));

        long id = outside.Inbox.ShouldHaveSingleItem().PacketId;
        sim.Trace!.ForPacket(id).Select(e => (e.Kind, e.Node)).ShouldBe(
            [(TraceKind.Sent, "alice"), (TraceKind.TranslatedOutbound, "nat"), (TraceKind.Delivered, "bob")]);
        string text = sim.Trace.ToString();
        text.ShouldContain("MappingCreated");
        text.ShouldContain("192.168.1.2:5000 = " + nat.PublicAddress + ":5000");
    }

    [Fact]
    public void TheSameSeedGivesTheSameRunAndAnotherSeedAnother()
    {
        string first = RunBusyScenario(seed: 7);
        string second = RunBusyScenario(seed: 7);
        string other = RunBusyScenario(seed: 8);

        first.Length.ShouldBeGreaterThan(1000);
        second.ShouldBe(first);
        other.ShouldNotBe(first);
    }

    /// <summary>Everything random at once: random NAT ports, loss, jitter, duplication, STUN ids, pings.</summary>
    private static string RunBusyScenario(int seed)
    {
        var sim = new Simulator(seed, trace: true);
        var shaky = new LinkConditions
        {
            Latency = TimeSpan.FromMilliseconds(20),
            Jitter = TimeSpan.FromMilliseconds(15),
            LossRate = 0.1,
            DuplicationRate = 0.05,
        };
        StunServerNode stun = sim.AddStunServer(link: shaky);
        NatRouter symmetric = sim.AddNatRouter(NatBehavior.Symmetric, "sym", link: shaky);
        NatRouter cone = sim.AddNatRouter(NatBehavior.RestrictedCone, "cone", link: shaky);
        VirtualSocket a = symmetric.AddHost("a").Bind(5000);
        VirtualSocket b = cone.AddHost("b").Bind(5000);
        for (int i = 0; i < 4; i++)
        {
            StunProbe.Query(a, stun.Addresses[i]);
            StunProbe.Query(b, stun.Addresses[i]);
        }
        VirtualSocket server = sim.AddHost("server", link: shaky).Bind(7000);
        server.Attach(new PingCore(null, TimeSpan.Zero));
        a.Attach(new PingCore(server.SourceEndPoint, 50 * Ms));
        sim.RunFor(TimeSpan.FromSeconds(3));
        return sim.Trace!.ToString() + sim.Counters;
    }
}
