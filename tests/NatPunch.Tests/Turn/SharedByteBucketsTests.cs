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
        ByteBucket first = buckets.Acquire("alice", Start)!;
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
    public void ABucketHoldsOneSecondAndRefillsWithTime()
    {
        var bucket = new ByteBucket(1000, Start);
        bucket.HasRoomFor(1000, Start).ShouldBeTrue();
        bucket.HasRoomFor(1001, Start).ShouldBeFalse();
        bucket.Take(1000);
        bucket.HasRoomFor(1, Start).ShouldBeFalse();
        bucket.HasRoomFor(500, Start.AddMilliseconds(500)).ShouldBeTrue();
        bucket.HasRoomFor(1001, Start.AddSeconds(10)).ShouldBeFalse();
        bucket.HasRoomFor(1000, Start.AddSeconds(10)).ShouldBeTrue();
    }
}
