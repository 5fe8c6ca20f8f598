using System.Net;

namespace NatPunch;

/// <summary>Which path carries the data at the moment.</summary>
public sealed record PeerPath(bool Direct, string Transport, IPEndPoint Local, IPEndPoint Remote, string CandidateTypes)
{
    public string Kind => Direct ? "direct" : "relay";
}
