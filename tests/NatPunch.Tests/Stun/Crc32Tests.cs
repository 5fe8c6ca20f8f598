using System.Text;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>The slicing-by-8 CRC-32 behind FINGERPRINT, against the standard check value and a byte-at-a-time reference.</summary>
public class Crc32Tests
{
    private static uint Crc(ReadOnlySpan<byte> data) => Crc32.Finish(Crc32.Append(Crc32.Initial, data));

    [Fact]
    public void CheckValueOf123456789IsCbf43926()
    {
        Crc("123456789"u8).ShouldBe(0xCBF43926u);
    }

    [Fact]
    public void EmptyInputGivesZero()
    {
        Crc([]).ShouldBe(0u);
    }

    [Fact]
    public void EveryLengthAroundTheEightByteSlicesMatchesTheReference()
    {
        byte[] data = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 3)));
        for (int length = 0; length <= data.Length; length++)
        {
            Crc(data.AsSpan(0, length)).ShouldBe(StunInvariants.ReferenceCrc32(data.AsSpan(0, length)), $"length {length}");
        }
    }

    [Fact]
    public void AppendingInPiecesEqualsAppendingAtOnce()
    {
        byte[] data = Enumerable.Range(0, 100).Select(i => (byte)(i * 37)).ToArray();
        for (int cut = 0; cut <= data.Length; cut += 7)
        {
            uint pieces = Crc32.Finish(Crc32.Append(Crc32.Append(Crc32.Initial, data.AsSpan(0, cut)), data.AsSpan(cut)));
            pieces.ShouldBe(Crc(data), $"cut at {cut}");
        }
    }
}
