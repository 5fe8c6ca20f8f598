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
        uint[] table = Table;
        while (data.Length >= 8)
        {
            uint one = (uint)(data[0] | data[1] << 8 | data[2] << 16 | data[3] << 24) ^ crc;
            uint two = (uint)(data[4] | data[5] << 8 | data[6] << 16 | data[7] << 24);
            crc = table[7 * 256 + (one & 0xFF)] ^ table[6 * 256 + ((one >> 8) & 0xFF)]
                ^ table[5 * 256 + ((one >> 16) & 0xFF)] ^ table[4 * 256 + (one >> 24)]
                ^ table[3 * 256 + (two & 0xFF)] ^ table[2 * 256 + ((two >> 8) & 0xFF)]
                ^ table[1 * 256 + ((two >> 16) & 0xFF)] ^ table[two >> 24];
            data = data[8..];
        }
        foreach (byte b in data)
        {
            crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF];
        }
        return crc;
    }

    public static uint Finish(uint crc) => ~crc;
}
