using NatPunch.Relay;
using NatPunch.Session;

namespace NatPunch.Tests.Session;

/// <summary>
/// The relay's life as a session sees it, on a fake clock against the real TURN server core: the
/// UDP/TCP race, refusal, loss and re-allocation, a quiet relay asked whether it still exists.
/// </summary>
public class RelayLifecycleTests
{
    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void AServerThatAnswersOverUdpGrantsTheRelayAndTcpIsNeverTried()
    {
        var lab = new RelayLifecycleHarness();
        lab.Start();
        lab.Run(10);

        lab.Relay.Current.ShouldNotBeNull().Transport.ShouldBe(TurnServerTransport.Udp);
        lab.StartedAttempts.Select(a => a.Transport).ShouldBe([TurnServerTransport.Udp]);
        var ready = lab.Statuses.ShouldHaveSingleItem().ShouldBeOfType<RelayStatus.Ready>();
        ready.Server.ShouldBe(RelayLifecycleHarness.ServerAddress);
        lab.Events.Select(e => e.Event).OfType<RelayEvent.CandidateReady>().ShouldHaveSingleItem()
            .Allocation.RelayedAddress.ShouldBe(ready.Relayed);
        lab.Relay.UsableAllocation.ShouldNotBeNull();
        lab.Server.AllocationCount.ShouldBe(1);
    }

    [Fact]
    public void WhenUdpIsBlockedTcpJoinsAfterASecondAndWins()
    {
        var lab = new RelayLifecycleHarness { UdpBlocked = true };
        lab.Start();
        lab.Run(0.9);
        lab.StartedAttempts.Count().ShouldBe(1, "TCP waits for UDP's second");
        lab.Run(10);

        lab.Relay.Current.ShouldNotBeNull().Transport.ShouldBe(TurnServerTransport.Tcp);
        RelayAttempt tcp = lab.StartedAttempts.Single(a => a.Transport == TurnServerTransport.Tcp);
        lab.Events.Single(e => e.Event is RelayEvent.Started { Attempt: var a } && a == tcp).At.ShouldBe(S(1));
        lab.StartedAttempts.Single(a => a.Transport == TurnServerTransport.Udp).FailureReason.ShouldBe("another transport was faster");
        lab.Statuses.ShouldHaveSingleItem().ShouldBeOfType<RelayStatus.Ready>().Transport.ShouldBe(TurnServerTransport.Tcp);
    }

    [Fact]
    public void UdpThatWasHeardIsOnlySlowAndTcpIsNotStarted()
    {
        // A server that answered the first (unsigned) Allocate over UDP, then loses what follows: TCP
        // would win for the wrong reason.
        var lab = new RelayLifecycleHarness();
        lab.Start();
        lab.UdpBlocked = true;
        lab.Run(5);
        lab.StartedAttempts.Select(a => a.Transport).ShouldBe([TurnServerTransport.Udp]);
        lab.UdpBlocked = false;
        lab.Run(5);
        lab.Relay.Current.ShouldNotBeNull().Transport.ShouldBe(TurnServerTransport.Udp);
    }

    [Fact]
    public void AWrongPasswordIsReportedAsTheRefusalNotAsATimeout()
    {
        var lab = new RelayLifecycleHarness(password: "not-it");
        lab.Start();
        lab.Run(20);

        lab.Relay.Current.ShouldBeNull();
        var failed = lab.Statuses.ShouldHaveSingleItem().ShouldBeOfType<RelayStatus.Failed>();
        failed.Reason.ShouldContain("401");
        lab.Events.Single(e => e.Event is RelayEvent.StatusChanged).At.ShouldBe(TimeSpan.Zero, "known at once, not after TCP's turn");
        lab.StartedAttempts.Select(a => a.Transport).ShouldBe([TurnServerTransport.Udp], "TCP would be refused the same");
        lab.Relay.Failure.ShouldBe(failed.Reason);
        lab.Relay.NextWakeUp.ShouldBeNull("nothing more is tried until the credentials change");
    }

    [Fact]
    public void ASilentServerFailsOnBothTransportsWithinTheAllocateTimeout()
    {
        var lab = new RelayLifecycleHarness { ServerDown = true };
        lab.Start();
        lab.Run(30);

        var failed = lab.Statuses.ShouldHaveSingleItem().ShouldBeOfType<RelayStatus.Failed>();
        failed.Reason.ShouldStartWith("no answer from the TURN server");
        lab.Events.Single(e => e.Event is RelayEvent.StatusChanged).At.ShouldBe(S(9), "TCP started at 1 s and got its 8 s");
    }

