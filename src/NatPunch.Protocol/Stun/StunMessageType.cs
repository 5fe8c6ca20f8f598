namespace NatPunch.Protocol.Stun;

/// <summary>
/// A message type: a 12-bit method interleaved with a 2-bit class in the 14 low bits of the
/// first header word (RFC 8489 §5, figure 3: M11..M7 C1 M6..M4 C0 M3..M0).
/// </summary>
public readonly record struct StunMessageType(StunMethod Method, StunClass Class)
{
    public static readonly StunMessageType BindingRequest = new(StunMethod.Binding, StunClass.Request);
    public static readonly StunMessageType BindingSuccess = new(StunMethod.Binding, StunClass.SuccessResponse);
    public static readonly StunMessageType BindingError = new(StunMethod.Binding, StunClass.ErrorResponse);
    public static readonly StunMessageType BindingIndication = new(StunMethod.Binding, StunClass.Indication);

    /// <summary>The 16-bit wire value.</summary>
    public ushort Value
    {
        get
        {
            int m = (int)Method;
            int c = (int)Class;
            return (ushort)((m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2)
                            | ((c & 0b01) << 4) | ((c & 0b10) << 7));
        }
    }

    /// <summary>Decodes a 16-bit wire value; the two top bits must already be known to be zero.</summary>
    public static StunMessageType FromValue(ushort value)
    {
        int m = (value & 0x000F) | ((value & 0x00E0) >> 1) | ((value & 0x3E00) >> 2);
        int c = ((value & 0x0010) >> 4) | ((value & 0x0100) >> 7);
        return new StunMessageType((StunMethod)m, (StunClass)c);
    }

    /// <summary>The success response type that answers this request's method.</summary>
    public StunMessageType ToSuccess() => this with { Class = StunClass.SuccessResponse };

    /// <summary>The error response type that answers this request's method.</summary>
    public StunMessageType ToError() => this with { Class = StunClass.ErrorResponse };

    public override string ToString() => $"{Method} {Class}";
}
