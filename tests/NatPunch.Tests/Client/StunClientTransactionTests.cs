using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;

namespace NatPunch.Tests.Client;

public class StunClientTransactionTests
{
    private static readonly IPEndPoint Server = IPEndPoint.Parse("192.0.2.10:3478");
    private static readonly IPEndPoint Mapped = IPEndPoint.Parse("203.0.113.5:40001");

    private static StunClientTransaction NewTransaction(StunRetransmissionOptions? options = null, bool reliable = false, TransactionId? id = null) =>
        new(new StunRequest(Server).Encode(id ?? TransactionId.NewRandom()), options, reliable);

    /// <summary>Drives the transaction with a fake clock that jumps to each wake-up; returns send times and the failure time.</summary>
    private static (List<double> Sends, double? FailedAt) RunToTimeout(StunClientTransaction transaction)
    {
        var sends = new List<double>();
        TimeSpan now = TimeSpan.Zero;
        for (int i = 0; i < 100; i++)
        {
            StunTransactionStep step = transaction.Poll(now);
            if (step.ShouldSend)
            {
                sends.Add(now.TotalMilliseconds);
            }
            if (step.State == StunTransactionState.TimedOut)
            {
                return (sends, now.TotalMilliseconds);
            }
            now = step.NextWakeUp!.Value;
        }
        return (sends, null);
    }

    [Fact]
    public void DefaultScheduleFollowsRfc8489Section621()
    {
        (List<double> sends, double? failedAt) = RunToTimeout(NewTransaction());

        sends.ShouldBe([0, 500, 1500, 3500, 7500, 15500, 31500]);
        failedAt.ShouldBe(39500);
        StunRetransmissionOptions.Default.UnreliableTimeout.ShouldBe(TimeSpan.FromMilliseconds(39500));
    }

    [Fact]
    public void ACappedScheduleWithADeadlineRetransmitsUntilItAsIceChecksDo()
    {
        var options = new StunRetransmissionOptions { InitialRto = TimeSpan.FromMilliseconds(100), MaxRto = TimeSpan.FromMilliseconds(400), MaxSends = int.MaxValue, FinalWaitMultiplier = 0 };
        var transaction = new StunClientTransaction(new StunRequest(Server).Encode(TransactionId.NewRandom()), options) { GiveUpAt = TimeSpan.FromMilliseconds(1500) };

        (List<double> sends, double? failedAt) = RunToTimeout(transaction);

        sends.ShouldBe([0, 100, 300, 700, 1100]);
        failedAt.ShouldBe(1500, "the deadline, not the next send at 1500 + 0");
    }

    [Fact]
    public void RetransmitNowSendsAtTheNextPollAndStartsTheScheduleOver()
    {
        var options = new StunRetransmissionOptions { InitialRto = TimeSpan.FromMilliseconds(100), MaxRto = TimeSpan.FromMilliseconds(400), MaxSends = int.MaxValue };
        var transaction = new StunClientTransaction(new StunRequest(Server).Encode(TransactionId.NewRandom()), options);
        transaction.Poll(TimeSpan.Zero);
        transaction.Poll(TimeSpan.FromMilliseconds(100));
        transaction.Poll(TimeSpan.FromMilliseconds(300)).NextWakeUp.ShouldBe(TimeSpan.FromMilliseconds(700));

        transaction.RetransmitNow(TimeSpan.FromMilliseconds(350));
        transaction.NextWakeUp.ShouldBe(TimeSpan.FromMilliseconds(350));
        StunTransactionStep step = transaction.Poll(TimeSpan.FromMilliseconds(350));
        step.ShouldSend.ShouldBeTrue();
        step.NextWakeUp.ShouldBe(TimeSpan.FromMilliseconds(550), "doubled from the initial RTO again");
    }

    [Fact]
    public void ScheduleStartsAtTheFirstPoll()
    {
        var transaction = NewTransaction();
        TimeSpan start = TimeSpan.FromSeconds(100);

        StunTransactionStep first = transaction.Poll(start);

        first.ShouldSend.ShouldBeTrue();
        first.NextWakeUp.ShouldBe(start + TimeSpan.FromMilliseconds(500));
        transaction.StartedAt.ShouldBe(start);
        transaction.State.ShouldBe(StunTransactionState.Waiting);
    }

