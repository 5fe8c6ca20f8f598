using System.Threading.Channels;
using NatPunch.Protocol.Rendezvous;

namespace NatPunch.Rendezvous;

/// <summary>
/// What a session needs of the rendezvous once it is introduced: the peer's messages for it, a way
/// to send it messages, and the resume protection of its end. <see cref="RendezvousClient"/> implements
/// it over the rendezvous server; a test can put an in-memory pair in its place.
/// </summary>
internal interface ISignalingChannel
{
    /// <summary>The session's messages in order: candidates, restarts, sealed boxes, peer-gone, errors.</summary>
    ChannelReader<RendezvousMessage> SessionMessages(string session);

    /// <summary>Sends a message to the session's peer; kept and sent later while the channel is reconnecting.</summary>
    Task SendSessionMessageAsync(RendezvousMessage message, CancellationToken cancellationToken);

    /// <summary>From now on only this end (it has the session keys that made <paramref name="seed"/>) can resume the session.</summary>
    Task ProtectResumeAsync(string session, byte[] seed, CancellationToken cancellationToken);

    /// <summary>The session is over for us: no more resuming it, its messages are dropped.</summary>
    void EndSession(string session);
}
