using NatPunch.Streams;
using NatPunch.Streams.Internal;

namespace NatPunch.Tests.Streams;

public class StreamSegmentTests
{
    private static readonly StreamSegmentHeader Header = new(
        StreamId: 0xA1B2C3D4, Flags: StreamSegmentFlags.Fin, Sequence: 0xFFFFFFF0, Acknowledgment: 7,
        Window: 65536, TimestampValue: 123456, TimestampEcho: 654321);

    [Fact]
    public void RoundTripsHeaderSackBlocksAndPayload()
    {
        var buffer = new byte[1200];
        SackBlock[] blocks = [new(100, 200), new(300, 450)];
        int length = StreamSegment.Write(buffer, Header, blocks, "hello"u8);
        length.ShouldBe(StreamSegment.HeaderSize + 1 + 2 * 8 + 5);

        StreamSegment.TryParse(buffer.AsSpan(0, length), out StreamSegment segment, out var error).ShouldBeTrue();
        error.ShouldBe(StreamSegmentParseError.None);
        segment.Header.ShouldBe(Header with { Flags = StreamSegmentFlags.Fin | StreamSegmentFlags.Sack });
        segment.SackBlockCount.ShouldBe(2);
        segment.GetSackBlock(0).ShouldBe(blocks[0]);
        segment.GetSackBlock(1).ShouldBe(blocks[1]);
        segment.Payload.ToArray().ShouldBe("hello"u8.ToArray());
        segment.IsFin.ShouldBeTrue();
        StreamSegment.TryReadStreamId(buffer.AsSpan(0, length), out uint id).ShouldBeTrue();
        id.ShouldBe(0xA1B2C3D4u);
    }

    [Fact]
    public void SackFlagFollowsTheBlocksGiven()
    {
        var buffer = new byte[100];
        int length = StreamSegment.Write(buffer, Header with { Flags = StreamSegmentFlags.Sack }, [], []);
        StreamSegment.TryParse(buffer.AsSpan(0, length), out StreamSegment segment, out _).ShouldBeTrue();
        segment.Flags.ShouldBe(StreamSegmentFlags.None);
        segment.SackBlockCount.ShouldBe(0);
    }

    [Fact]
    public void ResetCarriesCodeAndReason()
    {
        var buffer = new byte[100];
        byte[] payload = [0, 0, 0x10, 0x01, .. "bye"u8];
        int length = StreamSegment.Write(buffer, Header with { Flags = StreamSegmentFlags.Reset }, [], payload);
        StreamSegment.TryParse(buffer.AsSpan(0, length), out StreamSegment segment, out _).ShouldBeTrue();
        segment.IsReset.ShouldBeTrue();
        segment.ResetCode.ShouldBe(0x1001u);
        segment.ResetReason.ShouldBe("bye");
    }

    public static TheoryData<string, byte[], StreamSegmentParseError> Malformed()
    {
        var valid = new byte[200];
        int length = StreamSegment.Write(valid, Header, [new SackBlock(1, 2)], new byte[50]);
        byte[] Valid() => valid.AsSpan(0, length).ToArray();
        byte[] With(Action<byte[]> change)
        {
            byte[] copy = Valid();
            change(copy);
            return copy;
        }
        return new()
        {
            { "empty", [], StreamSegmentParseError.TooShort },
            { "header minus one", Valid()[..(StreamSegment.HeaderSize - 1)], StreamSegmentParseError.TooShort },
            { "version 0", With(b => b[0] = 0x00), StreamSegmentParseError.UnsupportedVersion },
            { "version 2", With(b => b[0] = 0x20), StreamSegmentParseError.UnsupportedVersion },
            { "sack count 0", With(b => b[StreamSegment.HeaderSize] = 0), StreamSegmentParseError.BadSackBlockCount },
            { "sack count 17", With(b => b[StreamSegment.HeaderSize] = 17), StreamSegmentParseError.BadSackBlockCount },
            { "sack blocks cut", Valid()[..(StreamSegment.HeaderSize + 5)], StreamSegmentParseError.TooShort },
            { "payload cut", Valid()[..(length - 1)], StreamSegmentParseError.Truncated },
            { "trailing byte", [.. Valid(), 0], StreamSegmentParseError.TrailingBytes },
            { "reset without code", With(b => { b[1] = (byte)StreamSegmentFlags.Reset; b[2] = 0; b[3] = 2; })[..(StreamSegment.HeaderSize + 2)], StreamSegmentParseError.BadReset },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void RejectsMalformedInputWithTheReason(string name, byte[] bytes, StreamSegmentParseError expected)
    {
        StreamSegment.TryParse(bytes, out _, out var error).ShouldBeFalse(name);
        error.ShouldBe(expected, name);
    }

    [Fact]
    public void RandomBytesNeverThrow()
    {
        var random = new Random(42);
        var buffer = new byte[1500];
        for (int i = 0; i < 100_000; i++)
        {
            int length = random.Next(buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            if (i % 2 == 0 && length > 0)
            {
                buffer[0] = StreamSegment.Version << 4; // get past the version check half the time
            }
            if (StreamSegment.TryParse(buffer.AsSpan(0, length), out StreamSegment segment, out _))
            {
                for (int b = 0; b < segment.SackBlockCount; b++)
                {
                    _ = segment.GetSackBlock(b);
                }
                _ = segment.ResetReason;
            }
        }
    }

    [Theory]
    [InlineData(0u, 0L, 0L)]
    [InlineData(5u, 10L, 5L)]
    [InlineData(0xFFFFFFF0u, 0x1_0000_0010L, 0xFFFFFFF0L)]      // just below a wrap
    [InlineData(0x10u, 0xFFFF_FFF0L, 0x1_0000_0010L)]           // just past a wrap
    [InlineData(0x10u, 0x3_FFFF_FFF0L, 0x4_0000_0010L)]
    [InlineData(0x7FFF_FFFFu, 0L, 0x7FFF_FFFFL)]                // as far ahead as can be told
    [InlineData(0x8000_0001u, 0L, -0x7FFF_FFFFL)]              // further: taken as behind
    public void WidensWireSequenceNumbersNearTheReference(uint wire, long reference, long expected)
    {
        SequenceNumber.Widen(wire, reference).ShouldBe(expected);
        SequenceNumber.ToWire(expected).ShouldBe(wire);
    }
}
