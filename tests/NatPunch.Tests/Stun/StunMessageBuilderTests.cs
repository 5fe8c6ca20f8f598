using System.Buffers.Binary;
using System.Text;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>The writer: header, attribute layout and zero padding (RFC 8489 §5, §14).</summary>
public class StunMessageBuilderTests
{
    [Fact]
    public void EmptyMessageIsAHeaderWithLengthZero()
    {
        byte[] bytes = RawStun.Build(new StunMessageType(StunMethod.Allocate, StunClass.Request), (ref StunMessageBuilder b) => { });

        bytes.ShouldBe(Hex.Parse("0003 0000 2112a442 b7e7a701bc34d686fa87dfae"));
    }

    [Theory]
    [InlineData("a", 1)]
    [InlineData("é", 2)]
    [InlineData("€", 3)]
    [InlineData("😀", 4)]
    [InlineData("aé€😀", 10)]
    [InlineData("\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9", 18)]
    [InlineData("", 0)]
    public void AddStringWritesUtf8AndZeroPadsToFourBytes(string text, int utf8Length)
    {
        var buffer = new byte[256];
        buffer.AsSpan().Fill(0xAA); // stale bytes that must not leak into padding
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, RawStun.Id);
        builder.AddString(StunAttributeType.Username, text);
        builder.AddUInt32(StunAttributeType.Priority, 0x01020304);
        byte[] bytes = builder.Written.ToArray();

        int padded = (utf8Length + 3) & ~3;
        BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(22)).ShouldBe((ushort)utf8Length);
        bytes.AsSpan(24, utf8Length).ToArray().ShouldBe(Encoding.UTF8.GetBytes(text));
        bytes.AsSpan(24 + utf8Length, padded - utf8Length).ToArray().ShouldAllBe(b => b == 0);
        bytes.Length.ShouldBe(20 + 4 + padded + 8);
        BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(2)).ShouldBe((ushort)(bytes.Length - 20));
        StunMessage message = RawStun.Parse(bytes);
        message.TryGetString(StunAttributeType.Username, out string read).ShouldBeTrue();
        read.ShouldBe(text);
        message.TryGetUInt32(StunAttributeType.Priority, out uint priority).ShouldBeTrue();
        priority.ShouldBe(0x01020304u);
    }

    [Fact]
    public void AddStringFitsABufferSizedForTheEncodedText()
    {
        const string text = "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9"; // 6 characters, 18 bytes
        var buffer = new byte[20 + 4 + 20];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, RawStun.Id);

        builder.AddString(StunAttributeType.Username, text);

        builder.Length.ShouldBe(buffer.Length);
        RawStun.Parse(buffer).TryGetString(StunAttributeType.Username, out string read).ShouldBeTrue();
        read.ShouldBe(text);
    }

    [Fact]
    public void AddErrorCodeFitsABufferSizedForTheEncodedReason()
    {
        var buffer = new byte[20 + 4 + 4 + 12]; // "Bad Request" is 11 bytes, padded to 12
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingError, RawStun.Id);

        builder.AddErrorCode(StunErrorCode.BadRequest);

        builder.Length.ShouldBe(buffer.Length);
        RawStun.Parse(buffer).TryGetErrorCode(out int code, out string reason).ShouldBeTrue();
        (code, reason).ShouldBe((400, "Bad Request"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void AddBytesZeroPadsAnyLength(int length)
    {
        var buffer = new byte[64];
        buffer.AsSpan().Fill(0xAA);
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingIndication, RawStun.Id);
        builder.AddBytes(StunAttributeType.Data, Enumerable.Repeat((byte)0x11, length).ToArray());

        int padded = (length + 3) & ~3;
        builder.Length.ShouldBe(24 + padded);
        buffer.AsSpan(24 + length, padded - length).ToArray().ShouldAllBe(b => b == 0);
        RawStun.Parse(builder.Written.ToArray()).TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> value).ShouldBeTrue();
        value.Length.ShouldBe(length);
    }

    [Fact]
    public void NumbersAreBigEndian()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
        {
            b.AddUInt32(StunAttributeType.Priority, 0x6e0001ff);
            b.AddUInt64(StunAttributeType.IceControlled, 0x932ff9b151263b36);
            b.AddEmpty(StunAttributeType.UseCandidate);
        });

        bytes[20..].ShouldBe(Hex.Parse("0024 0004 6e0001ff  8029 0008 932ff9b1 51263b36  0025 0000"));
    }

    [Fact]
    public void WritingPastTheBufferThrows()
    {
        Should.Throw<ArgumentOutOfRangeException>(() =>
        {
            var builder = new StunMessageBuilder(new byte[24], StunMessageType.BindingRequest, RawStun.Id);
            builder.AddUInt32(StunAttributeType.Priority, 1);
        });
    }
}