    [Fact]
    public void PollBeforeTheWakeUpSendsNothing()
    {
        var transaction = NewTransaction();
        transaction.Poll(TimeSpan.Zero);

        StunTransactionStep early = transaction.Poll(TimeSpan.FromMilliseconds(499));

        early.ShouldSend.ShouldBeFalse();
        early.NextWakeUp.ShouldBe(TimeSpan.FromMilliseconds(500));
        transaction.SendCount.ShouldBe(1);
        transaction.Poll(TimeSpan.FromMilliseconds(500)).ShouldSend.ShouldBeTrue();
        transaction.SendCount.ShouldBe(2);
    }

    [Fact]
    public void LatePollSendsOnceAndSchedulesFromTheActualSend()
    {
        var transaction = NewTransaction();
        transaction.Poll(TimeSpan.Zero);

        StunTransactionStep late = transaction.Poll(TimeSpan.FromMilliseconds(2000));

        late.ShouldSend.ShouldBeTrue();
        late.NextWakeUp.ShouldBe(TimeSpan.FromMilliseconds(3000));
        transaction.SendCount.ShouldBe(2);
    }

    [Fact]
    public void CustomOptionsChangeTheSchedule()
    {
        var options = new StunRetransmissionOptions { InitialRto = TimeSpan.FromMilliseconds(100), MaxSends = 3, FinalWaitMultiplier = 2 };

        (List<double> sends, double? failedAt) = RunToTimeout(NewTransaction(options));

        sends.ShouldBe([0, 100, 300]);
        failedAt.ShouldBe(500);
        options.UnreliableTimeout.ShouldBe(TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public void MaxRtoCapsTheDoubling()
    {
        var options = new StunRetransmissionOptions
        {
            InitialRto = TimeSpan.FromMilliseconds(100),
            MaxRto = TimeSpan.FromMilliseconds(250),
            MaxSends = 5,
            FinalWaitMultiplier = 1,
        };

        (List<double> sends, double? failedAt) = RunToTimeout(NewTransaction(options));

        sends.ShouldBe([0, 100, 300, 550, 800]);
        failedAt.ShouldBe(900);
    }

    [Fact]
    public void SingleSendWaitsRmTimesRto()
    {
        var options = StunRetransmissionOptions.Default with { MaxSends = 1 };

        (List<double> sends, double? failedAt) = RunToTimeout(NewTransaction(options));

        sends.ShouldBe([0]);
        failedAt.ShouldBe(8000);
    }

    [Fact]
    public void ReliableTransportSendsOnceAndTimesOutAt39500()
    {
        (List<double> sends, double? failedAt) = RunToTimeout(NewTransaction(reliable: true));

        sends.ShouldBe([0]);
        failedAt.ShouldBe(39500);
    }

    [Fact]
    public void ReliableTimeoutIsConfigurable()
    {
        var options = StunRetransmissionOptions.Default with { ReliableTimeout = TimeSpan.FromSeconds(3) };

        (List<double> sends, double? failedAt) = RunToTimeout(NewTransaction(options, reliable: true));

        sends.ShouldBe([0]);
        failedAt.ShouldBe(3000);
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => NewTransaction(StunRetransmissionOptions.Default with { MaxSends = 0 }));
        Should.Throw<ArgumentOutOfRangeException>(() => NewTransaction(StunRetransmissionOptions.Default with { InitialRto = TimeSpan.Zero }));
    }

    [Fact]
    public void NonRequestBytesAreAProgrammingError()
    {
        Should.Throw<ArgumentException>(() => new StunClientTransaction(new byte[] { 1, 2, 3 }));
        Should.Throw<ArgumentException>(() => new StunClientTransaction(StunMessages.Error(TransactionId.NewRandom(), 400)));
    }

    [Fact]
    public void SuccessResponseCompletesWithParsedAttributes()
    {
        TransactionId id = TransactionId.NewRandom();
        var transaction = NewTransaction(id: id);
        transaction.Poll(TimeSpan.Zero);
        IPEndPoint origin = IPEndPoint.Parse("192.0.2.10:3478");
        IPEndPoint other = IPEndPoint.Parse("192.0.2.11:3479");

        bool handled = transaction.TryHandleResponse(StunMessages.Success(id, Mapped, origin, other, "test server"), Server, TimeSpan.FromMilliseconds(42));

        handled.ShouldBeTrue();
        transaction.State.ShouldBe(StunTransactionState.Completed);
        transaction.NextWakeUp.ShouldBeNull();
        StunResponse response = transaction.Response.ShouldNotBeNull();
        response.IsSuccess.ShouldBeTrue();
        response.TransactionId.ShouldBe(id);
        response.MappedAddress.ShouldBe(Mapped);
        response.ResponseOrigin.ShouldBe(origin);
        response.OtherAddress.ShouldBe(other);
        response.Software.ShouldBe("test server");
        response.From.ShouldBe(Server);
        response.RoundTripTime.ShouldBe(TimeSpan.FromMilliseconds(42));
        response.SendCount.ShouldBe(1);
        response.IsRoundTripTimeAmbiguous.ShouldBeFalse();
        response.ErrorCode.ShouldBeNull();
    }

    [Fact]
    public void ErrorResponseCompletesWithTheCode()
    {
        TransactionId id = TransactionId.NewRandom();
        var transaction = NewTransaction(id: id);
        transaction.Poll(TimeSpan.Zero);

        transaction.TryHandleResponse(StunMessages.Error(id, 420, "Unknown Attribute"), Server, TimeSpan.FromMilliseconds(5)).ShouldBeTrue();

        StunResponse response = transaction.Response.ShouldNotBeNull();
        response.IsSuccess.ShouldBeFalse();
        response.ErrorCode.ShouldBe(420);
        response.ErrorReason.ShouldBe("Unknown Attribute");
        response.MappedAddress.ShouldBeNull();
    }

    [Fact]
    public void ResponseAfterRetransmissionIsMarkedAmbiguous()
    {
        TransactionId id = TransactionId.NewRandom();
        var transaction = NewTransaction(id: id);
        transaction.Poll(TimeSpan.Zero);
        transaction.Poll(TimeSpan.FromMilliseconds(500));
        transaction.Poll(TimeSpan.FromMilliseconds(1500));

        transaction.TryHandleResponse(StunMessages.Success(id, Mapped), Server, TimeSpan.FromMilliseconds(1520)).ShouldBeTrue();

        StunResponse response = transaction.Response!;
        response.SendCount.ShouldBe(3);
        response.IsRoundTripTimeAmbiguous.ShouldBeTrue();
        response.RoundTripTime.ShouldBe(TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void OtherDatagramsAreIgnored()
    {
        TransactionId id = TransactionId.NewRandom();
        var transaction = NewTransaction(id: id);
        transaction.Poll(TimeSpan.Zero);

        transaction.TryHandleResponse(StunMessages.Success(TransactionId.NewRandom(), Mapped), Server, TimeSpan.Zero).ShouldBeFalse();
        transaction.TryHandleResponse(StunMessages.Request(id), Server, TimeSpan.Zero).ShouldBeFalse();
        transaction.TryHandleResponse([0xFF, 0x00, 0x01], Server, TimeSpan.Zero).ShouldBeFalse();
        transaction.TryHandleResponse(new byte[20], Server, TimeSpan.Zero).ShouldBeFalse();
        byte[] truncated = StunMessages.Success(id, Mapped);
        transaction.TryHandleResponse(truncated.AsSpan(0, truncated.Length - 4), Server, TimeSpan.Zero).ShouldBeFalse();

        transaction.State.ShouldBe(StunTransactionState.Waiting);
    }

    [Fact]
    public void ResponsesBeforeStartOrAfterTheEndAreIgnored()
    {
        TransactionId id = TransactionId.NewRandom();
        var transaction = NewTransaction(new StunRetransmissionOptions { MaxSends = 1, FinalWaitMultiplier = 1 }, id: id);

        transaction.TryHandleResponse(StunMessages.Success(id, Mapped), Server, TimeSpan.Zero).ShouldBeFalse();
        transaction.Poll(TimeSpan.Zero);
        transaction.Poll(TimeSpan.FromSeconds(1)).State.ShouldBe(StunTransactionState.TimedOut);
        transaction.TryHandleResponse(StunMessages.Success(id, Mapped), Server, TimeSpan.FromSeconds(2)).ShouldBeFalse();
        transaction.Response.ShouldBeNull();
    }

    [Fact]
    public void SecondResponseDoesNotReplaceTheFirst()
    {
        TransactionId id = TransactionId.NewRandom();
        var transaction = NewTransaction(id: id);
        transaction.Poll(TimeSpan.Zero);
        transaction.TryHandleResponse(StunMessages.Success(id, Mapped), Server, TimeSpan.FromMilliseconds(1)).ShouldBeTrue();

        transaction.TryHandleResponse(StunMessages.Success(id, IPEndPoint.Parse("198.51.100.1:1")), Server, TimeSpan.FromMilliseconds(2)).ShouldBeFalse();

        transaction.Response!.MappedAddress.ShouldBe(Mapped);
    }
}
