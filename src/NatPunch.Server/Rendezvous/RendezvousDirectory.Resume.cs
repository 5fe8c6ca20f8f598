using NatPunch.Protocol.Rendezvous;

namespace NatPunch.Server.Rendezvous;

/// <summary>
/// Sessions survive a lost connection: an end whose connection ends is away for
/// <see cref="RendezvousOptions.ResumeWindow"/>, and comes back by registering with
/// <see cref="RegisterMessage.Resume"/> (its session and peer). A restarted server has forgotten every
/// session: the first end to resume re-creates it and the other end is away until it resumes too.
/// Only when an end stays away does its peer get <see cref="PeerGoneMessage"/>.
/// </summary>
public sealed partial class RendezvousDirectory
{
    /// <summary><paramref name="client"/>'s connection ended: its end of the session is away, or the session ends if both are.</summary>
    private void LeaveSession(Client client, string sessionId, string reason, TimeSpan now)
    {
        if (!_sessions.TryGetValue(sessionId, out Session? session))
        {
            return;
        }
        if (session.Other(client) is null)
        {
            _sessions.Remove(sessionId); // nobody left to resume with
            return;
        }
        session.Leave(client, now + _options.ResumeWindow, reason);
    }

    /// <summary>A registered client asks to be put back into a session (registration rules, token included, have passed).</summary>
    private void Resume(Client client, ResumeSession resume, TimeSpan now)
    {
        string name = client.Name!;
        if (resume.Peer == name)
        {
            Send(client, new ErrorMessage(RendezvousErrorCodes.BadRequest, "a peer cannot resume a session with itself", resume.Session));
            return;
        }
        if (!_sessions.TryGetValue(resume.Session, out Session? session))
        {
            session = Session.AwaitingPeer(resume.Session, client, resume.Peer, resume.Proof, now + _options.ResumeWindow);
            _sessions[resume.Session] = session;
            client.Sessions.Add(resume.Session);
            return;
        }
        if (!session.TryResume(client, name, resume.Peer, resume.Proof, out IReadOnlyCollection<RendezvousMessage> held))
        {
            // Not this session's away end under its own name, with its own peer and the next link of
            // its resume chain: a stranger, or a stale claim.
            Send(client, new ErrorMessage(RendezvousErrorCodes.PeerGone, "that session cannot be resumed", resume.Session));
            return;
        }
        client.Sessions.Add(resume.Session);
        foreach (RendezvousMessage message in held)
        {
            Send(client, message);
        }
    }

    /// <summary>An end did not come back in time: the session ends, and its peer is told.</summary>
    private void EndSessionsNotResumed(TimeSpan now)
    {
        foreach (Session session in _sessions.Values.Where(s => s.ResumeBy <= now).ToList())
        {
            _sessions.Remove(session.Id);
            if (session.Present is { } client)
            {
                client.Sessions.Remove(session.Id);
                Send(client, new PeerGoneMessage(session.Id, session.AwayName ?? "?",
                    $"{session.AwayReason}, and it did not come back within {_options.ResumeWindow.TotalSeconds:0} s"));
            }
        }
    }
}
