using System.Net;
using System.Text;
using NatPunch.Protocol.Stun;

namespace NatPunch.Stun;

/// <summary>
/// A Binding request to send (RFC 8489 §3.1), with the RFC 5780 §7 attributes a NAT behaviour
/// test needs: CHANGE-REQUEST, RESPONSE-PORT and PADDING.
/// </summary>
/// <param name="Destination">Where to send it: any address of the socket's family.</param>
public sealed record StunRequest(IPEndPoint Destination)
{
    /// <summary>
    /// PADDING that makes a request with FINGERPRINT 1500 bytes on the wire over IPv4:
    /// 1500 − 20 (IPv4) − 8 (UDP) − 20 (STUN header) − 4 (PADDING header) − 8 (FINGERPRINT).
    /// </summary>
    public const int FullMtuPadding = 1440;

    /// <summary>
    /// CHANGE-REQUEST (RFC 5780 §7.2): ask the server to answer from its other IP and/or port.
    /// Null leaves the attribute out.
    /// </summary>
    public ChangeRequestFlags? ChangeRequest { get; init; }

    /// <summary>RESPONSE-PORT (RFC 5780 §7.5): ask the server to answer to this port of the source IP.</summary>
    public int? ResponsePort { get; init; }

    /// <summary>
    /// Length of a PADDING attribute (RFC 5780 §7.6), rounded up to a multiple of 4; 0 for none.
    /// It may not be combined with <see cref="ResponsePort"/> (RFC 5780 §7.6).
    /// </summary>
    public int PaddingLength { get; init; }

    /// <summary>The transaction id to use; a fresh random one (RFC 8489 §5) when null.</summary>
    public TransactionId? TransactionId { get; init; }

    /// <summary>SOFTWARE (RFC 8489 §14.14), or null to leave it out.</summary>
    public string? Software { get; init; }

    /// <summary>Append FINGERPRINT (RFC 8489 §14.7), which helps demultiplexing. On by default.</summary>
    public bool Fingerprint { get; init; } = true;

    /// <summary>Encodes the request with the transaction id <paramref name="id"/>.</summary>
    /// <exception cref="ArgumentException">Invalid combination of attributes (a programming error).</exception>
    public byte[] Encode(TransactionId id)
    {
        if (PaddingLength > 0 && ResponsePort is not null)
        {
            throw new ArgumentException("PADDING and RESPONSE-PORT cannot be combined (RFC 5780 §7.6).");
        }
        if (ResponsePort is < 1 or > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(ResponsePort), ResponsePort, "A port from 1 to 65535.");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(PaddingLength, nameof(PaddingLength));
        int padding = (PaddingLength + 3) & ~3;
        // The builder reserves the worst-case UTF-8 length of SOFTWARE before it trims it.
        int software = Software is null ? 0 : StunConstants.AttributeHeaderLength + ((Encoding.UTF8.GetMaxByteCount(Software.Length) + 3) & ~3);
        int length = StunConstants.HeaderLength
                     + (ChangeRequest is null ? 0 : 8)
                     + (ResponsePort is null ? 0 : 8)
                     + software
                     + (padding == 0 ? 0 : StunConstants.AttributeHeaderLength + padding)
                     + (Fingerprint ? 8 : 0);
        if (length - StunConstants.HeaderLength > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(PaddingLength), PaddingLength, "The request would exceed 65535 bytes of attributes.");
        }

        byte[] buffer = new byte[length];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, id);
        if (ChangeRequest is { } flags)
        {
            builder.AddUInt32(StunAttributeType.ChangeRequest, (uint)flags);
        }
        if (ResponsePort is { } port)
        {
            // RFC 5780 §7.5: a 16-bit port followed by 2 bytes of padding.
            Span<byte> value = builder.AddAttribute(StunAttributeType.ResponsePort, 4);
            value[0] = (byte)(port >> 8);
            value[1] = (byte)port;
            value[2] = 0;
            value[3] = 0;
        }
        if (Software is not null)
        {
            builder.AddString(StunAttributeType.Software, Software);
        }
        if (padding > 0)
        {
            builder.AddAttribute(StunAttributeType.Padding, padding).Clear();
        }
        if (Fingerprint)
        {
            builder.AddFingerprint();
        }
        return builder.Length == buffer.Length ? buffer : buffer[..builder.Length];
    }
}
