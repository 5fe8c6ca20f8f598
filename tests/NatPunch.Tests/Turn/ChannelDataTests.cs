using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;

namespace NatPunch.Tests.Turn;

/// <summary>ChannelData (RFC 8656 §12.4, §12.5) and its demultiplexing from STUN (RFC 7983 §7).</summary>
public class ChannelDataTests
{
    [Fact]
    public void UnpaddedMessageIsHeaderAndData()
    {
        var buffer = new byte[16];
        int length = ChannelData.Write(buffer, 0x4001, "hello"u8, pad: false);

        length.ShouldBe(9);
        buffer[..9].ShouldBe(Hex.Parse("4001 0005 68656c6c6f"));
    }

    [Fact]
    public void PaddedMessageIsZeroPaddedToFourBytesAndTheLengthFieldExcludesPadding()
    {
        var buffer = new byte[16];
        buffer.AsSpan().Fill(0xAA);
        int length = ChannelData.Write(buffer, 0x4001, "hello"u8, pad: true);

        length.ShouldBe(12);
        buffer[..12].ShouldBe(Hex.Parse("4001 0005 68656c6c6f 000000"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ParseReturnsChannelAndDataWithoutPadding(bool padded)
    {
        var buffer = new byte[16];
        int length = ChannelData.Write(buffer, 0x4FFF, "hello"u8, padded);

        ChannelData.TryParse(buffer.AsSpan(0, length), out ChannelData message).ShouldBeTrue();
        message.Channel.ShouldBe((ushort)0x4FFF);
        message.Data.ToArray().ShouldBe("hello"u8.ToArray());
    }

    [Fact]
    public void EmptyDataIsAllowed()
    {
        ChannelData.TryParse(Hex.Parse("4000 0000"), out ChannelData message).ShouldBeTrue();

        message.Channel.ShouldBe((ushort)0x4000);
        message.Data.Length.ShouldBe(0);
    }

    [Theory]
    [InlineData(0, 4)]
    [InlineData(1, 8)]
    [InlineData(4, 8)]
    [InlineData(5, 12)]
    [InlineData(8, 12)]
    [InlineData(65535, 65540)]
    public void FramedLengthOnAStreamIncludesPadding(int dataLength, int framed)
    {
        byte[] header = [0x40, 0x01, (byte)(dataLength >> 8), (byte)dataLength];

        ChannelData.TryGetFramedLength(header, out int total).ShouldBeTrue();
        total.ShouldBe(framed);
    }

    [Fact]
    public void FramedLengthNeedsTheFourHeaderBytes()
    {
        ChannelData.TryGetFramedLength(Hex.Parse("4001 00"), out _).ShouldBeFalse();
    }

    [Theory]
    [InlineData(0x3FFF)]
    [InlineData(0x5000)]
    [InlineData(0x7FFF)]
    [InlineData(0x8000)]
    [InlineData(0xFFFF)]
    [InlineData(0x0001)]
    public void ChannelOutside0x4000To0x4FFFIsRejected(int channel)
    {
        byte[] bytes = [(byte)(channel >> 8), (byte)channel, 0x00, 0x04, 1, 2, 3, 4];

        ChannelData.IsValidChannel(channel).ShouldBeFalse();
        ChannelData.TryParse(bytes, out _).ShouldBeFalse();
        ChannelData.TryGetFramedLength(bytes, out _).ShouldBeFalse();
    }

    [Theory]
    [InlineData(0x4000)]
    [InlineData(0x4ABC)]
    [InlineData(0x4FFF)]
    public void ChannelInside0x4000To0x4FFFIsValid(int channel)
    {
        ChannelData.IsValidChannel(channel).ShouldBeTrue();
    }

    [Fact]
    public void LengthPastTheEndIsRejected()
    {
        ChannelData.TryParse(Hex.Parse("4000 0010 01020304"), out _).ShouldBeFalse();
    }

    [Fact]
    public void FewerThanFourBytesAreRejected()
    {
        ChannelData.TryParse(Hex.Parse("4000 00"), out _).ShouldBeFalse();
        ChannelData.TryParse([], out _).ShouldBeFalse();
    }

    [Fact]
    public void FirstByteTellsChannelDataFromStun()
    {
        for (int first = 0; first < 256; first++)
        {
            byte[] datagram = new byte[20];
            datagram[0] = (byte)first;
            bool stun = StunMessage.LooksLikeStun(datagram);
            bool channelData = ChannelData.LooksLikeChannelData(datagram);

            stun.ShouldBe(first <= 3, $"first byte {first}");
            channelData.ShouldBe(first is >= 64 and <= 79, $"first byte {first}");
        }
    }
}
