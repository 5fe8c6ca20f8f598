using System.Text.Json.Serialization;

namespace NatPunch.Protocol.Rendezvous;

/// <summary>
/// A rendezvous protocol message; the JSON "type" property selects the kind
/// (docs/rendezvous-protocol.md lists every message and who sends it).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization)]
[JsonDerivedType(typeof(RegisterMessage), "register")]
[JsonDerivedType(typeof(RegisteredMessage), "registered")]
[JsonDerivedType(typeof(GrantMessage), "grant")]
[JsonDerivedType(typeof(UpdateOfferMessage), "update")]
[JsonDerivedType(typeof(ConnectMessage), "connect")]
[JsonDerivedType(typeof(IntroduceMessage), "introduce")]
[JsonDerivedType(typeof(CandidateMessage), "candidate")]
[JsonDerivedType(typeof(RestartMessage), "restart")]
[JsonDerivedType(typeof(ResumeMessage), "resume")]
[JsonDerivedType(typeof(ResumeKeyMessage), "resume-key")]
[JsonDerivedType(typeof(SealedSignalMessage), "sealed")]
[JsonDerivedType(typeof(PeerGoneMessage), "peer-gone")]
[JsonDerivedType(typeof(PingMessage), "ping")]
[JsonDerivedType(typeof(PongMessage), "pong")]
[JsonDerivedType(typeof(ErrorMessage), "error")]
public abstract record RendezvousMessage;

/// <summary>
/// Client → server, first message: take this name. The offer lets peers reach us at once.
/// <paramref name="Instance"/> is random per client process: the same instance registering again
/// (after a reconnect the server has not noticed yet) replaces its old connection.
/// <paramref name="Resume"/>, sent by a client that lost its connection during a session, asks to be
/// put back into that session (a restarted server re-creates it once both ends are back).
/// </summary>
public sealed record RegisterMessage(string Name, string? Token, PeerOffer? Offer, string? Instance, string? Software,
    ResumeSession? Resume = null) : RendezvousMessage;

/// <summary>
/// The session a re-registering client was in: its id and the other end's name. Both ends must name
/// the same session and each other. Once the end has told the server its <see cref="ResumeKeyMessage"/>,
/// <paramref name="Proof"/> must be the next link of its <see cref="ResumeChain"/>.
/// </summary>
public sealed record ResumeSession(string Session, string Peer, string? Proof = null);

/// <summary>
/// Client → server, after <see cref="RegisteredMessage"/>: put me back into one more session. A node
/// in several sessions resumes the first in <see cref="RegisterMessage.Resume"/> and the rest with this.
/// </summary>
public sealed record ResumeMessage(string Session, string Peer, string? Proof = null) : RendezvousMessage;

/// <summary>
/// Client → server, once its session has keys: the anchor of the <see cref="ResumeChain"/> that from
/// now on proves a resume of this end of <paramref name="Session"/>. The first one per end counts.
/// </summary>
public sealed record ResumeKeyMessage(string Session, string Anchor) : RendezvousMessage;

/// <summary>
/// Server → client: the name is ours; <paramref name="Observed"/> is our address as the server sees it.
/// <paramref name="Turn"/>, when the server runs a TURN relay, is a credential for it.
/// </summary>
public sealed record RegisteredMessage(string Name, string Observed, TurnGrant? Turn = null) : RendezvousMessage;

/// <summary>
/// Short-lived long-term credentials (RFC 8489 §9.2) for the server's own TURN relay, on the same
/// host and port as the rendezvous, over UDP and TCP. Minted with the TURN REST API scheme: the
/// username is <c>EXPIRY:NAME</c>, valid for <paramref name="TtlS"/> seconds from the grant.
/// </summary>
public sealed record TurnGrant(string Username, string Password, int TtlS);

/// <summary>
/// Server → client: a fresh relay credential before the one of <c>registered</c> (or the last
/// <c>grant</c>) expires, sent when half its lifetime has passed. Allocations made with an older one
/// keep working; new ones need this. Older clients ignore it (an unknown type).
/// </summary>
public sealed record GrantMessage(TurnGrant Turn) : RendezvousMessage;

/// <summary>Client → server: replace the registered offer (new candidates, or fresh credentials after a session).</summary>
public sealed record UpdateOfferMessage(PeerOffer Offer) : RendezvousMessage;

/// <summary>Client → server: introduce me to <paramref name="Peer"/>, waiting up to <paramref name="WaitMs"/> for it to register.</summary>
public sealed record ConnectMessage(string Peer, int WaitMs, PeerOffer Offer) : RendezvousMessage;

/// <summary>
/// Server → both clients: a session between you and <paramref name="Peer"/>. Start sending
/// checks <paramref name="StartInMs"/> after receipt, so that both sides start together.
/// </summary>
public sealed record IntroduceMessage(string Session, string Peer, IceRole Role, PeerOffer Offer, string Observed, int StartInMs) : RendezvousMessage;

