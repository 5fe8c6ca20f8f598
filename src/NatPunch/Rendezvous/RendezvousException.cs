using NatPunch.Protocol.Rendezvous;

namespace NatPunch.Rendezvous;

/// <summary>
/// The rendezvous service refused a request or could not be reached. <see cref="Code"/> is one of
/// <see cref="RendezvousErrorCodes"/>, or "unreachable" / "timeout" for failures on our side.
/// </summary>
public sealed class RendezvousException(string code, string message) : Exception(message)
{
    public const string Unreachable = "unreachable";
    public const string Timeout = "timeout";

    public string Code { get; } = code;
}
