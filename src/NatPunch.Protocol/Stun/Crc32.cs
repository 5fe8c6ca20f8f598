using System.Buffers.Binary;

namespace NatPunch.Protocol.Stun;

/// <summary>
/// CRC-32 with the reflected polynomial 0xEDB88320, as used by Ethernet, zlib and STUN's
/// FINGERPRINT. Slicing-by-8 tables keep it cheap on the server's hot path.
/// </summary>
internal static class Crc32
{
    public const uint Initial = 0xFFFFFFFF;

    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var table = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }
            table[i] = c;
        }
        for (int i = 0; i < 256; i++)
        {
            for (int t = 1; t < 8; t++)
            {
                uint previous = table[(t - 1) * 256 + i];
                table[t * 256 + i] = (previous >> 8) ^ table[previous & 0xFF];
            }
        }
        return table;
    }

    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            // One 64-bit load instead of eight byte loads; the byte order CRC-32 wants is little-endian.
            crc = Append(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        uint[] table = Table;
        foreach (byte b in data)
        {
            crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF];
        }
        return crc;
    }

    /// <summary>Appends the 8 bytes of <paramref name="chunk"/>, read little-endian (first byte lowest).</summary>
    public static uint Append(uint crc, ulong chunk)
    {
        uint[] table = Table;
        uint one = (uint)chunk ^ crc;
        uint two = (uint)(chunk >> 32);
        return table[7 * 256 + (one & 0xFF)] ^ table[6 * 256 + ((one >> 8) & 0xFF)]
            ^ table[5 * 256 + ((one >> 16) & 0xFF)] ^ table[4 * 256 + (one >> 24)]
            ^ table[3 * 256 + (two & 0xFF)] ^ table[2 * 256 + ((two >> 8) & 0xFF)]
            ^ table[1 * 256 + ((two >> 16) & 0xFF)] ^ table[two >> 24];
    }

    public static uint Finish(uint crc) => ~crc;
}
