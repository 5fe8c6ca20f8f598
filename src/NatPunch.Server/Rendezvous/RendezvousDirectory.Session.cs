using NatPunch.Protocol.Rendezvous;

namespace NatPunch.Server.Rendezvous;

public sealed partial class RendezvousDirectory
{
    /// <summary>
    /// Two peers introduced to each other, by name. An end whose connection ended is away (no client)
    /// until it registers again and resumes the session, or until <see cref="ResumeBy"/>; messages
    /// for it are held meanwhile, so that nothing sent while it reconnects is lost.
    /// </summary>
    private sealed class Session(string id, string firstName, string secondName)
    {
        // A peer sends a few candidates and a restart offer every 3 s while the other is away: enough.
        private const int MaxHeld = 32;

        private readonly string[] _names = [firstName, secondName];
        private readonly Client?[] _clients = new Client?[2];
        private readonly Queue<RendezvousMessage> _heldForAway = new();
        // Per end: the last link of its resume chain we know, once it told us one (null: resuming needs no proof yet).
        private readonly string?[] _anchors = new string?[2];

        public string Id { get; } = id;

        /// <summary>Set while an end is away: the time by which it must be back.</summary>
        public TimeSpan? ResumeBy { get; private set; }

        /// <summary>Why the away end left (its connection's end).</summary>
        public string? AwayReason { get; private set; }

        public static Session Between(string id, Client first, Client second)
        {
            var session = new Session(id, first.Name!, second.Name!);
            session._clients[0] = first;
            session._clients[1] = second;
            return session;
        }

        /// <summary>A session the server forgot (it restarted), re-created by one end; the other is away until it resumes too.</summary>
        public static Session AwaitingPeer(string id, Client first, string peer, string? proof, TimeSpan resumeBy)
        {
            var session = new Session(id, first.Name!, peer);
            session._clients[0] = first;
            session._anchors[0] = AnchorFrom(proof); // a server that restarted can only take the first proof on trust
            session.ResumeBy = resumeBy;
            session.AwayReason = "it has not registered again since the server restarted";
            return session;
        }

        public bool Has(Client client) => _clients[0] == client || _clients[1] == client;

        /// <summary>The end that is connected while the other is away (never both away: such a session is forgotten).</summary>
        public Client? Present => _clients[0] ?? _clients[1];

        /// <summary>The other end's client, or null while it is away.</summary>
        public Client? Other(Client client) => _clients[0] == client ? _clients[1] : _clients[0];

        /// <summary>The one end that is away, or -1.</summary>
        private int AwayEnd => _clients[0] is null ? 0 : _clients[1] is null ? 1 : -1;

        public string? AwayName => AwayEnd is var end and >= 0 ? _names[end] : null;

        public void Leave(Client client, TimeSpan resumeBy, string reason)
        {
            _clients[_clients[0] == client ? 0 : 1] = null;
            ResumeBy = resumeBy;
            AwayReason = reason;
        }

        /// <summary>
        /// Puts <paramref name="client"/> back as the away end, if that end is <paramref name="name"/> and the
        /// other is <paramref name="peer"/>: nobody else can take a session's place. Returns what was held for it.
        /// </summary>
        public bool TryResume(Client client, string name, string peer, string? proof, out IReadOnlyCollection<RendezvousMessage> held)
        {
            held = [];
            int end = AwayEnd;
            if (end < 0 || _names[end] != name || _names[1 - end] != peer)
            {
                return false;
            }
            if (_anchors[end] is { } anchor && (proof is null || !ResumeChain.Verifies(proof, anchor)))
            {
                return false; // not the end that was in the session: it alone has the chain's next link
            }
            _anchors[end] = AnchorFrom(proof) ?? _anchors[end];
            _clients[end] = client;
            ResumeBy = null;
            AwayReason = null;
            held = [.. _heldForAway];
            _heldForAway.Clear();
            return true;
        }

        /// <summary>The first well-formed anchor an end tells counts; later ones (anyone's replay) change nothing.</summary>
        public void SetAnchor(Client client, string anchor)
        {
            int end = _clients[0] == client ? 0 : 1;
            _anchors[end] ??= AnchorFrom(anchor);
        }

        /// <summary>A link as an anchor to keep, or null for anything that is not one (nothing large is kept).</summary>
        private static string? AnchorFrom(string? link) => ResumeChain.IsWellFormed(link) ? link : null;

        /// <summary>A message for the away end, delivered when it is back (the oldest go first when too many wait).</summary>
        public void Hold(RendezvousMessage message)
        {
            if (_heldForAway.Count == MaxHeld)
            {
                _heldForAway.Dequeue();
            }
            _heldForAway.Enqueue(message);
        }
    }
}
