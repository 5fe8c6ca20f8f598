using NatPunch.Server.Turn;
using Shouldly;
using Xunit;

namespace NatPunch.Tests.Turn;

public sealed class TurnRefusalSummaryTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void SaysNothingWhenNothingWasRefused()
    {
        new TurnRefusalSummary(TimeSpan.FromSeconds(10)).Due(new TurnCounters(), Start).ShouldBeNull();
    }

    [Fact]
    public void SaysWhatWasRefusedAtMostOncePerInterval()
    {
        var summary = new TurnRefusalSummary(TimeSpan.FromSeconds(10));
        var counters = new TurnCounters { QuotaRefusals = 2, BandwidthDrops = 7 };
        string first = summary.Due(counters, Start).ShouldNotBeNull();
        first.ShouldContain("2 allocation(s) refused");
        first.ShouldContain("0 permission(s)");
        first.ShouldContain("7 datagram(s) dropped over a bandwidth limit");

        counters.BandwidthDrops = 10;
        summary.Due(counters, Start.AddSeconds(5)).ShouldBeNull();
        string second = summary.Due(counters, Start.AddSeconds(10)).ShouldNotBeNull();
        second.ShouldContain("0 allocation(s) refused");
        second.ShouldContain("3 datagram(s) dropped");
        summary.Due(counters, Start.AddSeconds(30)).ShouldBeNull();
    }
}