/// <summary>Either direction, relayed by the server: one more candidate for a session (trickle).</summary>
public sealed record CandidateMessage(string Session, CandidateInfo Candidate) : RendezvousMessage;

/// <summary>
/// Either direction, relayed by the server: new credentials and candidates for a session whose path died.
/// <paramref name="Round"/> numbers the restarts of a session (1, 2, ...; the introduction's agent is
/// round 0), so that a peer can tell a new restart (a higher round: join it) from the answer to its
/// own (the same round) and from a stale offer (a lower one). 0 = sent by a version without rounds.
/// </summary>
public sealed record RestartMessage(string Session, PeerOffer Offer, int Round = 0) : RendezvousMessage;

/// <summary>
/// Either direction, relayed by the server like <see cref="CandidateMessage"/>: a message between the
/// peers of a session that has keys (a <see cref="RestartMessage"/> or <see cref="CandidateMessage"/>'s
/// JSON), sealed end to end so that the server can neither read nor forge it. <paramref name="Box"/> is
/// base64url; only the peers can open it.
/// </summary>
public sealed record SealedSignalMessage(string Session, string Box) : RendezvousMessage;

/// <summary>
/// Server → client: the peer of a session left: its connection ended and it did not come back
/// (registering with <see cref="RegisterMessage.Resume"/>) within the server's resume window.
/// </summary>
public sealed record PeerGoneMessage(string Session, string Peer, string Reason) : RendezvousMessage;

/// <summary>Either direction: liveness and round-trip time; answered with a <see cref="PongMessage"/>.</summary>
public sealed record PingMessage(long Id) : RendezvousMessage;

public sealed record PongMessage(long Id) : RendezvousMessage;

/// <summary>
/// Server → client: a request failed. <paramref name="Code"/> is one of <see cref="RendezvousErrorCodes"/>.
/// <paramref name="Session"/> names the session a session message was for; <paramref name="Peer"/> the
/// peer a failed <see cref="ConnectMessage"/> asked for (a client may have several connects under way).
/// </summary>
public sealed record ErrorMessage(string Code, string Message, string? Session = null, string? Peer = null) : RendezvousMessage;

/// <summary>ICE role of a peer in a session (RFC 8445 §6.1.1): the side that asked to connect controls.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<IceRole>))]
public enum IceRole
{
    [JsonStringEnumMemberName("controlling")]
    Controlling,
    [JsonStringEnumMemberName("controlled")]
    Controlled,
}

/// <summary>What a peer tells the other to reach it: ICE short-term credentials and candidates (RFC 8445 §5.3).</summary>
/// <param name="Mapping">
/// What the peer's STUN tests found of its NAT's mapping: "fixed" (one public address for every
/// destination), "varies" (another per destination: a symmetric NAT), or absent when unknown.
/// </param>
/// <param name="PortStep">
/// With "varies": the public port toward the STUN server's other address minus the one toward its
/// primary address, when both came from one public IP. A NAT that allocates ports in sequence (or
/// preserves the port and takes the next free one) shows a small step, and the port toward the
/// next destination is likely one more step on: the peer probes those ports first.
/// </param>
public sealed record PeerOffer(string Ufrag, string Pwd, IReadOnlyList<CandidateInfo> Candidates, string? Mapping = null, int? PortStep = null)
{
    public const string MappingFixed = "fixed";
    public const string MappingVariesName = "varies";

    /// <summary>The wire value for "does the mapping vary": "varies", "fixed", or null when unknown.</summary>
    public static string? MappingName(bool? varies) => varies switch
    {
        true => MappingVariesName,
        false => MappingFixed,
        null => null,
    };

    /// <summary><see cref="Mapping"/> read back; anything else than the two values is unknown.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool? MappingVaries => Mapping switch
    {
        MappingVariesName => true,
        MappingFixed => false,
        _ => null,
    };
}

/// <summary>One transport address a peer may be reached at (RFC 8445 §5.1).</summary>
/// <param name="Type">"host", "srflx", "prflx" or "relay".</param>
/// <param name="Address">"IP:PORT" ("[IPv6]:PORT" for IPv6).</param>
/// <param name="Related">For srflx and relay, the base it was derived from.</param>
/// <param name="Transport">"tcp" for a TCP candidate (simultaneous open, docs/tcp-punching.md); absent for UDP.</param>
public sealed record CandidateInfo(string Type, string Address, uint Priority, string Foundation, string? Related = null, string? Transport = null)
{
    public const string TransportTcp = "tcp";
}

/// <summary>The values of <see cref="ErrorMessage.Code"/>.</summary>
public static class RendezvousErrorCodes
{
    public const string Unauthorized = "unauthorized";
    public const string NameTaken = "name-taken";
    public const string PeerUnknown = "peer-unknown";
    public const string PeerGone = "peer-gone";
    public const string PeerBusy = "peer-busy";
    public const string NotRegistered = "not-registered";
    public const string BadRequest = "bad-request";
}