    [Fact]
    public void ARestartedServerIsFoundOutByAskingAQuietRelayAndANewAllocationReplacesIt()
    {
        var lab = new RelayLifecycleHarness();
        lab.Start();
        lab.Run(10);
        var first = (RelayStatus.Ready)lab.Statuses.Single();
        lab.RestartServer();

        // A path through the relay stopped answering: the relay, quiet for longer than QuietAfter, is asked.
        lab.Relay.ConfirmIfQuiet(lab.Now).ShouldBeTrue();
        lab.Relay.UsableAllocation.ShouldBeNull("a new agent gets no candidate while the relay is in doubt");
        lab.Pump();
        lab.Run(0.1);

        var lost = lab.Statuses.OfType<RelayStatus.Lost>().ShouldHaveSingleItem();
        lost.Reason.ShouldStartWith("the relay was lost");
        lab.Events.Select(e => e.Event).OfType<RelayEvent.CandidateWithdrawn>().ShouldHaveSingleItem().Relayed.ShouldBe(first.Relayed);
        TimeSpan lostAt = lab.Events.Single(e => e.Event is RelayEvent.StatusChanged { Status: RelayStatus.Lost }).At;

        lab.Run(5);
        var again = lab.Statuses.Last().ShouldBeOfType<RelayStatus.Ready>();
        lab.Events.Single(e => e.Event is RelayEvent.StatusChanged { Status: RelayStatus.Ready } && e.At > lostAt).At.ShouldBe(lostAt + S(1));
        lab.Events.Select(e => e.Event).OfType<RelayEvent.CandidateReady>().Count().ShouldBe(2);
        lab.Relay.Current.ShouldNotBeNull();
        lab.Server.AllocationCount.ShouldBe(1);
        lab.Relay.Failure.ShouldBeNull();
        again.Relayed.ShouldNotBeNull();
    }

    [Fact]
    public void ARelayThatAnswersTheQuestionStaysAndTheWaitingAgentGetsItsCandidate()
    {
        var lab = new RelayLifecycleHarness();
        lab.Start();
        lab.Run(10);
        lab.Relay.ConfirmIfQuiet(lab.Now).ShouldBeTrue();
        lab.Pump();

        lab.Relay.UsableAllocation.ShouldNotBeNull();
        lab.Events.Select(e => e.Event).OfType<RelayEvent.CandidateReady>().Count().ShouldBe(2, "once granted, once confirmed");
        lab.Statuses.OfType<RelayStatus.Lost>().ShouldBeEmpty();
        lab.Relay.ConfirmIfQuiet(lab.Now).ShouldBeFalse("just heard: not quiet");
    }

    [Fact]
    public void AServerThatIsGoneIsLostAfterTheConfirmTimeoutAndRoundsBackOffUntilItReturns()
    {
        var lab = new RelayLifecycleHarness();
        lab.Start();
        lab.Run(10);
        lab.ServerDown = true;
        lab.Relay.ConfirmIfQuiet(lab.Now);
        lab.Pump();
        TimeSpan askedAt = lab.Now;
        lab.Run(3);
        lab.Events.Single(e => e.Event is RelayEvent.StatusChanged { Status: RelayStatus.Lost }).At.ShouldBe(askedAt + S(3));

        // Rounds at +1 s, each failing after its 8 s (UDP at 0, TCP from 1 s), then waiting twice as long.
        lab.Run(60);
        List<TimeSpan> udpRounds = lab.Events.Where(e => e.Event is RelayEvent.Started { Attempt.Transport: TurnServerTransport.Udp } && e.At > askedAt)
            .Select(e => e.At - askedAt).ToList();
        udpRounds.Take(3).ShouldBe([S(4), S(4 + 9 + 2), S(4 + 9 + 2 + 9 + 4)]);
        lab.Statuses.OfType<RelayStatus.Failed>().ShouldBeEmpty("a lost relay is being re-allocated, not given up");

        lab.ServerDown = false;
        lab.RestartServer();
        lab.Run(60);
        lab.Statuses.Last().ShouldBeOfType<RelayStatus.Ready>();
    }

    [Fact]
    public void TheTcpRelayLostWithItsConnectionIsAllocatedAgain()
    {
        var lab = new RelayLifecycleHarness(new RelayServer(RelayLifecycleHarness.ServerAddress, new TurnCredentials("alice", "wonderland"), Udp: false, Tcp: true));
        lab.Start();
        lab.Run(1);
        RelayAttempt tcp = lab.Relay.Current.ShouldNotBeNull();
        tcp.Transport.ShouldBe(TurnServerTransport.Tcp);

        lab.CloseTcp(tcp);
        lab.Statuses.OfType<RelayStatus.Lost>().ShouldHaveSingleItem().Reason.ShouldContain("TCP connection");
        lab.Run(2);
        lab.Events.Select(e => e.Event).OfType<RelayEvent.Discarded>().ShouldContain(d => d.Attempt == tcp);
        lab.Relay.Current.ShouldNotBeNull().ShouldNotBe(tcp);
        lab.Statuses.Last().ShouldBeOfType<RelayStatus.Ready>();
    }

    [Fact]
    public void FreshCredentialsStartAWaitingRoundAtOnce()
    {
        var lab = new RelayLifecycleHarness();
        lab.Start();
        lab.Run(5);
        lab.RestartServer();
        lab.Relay.ConfirmIfQuiet(lab.Now);
        lab.Pump();
        TimeSpan lostAt = lab.Now;
        lab.Relay.UseCredentials(new TurnCredentials("alice", "wonderland") with { Username = "alice" }, lab.Now);
        lab.Relay.NextWakeUp.ShouldBe(lostAt + S(1), "same credentials: nothing changes");
        lab.Relay.UseCredentials(new TurnCredentials("alice", "other"), lab.Now);
        lab.Relay.NextWakeUp.ShouldBe(lostAt, "new credentials: the round starts now");
    }
}
