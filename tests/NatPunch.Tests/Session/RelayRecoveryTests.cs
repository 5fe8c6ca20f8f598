using System.Net;
using NatPunch.Relay;
using NatPunch.Session;

namespace NatPunch.Tests.Session;

/// <summary>The relay's recovery timing on a fake clock: re-allocation back-off, fresh credentials, asking a quiet relay.</summary>
public class RelayRecoveryTests
{
    private static readonly RelayServer Server = new(IPEndPoint.Parse("192.0.2.1:3478"), new TurnCredentials("u", "p"), Udp: true, Tcp: true);
    private readonly RelayRecovery _recovery = new();

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void AfterALossRoundsComeAfterOneSecondThenTwiceAsLongUpToThirtyUntilOneIsGranted()
    {
        _recovery.NextWakeUp.ShouldBeNull();
        _recovery.Lost(Server, S(10));
        _recovery.Reallocating.ShouldBeTrue();
        _recovery.NextWakeUp.ShouldBe(S(11));
        _recovery.HandleTimeout(S(10.5)).ShouldBe((false, false));
        _recovery.HandleTimeout(S(11)).ShouldBe((true, false));
        _recovery.NextWakeUp.ShouldBeNull("the round runs; its outcome decides what comes next");

        var rounds = new List<double>();
        TimeSpan now = S(11);
        for (int i = 0; i < 7; i++)
        {
            _recovery.RoundFailed(Server, now);
            now = _recovery.NextWakeUp!.Value;
            _recovery.HandleTimeout(now).AllocateNow.ShouldBeTrue();
            rounds.Add(now.TotalSeconds);
        }
        rounds.ShouldBe([13, 17, 25, 41, 71, 101, 131]);

        _recovery.Granted();
        _recovery.Reallocating.ShouldBeFalse();
        _recovery.NextWakeUp.ShouldBeNull();
    }

    [Fact]
    public void FreshCredentialsStartAWaitingRoundAtOnceAndTheBackOffOver()
    {
        _recovery.Lost(Server, S(0));
        _recovery.HandleTimeout(S(1));
        _recovery.RoundFailed(Server, S(1));
        _recovery.RoundFailed(Server, S(3));
        _recovery.NextWakeUp.ShouldBe(S(7));
        _recovery.CredentialsChanged(Server, S(4));
        _recovery.NextWakeUp.ShouldBe(S(4));
        _recovery.HandleTimeout(S(4)).AllocateNow.ShouldBeTrue();
        _recovery.RoundFailed(Server, S(4));
        _recovery.NextWakeUp.ShouldBe(S(6), "doubled from the first interval again");

        var idle = new RelayRecovery();
        idle.CredentialsChanged(Server, S(4));
        idle.NextWakeUp.ShouldBeNull("nothing was waiting: the allocation in use keeps its credentials");
    }

    [Fact]
    public void AQuietRelayIsAskedOnceAndMustAnswerWithinThreeSeconds()
    {
        _recovery.ShouldAsk(Server, lastHeard: S(9), now: S(10)).ShouldBeFalse("heard 1 s ago");
        _recovery.Confirming.ShouldBeFalse();
        _recovery.ShouldAsk(Server, lastHeard: S(8), now: S(10)).ShouldBeTrue("quiet for 2 s");
        _recovery.Confirming.ShouldBeTrue();
        _recovery.ShouldAsk(Server, lastHeard: S(8), now: S(11)).ShouldBeFalse("already asked");
        _recovery.NextWakeUp.ShouldBe(S(13));
        _recovery.HandleTimeout(S(12.9)).ShouldBe((false, false));
        _recovery.HandleTimeout(S(13)).ShouldBe((false, true));
        _recovery.Confirming.ShouldBeFalse();

        _recovery.ShouldAsk(Server, lastHeard: S(8), now: S(20)).ShouldBeTrue();
        _recovery.Confirmed().ShouldBeTrue("an agent kept waiting gets the candidate now");
        _recovery.Confirmed().ShouldBeFalse();
        _recovery.NextWakeUp.ShouldBeNull();
    }
}
