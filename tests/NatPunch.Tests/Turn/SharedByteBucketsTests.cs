using NatPunch.Server.Internal;
using NatPunch.Server.Turn;
using Shouldly;
using Xunit;

namespace NatPunch.Tests.Turn;

public sealed class SharedByteBucketsTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void OneBucketPerKeyLivesAsLongAsItsAllocations()
    {
        var buckets = new SharedByteBuckets<string>(1000);
        TokenBucket first = buckets.Acquire("alice", Start)!;
        buckets.Acquire("alice", Start).ShouldBeSameAs(first);
        buckets.Acquire("bob", Start).ShouldNotBeSameAs(first);
        buckets.Count.ShouldBe(2);

        buckets.Release("alice");
        buckets.Count.ShouldBe(2);
        buckets.Release("alice");
        buckets.Release("bob");
        buckets.Count.ShouldBe(0);
        buckets.Release("nobody");
        buckets.Count.ShouldBe(0);
    }

    [Fact]
    public void NoLimitMeansNoBuckets()
    {
        var buckets = new SharedByteBuckets<string>(0);
        buckets.Acquire("alice", Start).ShouldBeNull();
        buckets.Count.ShouldBe(0);
    }

    [Fact]
    public void ABandwidthBucketHoldsOneSecondAndRefillsWithTime()
    {
        TokenBucket bucket = RelayBandwidth.Limit(1000, Start)!;
        TimeSpan at(DateTimeOffset time) => RelayBandwidth.Clock(time);
        bucket.HasRoomFor(1000, at(Start)).ShouldBeTrue();
        bucket.HasRoomFor(1001, at(Start)).ShouldBeFalse();
        bucket.Take(1000);
        bucket.HasRoomFor(1, at(Start)).ShouldBeFalse();
        bucket.HasRoomFor(500, at(Start.AddMilliseconds(500))).ShouldBeTrue();
        bucket.HasRoomFor(1001, at(Start.AddSeconds(10))).ShouldBeFalse();
        bucket.HasRoomFor(1000, at(Start.AddSeconds(10))).ShouldBeTrue();
        RelayBandwidth.Limit(0, Start).ShouldBeNull();
    }
}
