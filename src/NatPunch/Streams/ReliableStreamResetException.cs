namespace NatPunch.Streams;

/// <summary>
/// The stream was reset: by the peer, by <see cref="ReliableStream.Abort(StreamResetCode, string?)"/>,
/// because the peer stopped answering, or because the path below failed. Data not yet acknowledged
/// may not have been delivered.
/// </summary>
public sealed class ReliableStreamResetException : IOException
{
    public ReliableStreamResetException(uint code, string reason, bool byPeer, Exception? innerException = null)
        : base(Describe(code, reason, byPeer), innerException)
    {
        Code = code;
        Reason = reason;
        ByPeer = byPeer;
    }

    /// <summary>The reset code (<see cref="StreamResetCode"/> or an application's own).</summary>
    public uint Code { get; }

    public string Reason { get; }

    /// <summary>The peer sent the reset (rather than this side).</summary>
    public bool ByPeer { get; }

    private static string Describe(uint code, string reason, bool byPeer)
    {
        string name = Enum.IsDefined(typeof(StreamResetCode), code) ? ((StreamResetCode)code).ToString() : code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string who = byPeer ? "The peer reset the stream" : "The stream was reset";
        return reason.Length > 0 ? $"{who} ({name}): {reason}" : $"{who} ({name}).";
    }
}
